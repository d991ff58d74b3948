"""Tests of the browser QA harness itself, against a bare Starlette app (no gate).

If these fail, gate tests built on the harness cannot be trusted, so they pin
down what the recorder sees, what the stubs do and how Chromium is found.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consent_gate._types import Receive, Scope, Send
from consent_gate.qa import browser as qa_browser
from consent_gate.qa import chromium_executable, serve
from consent_gate.qa.recorder import TRANSPARENT_GIF, TrackerRecorder

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import ContextFactory, LiveServer

GTM = "https://www.googletagmanager.com/gtag/js?id=G-X"
PIXEL = "https://www.facebook.com/tr?id=1&ev=PageView"
EMBED = "https://www.youtube.com/embed/abc"

PAGE = f"""<!doctype html>
<html><head><title>harness</title>
<link rel="stylesheet" href="/static/site.css">
<script src="/static/app.js"></script>
<script src="{GTM}"></script>
</head><body>
<h1>bare page</h1>
<img id="pixel" src="{PIXEL.replace("&", "&amp;")}" width="1" height="1" alt="">
<iframe src="{EMBED}"></iframe>
</body></html>
"""


class SeenPaths:
    """ASGI wrapper remembering which paths reached the first-party server."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)


def make_site(body: str = PAGE) -> SeenPaths:
    async def page(request: Request) -> Response:
        return HTMLResponse(body)

    async def app_js(request: Request) -> Response:
        return Response("window.__firstParty = true;", media_type="application/javascript")

    async def site_css(request: Request) -> Response:
        return Response("h1 { color: teal; }", media_type="text/css")

    async def collect(request: Request) -> Response:
        return Response(status_code=204)

    return SeenPaths(
        Starlette(
            routes=[
                Route("/", page),
                Route("/static/app.js", app_js),
                Route("/static/site.css", site_css),
                Route("/collect", collect, methods=["POST"]),
            ]
        )
    )


def test_records_exactly_the_third_party_requests(
    live: LiveServer, make_context: ContextFactory
) -> None:
    site = make_site()
    base_url = live(site)
    context, recorder = make_context(base_url)
    page = context.new_page()

    page.goto("/")

    assert recorder.hosts() == {"www.googletagmanager.com", "www.facebook.com", "www.youtube.com"}
    by_host = {hit.host: hit for hit in recorder.hits}
    assert len(recorder.hits) == 3
    assert by_host["www.googletagmanager.com"].url == GTM
    assert by_host["www.googletagmanager.com"].resource_type == "script"
    assert by_host["www.facebook.com"].url == PIXEL
    assert by_host["www.facebook.com"].resource_type == "image"
    assert by_host["www.youtube.com"].resource_type == "document"
    for hit in recorder.hits:
        assert hit.method == "GET"
        assert hit.post_data is None
        assert hit.page_url == f"{base_url}/"
        assert hit.time > 0
    # First-party resources were really served and never recorded.
    assert {"/", "/static/app.js", "/static/site.css"} <= set(site.paths)
    assert page.evaluate("window.__firstParty") is True
    assert not [hit for hit in recorder.hits if hit.url.startswith(base_url)]


def test_stubs_behave_like_the_real_resources(
    live: LiveServer, make_context: ContextFactory
) -> None:
    base_url = live(make_site())
    context, recorder = make_context(
        base_url,
        scripts={"googletagmanager.com": "document.cookie='_ga=GA1.1.1;path=/'"},
        cookies={"www.googletagmanager.com": ["_gid=GA1.2.3; path=/"]},
    )
    page = context.new_page()

    page.goto("/")

    assert page.evaluate("window.__cgTrackerRuns") == [GTM]
    cookies = {c["name"]: c["value"] for c in context.cookies(base_url)}
    assert cookies == {"_ga": "GA1.1.1", "_gid": "GA1.2.3"}
    # The pixel decoded as a real 1x1 image and the iframe got the stub page.
    assert page.evaluate("[pixel.complete, pixel.naturalWidth, pixel.naturalHeight]") == [
        True,
        1,
        1,
    ]
    frame = next(f for f in page.frames if f.url == EMBED)
    assert frame.inner_text("body") == "stub for www.youtube.com"
    assert len(recorder.hits_to("youtube.com")) == 1


def test_without_javascript_scripts_do_not_run_but_pixels_load(
    live: LiveServer, make_context: ContextFactory
) -> None:
    base_url = live(make_site())
    context, recorder = make_context(
        base_url,
        javascript_enabled=False,
        scripts={"googletagmanager.com": "document.cookie='_ga=GA1.1.1;path=/'"},
    )
    page = context.new_page()

    page.goto("/")

    assert [hit.url for hit in recorder.hits_to("facebook.com")] == [PIXEL]
    assert recorder.hits_to("youtube.com")
    assert context.cookies(base_url) == []


def test_late_fetch_beacon_and_websocket_are_recorded(
    live: LiveServer, make_context: ContextFactory
) -> None:
    base_url = live(make_site("<!doctype html><title>late</title>"))
    context, recorder = make_context(base_url)
    page = context.new_page()
    page.goto("/")
    assert recorder.hits == []

    status = page.evaluate(
        """async () => {
            const r = await fetch("https://www.google-analytics.com/g/collect?v=2", {
                method: "POST", body: "en=page_view", credentials: "include"});
            navigator.sendBeacon("https://analytics.tiktok.com/api/v2/pixel", "beacon-body");
            new WebSocket("wss://ws.hotjar.com/api/v2/client/ws");
            await fetch("/collect", {method: "POST", body: "first-party"});
            return r.status;
        }"""
    )

    assert status == 204  # CORS headers on the stub let the page read the answer
    ga = recorder.wait_for("google-analytics.com")
    assert (ga.method, ga.resource_type, ga.post_data) == ("POST", "fetch", "en=page_view")
    beacon = recorder.wait_for("tiktok.com")
    assert beacon.method == "POST"
    assert beacon.post_data == "beacon-body"
    ws = recorder.wait_for("hotjar.com")
    assert ws.resource_type == "websocket"
    assert recorder.hosts() == {
        "www.google-analytics.com",
        "analytics.tiktok.com",
        "ws.hotjar.com",
    }

    recorder.clear()
    assert recorder.hits == []
    assert recorder.hosts() == set()


