"""Third parties nobody classified, in Chromium: `hold` keeps them out until marketing is
allowed and then starts them in place; `allow` lets them load and reports each host."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import httpx
from playwright.sync_api import expect
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consent_gate import ConsentGate, Policy

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import LiveServer, VisitorFactory

TOKEN = "unknown-parties-reports-token"
WIDGET = "https://cdn.widgets.example/widget.js"
FRAME = "https://embed.widgets.example/frame"
PIXEL = "https://px.widgets.example/p?e=pageview"
PHOTO = "https://images.widgets.example/photo.jpg?w=40"
LIBRARY = "https://cdn.jsdelivr.net/npm/tiny-lib@1/dist/tiny.js"
HELD_HOSTS = {"cdn.widgets.example", "embed.widgets.example", "px.widgets.example"}
PAGE = f"""<!doctype html><html lang="en"><head><title>Shop</title>
<script src="{LIBRARY}"></script>
<script src="{WIDGET}"></script>
</head><body><h1>Shop</h1>
<iframe id="frame" src="{FRAME}" title="Widget"></iframe>
<img id="pixel" src="{PIXEL}" alt="">
<img id="photo" src="{PHOTO}" alt="A photo">
<script src="/static/app.js"></script>
</body></html>"""


def site(third_parties: str) -> ConsentGate:
    async def home(request: object) -> HTMLResponse:
        return HTMLResponse(PAGE)

    async def app_js(request: object) -> Response:
        return Response("window.__ownScript = true;", media_type="text/javascript")

    app = Starlette(routes=[Route("/", home), Route("/static/app.js", app_js)])
    unknown = {"third_parties": third_parties}
    policy = Policy.from_dict({"log": {"enabled": False}, "unknown": unknown})
    return ConsentGate(
        app, secret_key="unknown-parties-browser-secret", policy=policy, reports_token=TOKEN
    )


def test_hold_keeps_unknown_parties_out_until_marketing_and_then_starts_them_in_place(
    visit: VisitorFactory, live: LiveServer
) -> None:
    base = live(site("hold"))
    visitor = visit(base)
    visitor.load("/")
    page = visitor.page
    # Before a choice: the unknown script, frame and pixel never reach the network; the
    # benign CDN library, the content image and the site's own script load.
    assert visitor.tracker_hosts() == {"cdn.jsdelivr.net", "images.widgets.example"}
    assert page.evaluate("() => window.__ownScript") is True
    expect(page.locator(f"script[data-cg-src='{WIDGET}']")).to_have_attribute(
        "data-cg-category", "marketing"
    )
    held_frame = page.frame_locator("#frame")
    expect(held_frame.get_by_role("button", name="Allow Marketing and load")).to_be_visible()
    # Accept all: the held elements start in the same page view.
    visitor.mark_page_view()
    visitor.recorder.clear()
    visitor.banner.get_by_role("button", name="Accept all").click()
    for host in HELD_HOSTS:
        visitor.recorder.wait_for(host)
    visitor.assert_same_page_view(page.url)
    # Its request reached the stub a moment before the script ran: give it that moment.
    deadline = time.monotonic() + 10
    while WIDGET not in visitor.tracker_runs() and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert WIDGET in visitor.tracker_runs()


def test_allow_lets_unknown_parties_load_and_reports_each_host_once(
    visit: VisitorFactory, live: LiveServer
) -> None:
    base = live(site("allow"))
    for _ in range(2):
        visitor = visit(base)
        visitor.load("/")
        for host in HELD_HOSTS:
            visitor.recorder.wait_for(host)
        assert WIDGET in visitor.tracker_runs()
    summary = httpx.get(
        f"{base}/consent-gate/reports", headers={"Authorization": f"Bearer {TOKEN}"}
    ).json()
    rows = {r["host"]: r for r in summary["unknown"]["reports"]}
    assert set(rows) == HELD_HOSTS  # not the CDN, the photo or the site itself
    assert {r["decision"] for r in rows.values()} == {"allowed"}
    assert rows["cdn.widgets.example"]["count"] == 2  # one per page view
