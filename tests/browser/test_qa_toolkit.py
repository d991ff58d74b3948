"""The QA toolkit against the demo: the pytest plugin's fixtures and `consent-gate audit`.

The audit runs the demo twice: gated (clean) and as an ungated copy of the same pages, which
must fail and name its trackers.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from demo_site import HitLog, create_site, create_tracker
from demo_site.site import load_policy
from playwright.sync_api import Browser
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from consent_gate import Consent, ConsentGate
from consent_gate._types import Receive, Scope, Send
from consent_gate.policy import Policy
from consent_gate.qa import assert_no_tracking, assert_tracked, tracking_hits
from consent_gate.qa import audit as audit_module
from consent_gate.qa.audit import audit
from consent_gate.qa.banners import detect_banner
from consent_gate.qa.report import to_text

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import LiveServer

SECRET = "qa-toolkit-test"


@dataclass(frozen=True)
class Demo:
    site: str
    tracker: str
    policy: Policy


def _ungated(tracker: str) -> Callable[[Scope, Receive, Send], Any]:
    """The demo's own pages without the gate (they still ask for a consent: say "all")."""
    inner = create_site(tracker_origin=tracker, secret_key=SECRET).app
    policy = load_policy(tracker)
    everything = Consent({c.id: True for c in policy.categories}, policy.revision, id="ungated")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["consent"] = everything
        await inner(scope, receive, send)

    return app


@pytest.fixture
def demo(live: LiveServer) -> Demo:
    tracker = live(create_tracker(HitLog()))
    site = live(create_site(tracker_origin=tracker, secret_key=SECRET))
    return Demo(site, tracker, load_policy(tracker))


@pytest.fixture
def ungated_demo(live: LiveServer) -> Demo:
    tracker = live(create_tracker(HitLog()))
    return Demo(live(_ungated(tracker)), tracker, load_policy(tracker))


# --- the pytest plugin ----------------------------------------------------------------------


def test_plugin_fixtures_prove_the_gate_holds_trackers_until_consent(
    demo: Demo, tracking_context: Any, consent_cookie: Any
) -> None:
    context, _ = tracking_context(demo.site)
    page = context.new_page()
    page.goto("/")
    page.wait_for_load_state("networkidle")
    assert_no_tracking(page, policy=demo.policy)
    with pytest.raises(AssertionError, match="no analytics tracker was requested"):
        assert_tracked(page, "analytics", policy=demo.policy)

    cookie = consent_cookie(analytics=True, marketing=True, secret_key=SECRET, policy=demo.policy)
    context, _ = tracking_context(demo.site, consent=cookie)
    page = context.new_page()
    page.goto("/")
    page.wait_for_load_state("networkidle")
    assert_tracked(page, "analytics", policy=demo.policy)
    assert_tracked(page, "marketing", policy=demo.policy)
    with pytest.raises(AssertionError) as failure:
        assert_no_tracking(page, policy=demo.policy)
    message = str(failure.value)
    assert "tracking request(s) were made, expected none" in message
    assert "googletagmanager.com" in message  # each offending request is listed
    assert f"(page {demo.site}/)" in message


def test_consent_cookie_grants_exactly_the_chosen_categories(
    demo: Demo, tracking_context: Any, consent_cookie: Any
) -> None:
    cookie = consent_cookie(analytics=True, secret_key=SECRET, policy=demo.policy)
    context, recorder = tracking_context(demo.site, consent=cookie)
    page = context.new_page()
    page.goto("/")
    page.wait_for_load_state("networkidle")
    categories = {match.category for _, match in tracking_hits(recorder, policy=demo.policy)}
    assert categories == {"analytics"}
    assert page.locator("#cg-banner").count() == 0  # a decided visitor sees no banner


def test_consent_cookie_refuses_unknown_categories(consent_cookie: Any) -> None:
    with pytest.raises(pytest.UsageError, match="unknown categories ads"):
        consent_cookie(ads=True, secret_key=SECRET)


# --- consent-gate audit ---------------------------------------------------------------------


def test_audit_of_the_gated_demo_is_clean(demo: Demo, browser: Browser) -> None:
    # Third parties are stubbed but the demo's own local tracker, which sets the cookies.
    stubs = {"stub": True, "passthrough": [demo.tracker]}
    report = audit(demo.site + "/", browser, policy=demo.policy, settle=0.5, **stubs)
    assert report.ok, to_text(report)
    before, accepted, rejected = report.passes
    assert before.tracking == []
    assert accepted.clicked
    assert rejected.clicked
    assert {r.category for r in accepted.requests if r.tracks} >= {"analytics", "marketing"}
    assert "_demo_id" in {c.name for c in accepted.cookies}
    assert rejected.tracking == []
    assert before.screenshot is not None
    assert before.screenshot.startswith(b"\xff\xd8")  # JPEG