def test_aborted_requests_still_count(live: LiveServer, make_context: ContextFactory) -> None:
    base_url = live(make_site())
    context, recorder = make_context(base_url)
    # Routes added later take precedence: this one makes the pixel fail outright.
    context.route("https://www.facebook.com/**", lambda route: route.abort())
    page = context.new_page()

    page.goto("/")

    assert [hit.url for hit in recorder.hits_to("facebook.com")] == [PIXEL]
    assert page.evaluate("pixel.complete && pixel.naturalWidth === 0")


def test_several_servers_and_port_based_origins(
    live: LiveServer, make_context: ContextFactory
) -> None:
    api = make_site()
    api_url = live(api)
    other_url = live(make_site())
    assert api_url != other_url
    page_html = f'<img src="{api_url}/static/a.gif"><img src="{other_url}/static/b.gif">'
    site_url = live(make_site(page_html))
    context, recorder = make_context(site_url, first_party=[api_url])
    page = context.new_page()

    page.goto("/")

    # Same host, other port = another origin: stubbed unless declared first-party.
    assert [hit.url for hit in recorder.hits] == [f"{other_url}/static/b.gif"]
    assert recorder.hosts() == {"127.0.0.1"}
    assert "/static/a.gif" in api.paths


def test_serve_runs_lifespan_when_asked() -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                events.append(message["type"])
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    with serve(app, lifespan="on") as base_url:
        assert httpx.get(base_url).text == "ok"
        assert events == ["lifespan.startup"]
    assert events == ["lifespan.startup", "lifespan.shutdown"]


def test_recorder_needs_a_first_party_origin() -> None:
    with pytest.raises(ValueError, match="first-party origin"):
        TrackerRecorder(["data:text/plain,hi"])
    recorder = TrackerRecorder(["http://127.0.0.1:8000/some/path"])
    assert not recorder.is_third_party("http://127.0.0.1:8000/x")
    assert recorder.is_third_party("http://127.0.0.1:8001/x")
    assert recorder.is_third_party("https://127.0.0.1:8000/x")
    assert not recorder.is_third_party("ws://127.0.0.1:8000/live")
    assert not recorder.is_third_party("data:image/gif;base64,R0lGOD")
    assert not recorder.is_third_party("http://127.0.0.1:notaport/")
    assert TRANSPARENT_GIF.startswith(b"GIF89a")


# -- chromium_executable() -----------------------------------------------------


@pytest.fixture
def fake_chromium(tmp_path: Path) -> str:
    exe = tmp_path / "my-chromium"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return str(exe)


def test_env_var_wins(monkeypatch: pytest.MonkeyPatch, fake_chromium: str) -> None:
    monkeypatch.setenv("CONSENT_GATE_CHROMIUM", fake_chromium)
    assert chromium_executable() == fake_chromium


def test_env_var_naming_a_missing_file_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = str(tmp_path / "nope")
    monkeypatch.setenv("CONSENT_GATE_CHROMIUM", missing)
    with pytest.raises(RuntimeError, match="CONSENT_GATE_CHROMIUM") as excinfo:
        chromium_executable()
    assert missing in str(excinfo.value)


def test_env_var_naming_a_non_executable_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plain = tmp_path / "chromium.txt"
    plain.write_text("not a program")
    monkeypatch.setenv("CONSENT_GATE_CHROMIUM", str(plain))
    with pytest.raises(RuntimeError, match="not an existing executable"):
        chromium_executable()


def test_bundled_playwright_chromium_is_preferred_to_system(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake_chromium: str
) -> None:
    import json

    import playwright

    browsers_json = Path(playwright.__file__).parent / "driver" / "package" / "browsers.json"
    browsers = json.loads(browsers_json.read_text())["browsers"]
    revision = next(b["revision"] for b in browsers if b["name"] == "chromium-headless-shell")
    marker = tmp_path / f"chromium_headless_shell-{revision}" / "INSTALLATION_COMPLETE"
    marker.parent.mkdir()
    marker.touch()
    monkeypatch.delenv("CONSENT_GATE_CHROMIUM", raising=False)
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    monkeypatch.setattr(qa_browser, "_SYSTEM_PATHS", (fake_chromium,))

    assert chromium_executable() is None
    # A headed launch needs the full build, which is not "installed" here.
    assert chromium_executable(headless=False) == fake_chromium


def test_falls_back_to_path_then_explains_how_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake_chromium: str
) -> None:
    monkeypatch.delenv("CONSENT_GATE_CHROMIUM", raising=False)
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(qa_browser, "_SYSTEM_PATHS", (str(tmp_path / "missing"),))
    monkeypatch.setattr(qa_browser, "_PATH_NAMES", ("my-chromium",))
    monkeypatch.setenv("PATH", os.path.dirname(fake_chromium))
    assert chromium_executable() == fake_chromium

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(RuntimeError, match="make chromium") as excinfo:
        chromium_executable()
    assert "apt-get install chromium" in str(excinfo.value)
    assert "CONSENT_GATE_CHROMIUM" in str(excinfo.value)