def test_audit_of_an_ungated_copy_fails_and_names_the_trackers(
    ungated_demo: Demo, browser: Browser
) -> None:
    report = audit(
        ungated_demo.site + "/",
        browser,
        policy=ungated_demo.policy,
        settle=0.5,
        stub=True,
        passthrough=[ungated_demo.tracker],
    )
    assert not report.ok
    before = report.passes[0]
    assert before.failed
    urls = {r.url for r in before.requests if r.tracks}
    assert f"{ungated_demo.tracker}/t.js" in urls
    assert any("googletagmanager.com" in url for url in urls)
    assert "_demo_srv" in {c.name for c in before.cookies if c.tracks}
    assert "! " in to_text(report)


def test_audit_command(ungated_demo: Demo, demo: Demo, tmp_path: Path) -> None:
    command = [
        str(Path(sys.executable).with_name("consent-gate")),
        "audit",
        "--settle",
        "0.3",
        "--pages",
        "1",
        "--stub",  # never reach the real trackers
    ]
    clean = subprocess.run(
        [*command, demo.site + "/", "--json", str(tmp_path / "clean.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "[1/3] no choice" in clean.stderr  # progress is shown while it runs
    assert json.loads((tmp_path / "clean.json").read_text())["ok"] is True

    failing = subprocess.run(
        [
            *command,
            ungated_demo.site + "/",
            "--json",
            "-",
            "--html",
            str(tmp_path / "report.html"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failing.returncode == 1
    assert "FAIL" in failing.stderr  # the table; stdout is the JSON
    assert json.loads(failing.stdout)["ok"] is False
    html = (tmp_path / "report.html").read_text()
    assert "data:image/jpeg;base64," in html  # the banner screenshot
    assert "googletagmanager.com" in html


# --- crawling a site, foreign banners, a site that cannot be reached ---------------------------

_GA = '<script async src="https://www.googletagmanager.com/gtag/js?id=G-TEST"></script>'
# OneTrust's banner as its SDK renders it (the ids and classes the audit looks for).
_ONETRUST = (
    '<div id="onetrust-consent-sdk"><div id="onetrust-banner-sdk" class="otFlat" role="region" '
    'aria-label="Cookie banner"><p id="onetrust-policy-text">We use cookies.</p>'
    '<button id="onetrust-accept-btn-handler">Accept All Cookies</button>'
    '<button id="onetrust-reject-all-handler">Reject All</button></div></div>'
)


def _page(title: str, body: str, head: str = "") -> str:
    return (
        f"<!doctype html><html lang='en'><head><title>{title}</title>{head}</head>"
        f"<body><h1>{title}</h1>{body}</body></html>"
    )


def _crawl_site() -> Starlette:
    """Pages linking to each other (and elsewhere), a robots.txt and a sitemap."""
    links = {
        "/": '<a href="/a">a</a> <a href="https://elsewhere.example/x">x</a> '
        '<a href="/brochure.pdf">pdf</a> <a href="/b#part">b</a>',
        "/a": '<a href="c">c</a> <a href="/">home</a>',
    }

    async def page(request: Request) -> Response:
        path = request.url.path
        return HTMLResponse(_page(f"page {path}", links.get(path, ""), _GA))

    async def robots(request: Request) -> Response:
        return PlainTextResponse(f"User-agent: *\nSitemap: {request.base_url}sitemap.xml\n")

    async def sitemap(request: Request) -> Response:
        return Response(
            f"<urlset><url><loc>{request.base_url}from-sitemap</loc></url></urlset>",
            media_type="application/xml",
        )

    paths = ["/", "/a", "/b", "/c", "/from-sitemap"]
    return Starlette(
        routes=[
            *(Route(path, page) for path in paths),
            Route("/robots.txt", robots),
            Route("/sitemap.xml", sitemap),
        ]
    )


def test_audit_crawls_the_sitemap_then_links_up_to_its_page_limit(
    live: LiveServer, browser: Browser
) -> None:
    site = live(ConsentGate(_crawl_site(), secret_key=SECRET * 3))
    report = audit(site + "/", browser, settle=0.2, pages=3, stub=True)
    assert [p.url for p in report.pages] == [f"{site}/", f"{site}/from-sitemap", f"{site}/a"]
    assert report.ok, to_text(report)
    assert all(p.banner == "consent_gate" for p in report.pages)
    cookies = report.pages[0].passes[1].cookies  # after accept all: the consent cookie
    consent = next(c for c in cookies if c.category == "necessary")
    assert (consent.path, consent.same_site) == ("/", "Lax")
    assert consent.size > len(consent.name)
    assert consent.expires is not None
    assert consent.lifetime.endswith("days")


def test_audit_of_a_page_with_onetrusts_banner_says_so_and_does_not_pass(
    live: LiveServer, tmp_path: Path
) -> None:
    async def home(request: Request) -> Response:
        return HTMLResponse(_page("Legacy shop", _ONETRUST))

    site = live(Starlette(routes=[Route("/", home)]))
    result = _audit_command(site + "/", "--html", str(tmp_path / "r.html"), "--json", "-")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "banner: OneTrust, not consent_gate's" in result.stderr  # the table, beside the JSON
    data = json.loads(result.stdout)
    page = data["pages"][0]
    assert page["banner"] == "OneTrust"
    assert [p["verdict"] for p in page["passes"]] == ["pass", "not clicked", "not clicked"]
    assert "OneTrust's banner, not consent_gate's" in page["passes"][1]["note"]
    html = (tmp_path / "r.html").read_text()
    assert "NOT CLICKED" in html
    assert "this site shows\nOneTrust" in html


def test_audit_of_an_unreachable_site_exits_2_with_one_line() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = _audit_command(f"http://127.0.0.1:{port}/")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith(f"Error: cannot load http://127.0.0.1:{port}/: ")
    assert "ERR_CONNECTION_REFUSED" in error


def _audit_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("consent-gate")),
            *("audit", "--settle", "0.2", "--stub"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_choice_the_site_does_not_answer_is_not_a_pass(
    live: LiveServer, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Buttons that look like the gate's but post nothing: the reload would carry no choice."""
    dead = (
        '<div id="cg-banner"><button data-cg-action="accept_all">Accept all</button>'
        '<button data-cg-action="reject_all">Reject all</button></div>'
    )

    async def home(request: Request) -> Response:
        return HTMLResponse(_page("Look-alike", dead))

    monkeypatch.setattr(audit_module, "CHOICE_TIMEOUT", 1.0)
    site = live(Starlette(routes=[Route("/", home)]))
    report = audit(site + "/", browser, settle=0.1, stub=True)
    assert not report.ok
    _, accepted, rejected = report.pages[0].passes
    assert (accepted.verdict, rejected.verdict) == ("not clicked", "not clicked")
    assert accepted.note == "clicked, but the site did not answer the choice within 1 s"


def test_audit_follows_the_start_page_to_the_origin_it_redirects_to(
    live: LiveServer, browser: Browser
) -> None:
    """http:// to https://, or to www.: the site audited is the one the browser lands on."""
    site = live(ConsentGate(_crawl_site(), secret_key=SECRET * 3))

    async def moved(request: Request) -> Response:
        return RedirectResponse(site + request.url.path, status_code=301)

    old = live(Starlette(routes=[Route("/{path:path}", moved)]))
    report = audit(old + "/a", browser, settle=0.2, pages=2, stub=True)
    assert report.url == f"{site}/a"
    assert [p.url for p in report.pages] == [f"{site}/a", f"{site}/from-sitemap"]  # its sitemap
    assert report.ok, to_text(report)
    first = report.passes[0]
    assert [r.url for r in first.requests if site in r.url] == []  # first-party, not third


@pytest.mark.parametrize(
    ("markup", "banner"),
    [
        ('<div id="cg-banner"></div><div id="onetrust-banner-sdk"></div>', "consent_gate"),
        (_ONETRUST, "OneTrust"),
        ('<div id="CybotCookiebotDialog" class="CybotEdge"></div>', "Cookiebot"),
        ('<div id="usercentrics-root"></div>', "Usercentrics"),
        ('<div id="didomi-host"><div id="didomi-notice"></div></div>', "Didomi"),
        ('<div class="qc-cmp2-container"></div>', "Quantcast Choice"),
        ('<div id="truste-consent-track"></div>', "TrustArc"),
        ('<div class="osano-cm-window"><div class="osano-cm-dialog"></div></div>', "Osano"),
        ('<div id="cmplz-cookiebanner-container"></div>', "Complianz"),
        ('<div class="klaro"><div class="cookie-notice"></div></div>', "Klaro"),
        ('<div class="cc-window cc-banner"></div>', "cookieconsent"),
        ('<div id="cc-main"></div>', "cookieconsent"),
        ("<p>No banner here.</p>", None),
    ],
)
def test_banners_are_told_apart_by_their_markup(
    browser: Browser, markup: str, banner: str | None
) -> None:
    page = browser.new_page()
    try:
        page.set_content(_page("Shop", markup))
        assert detect_banner(page) == banner
    finally:
        page.close()
