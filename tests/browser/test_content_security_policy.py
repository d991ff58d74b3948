"""The consent-aware Content-Security-Policy, seen from a real Chromium.

The rewriter cannot see what a script does once it runs, and the run-time gate cannot hold every
path. The page here is first-party code that loads trackers where only the CSP can stop them: with
the natives of a fresh frame's realm it injects Meta's script and sends a `sendBeacon` and a
`fetch` to Google Analytics, and it shows Meta's pixel as a CSS background. Host names are put
together at run time, as a bundler's output would (from variables: the gate joins adjacent string
literals before it looks), so no catalogue signature or host matches the inline script.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import time
import urllib.request
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route as Path

from consent_gate import ConsentGate, Policy
from consent_gate._types import ASGIApp, Receive, Scope, Send
from consent_gate.policy import CspSettings, Service

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import LiveServer, Visitor, VisitorFactory

SECRET = "csp-browser-test-secret"
TOKEN = "csp-reports-token"

LOADER = """\
<script>
  window.__inline = true;
  var fb = "face" + "book";
  var google = "google-";
  var ga = "https://www." + google + "analytics.com";
  // What the gate's run-time script cannot hold, only the CSP stops: a worker's import() (its
  // prelude makes fetch and importScripts fail, import() it cannot wrap; a data: worker's own
  // violations go unreported) and the url() of a style sheet the page fetches (below).
  var ev = "events";
  var code = "import('" + ga + "/g/collect?v=2&en=import').catch(() => {});"
    + "import('https://connect." + fb + ".net/en_US/fb" + ev + ".js').catch(() => {});";
  try {
    new Worker("data:text/javascript," + encodeURIComponent(code), { type: "module" });
  } catch (error) {}
</script>
<link rel="stylesheet" href="/pixel.css">
"""
# A first-party sheet's url(): the gate rewrites no CSS the page fetches.
PIXEL_SHEET = "html { background-image: url(https://www.facebook.com/tr?id=1&ev=PageView) }"
# Meta's script put in the page by a script, and a beacon (both held before consent).
PIXEL_LOADER = """\
<script>
  var pixel = document.createElement("script");
  pixel.src = "https://connect." + "face" + "book.net/en_US/fb" + "events.js";
  document.head.appendChild(pixel);
  navigator.sendBeacon("https://www.google-" + "analytics.com/g/collect?v=2&en=beacon");
</script>
"""
EXPECTED_SCRIPTS = {
    "https://cdn.stats.example/lib.js",
    "https://www.googletagmanager.com/gtag/js?id=G-XXXXXXXXXX",
    "https://www.googletagmanager.com/gtm.js?id=GTM-XXXXXXX",
    "https://connect.facebook.net/en_US/fbevents.js",
    "https://static.hotjar.com/c/hotjar-1234567.js?sv=6",
    "https://www.youtube.com/iframe_api",
}
TRACKER_HOSTS = {"connect.facebook.net", "www.google-analytics.com", "www.facebook.com"}
HANDLER = (
    '<p id="status">waiting</p>'
    "<button id=\"press\" onclick=\"document.getElementById('status').textContent = 'pressed'\">"
    "Press</button>\n"
)


def page(body: str, head: str = "") -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>CSP</title>'
        f"{head}</head>\n<body>\n<h1>CSP</h1>\n{body}</body></html>\n"
    )


class ReportCookies:
    """An ASGI wrapper noting whether CSP report POSTs carry the consent cookie."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[bool] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/reports/csp"):
            cookie = dict(scope["headers"]).get(b"cookie", b"")
            self.seen.append(b"consent_gate=" in cookie)
        await self.app(scope, receive, send)


Pages = Mapping[str, tuple[str, Mapping[str, str]]]


def create_app(
    mode: str, pages: Pages, sources: Mapping[str, tuple[str, ...]] | None = None
) -> ReportCookies:
    """A gated site serving `pages` (path -> (html, headers)) in CSP `mode`."""
    settings = CspSettings(mode=mode, sources=sources or {})  # type: ignore[arg-type]
    policy = dataclasses.replace(Policy.default(), csp=settings)

    def endpoint(html: str, headers: Mapping[str, str]) -> Any:
        async def respond(request: Request) -> Response:
            return HTMLResponse(html, headers=dict(headers))

        return respond

    async def sheet(request: Request) -> Response:
        return Response(PIXEL_SHEET, media_type="text/css")

    routes = [Path(path, endpoint(*spec)) for path, spec in pages.items()]
    app = Starlette(routes=[*routes, Path("/pixel.css", sheet)])
    return ReportCookies(ConsentGate(app, secret_key=SECRET, policy=policy, reports_token=TOKEN))


Site = Callable[..., tuple[str, ReportCookies]]


@pytest.fixture
def site(live: LiveServer) -> Site:
    """Factory: ``base_url, report_cookies = site(mode, pages, sources=None)``."""

    def start(
        mode: str, pages: Pages, sources: Mapping[str, tuple[str, ...]] | None = None
    ) -> tuple[str, ReportCookies]:
        app = create_app(mode, pages, sources)
        return live(app), app

    return start


def reports(base_url: str) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        f"{base_url}/consent-gate/reports", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        rows: list[dict[str, Any]] = json.load(response)["csp"]["reports"]
    return rows


def wait_for_reports(visitor: Visitor, hosts: set[str], timeout: float = 10.0) -> list[Any]:
    """The report summary once it names `hosts` (or at the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = reports(visitor.base_url)
        if hosts <= {row["host"] for row in rows} or time.monotonic() > deadline:
            return rows
        visitor.page.wait_for_timeout(100)  # the sync API routes requests only while waiting


def hosts_of(urls: list[str]) -> set[str]:
    return {urlsplit(url).hostname or "" for url in urls}


def settle(visitor: Visitor) -> None:
    """Give run-time requests (beacons, the injected script) time to go out."""
    visitor.page.wait_for_function("() => window.__inline === true")
    visitor.page.wait_for_timeout(500)


def test_enforce_stops_run_time_trackers_and_reports_them(
    site: Site, visit: VisitorFactory
) -> None:
    base_url, _ = site("enforce", {"/": (page(LOADER + HANDLER), {})})
    visitor = visit(base_url)
    out = visitor.served()

    visitor.load("/")
    settle(visitor)

    assert out == []
    rows = wait_for_reports(visitor, TRACKER_HOSTS)
    found = {(row["host"], row["directive"], row["page"]) for row in rows}
    assert ("data", "worker-src", "/") in found  # the worker never starts
    assert ("www.facebook.com", "img-src", "/") in found
    # The page reports its own violations (one beacon, no report-uri): a worker's go unreported.
    assert not {row["host"] for row in rows} & {"www.google-analytics.com", "connect.facebook.net"}


def test_report_only_lets_them_through_and_reports_them(site: Site, visit: VisitorFactory) -> None:
    base_url, _ = site("report-only", {"/": (page(LOADER), {})})
    visitor = visit(base_url)
    out = visitor.served()

    visitor.load("/")
    settle(visitor)
    deadline = time.monotonic() + 5  # the worker's requests, once it has started
    while hosts_of(out) != TRACKER_HOSTS and time.monotonic() < deadline:
        visitor.page.wait_for_timeout(100)

    assert hosts_of(out) == TRACKER_HOSTS
    rows = wait_for_reports(visitor, {"www.facebook.com", "data"})
    assert {row["host"] for row in rows} >= {"www.facebook.com", "data"}


def test_enforce_keeps_the_apps_inline_scripts_and_listed_handlers_working(
    site: Site, visit: VisitorFactory
) -> None:
    code = "document.getElementById('status').textContent = 'pressed'"
    digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
    sources = {"script-src-attr": ("'unsafe-hashes'", f"'sha256-{digest}'")}
    base_url, _ = site("enforce", {"/": (page(LOADER + HANDLER), {})}, sources)
    visitor = visit(base_url)

    visitor.load("/")
    visitor.page.click("#press")

    assert visitor.page.evaluate("() => window.__inline") is True
    assert visitor.page.text_content("#status") == "pressed"
    assert not [r for r in reports(base_url) if r["host"] in ("inline", "eval")]


def test_enforce_refuses_inline_handlers_the_site_did_not_list(
    site: Site, visit: VisitorFactory
) -> None:
    base_url, _ = site("enforce", {"/": (page(LOADER + HANDLER), {})})
    visitor = visit(base_url)

    visitor.load("/")
    visitor.page.click("#press")
    visitor.page.wait_for_timeout(200)

    assert visitor.page.evaluate("() => window.__inline") is True  # nonce-stamped: runs
    assert visitor.page.text_content("#status") == "waiting"


def test_enforce_accept_reloads_and_the_tracker_then_runs(
    site: Site, visit: VisitorFactory
) -> None:
    base_url, _ = site("enforce", {"/": (page(LOADER + PIXEL_LOADER), {})})
    visitor = visit(base_url)
    out = visitor.served()
    visitor.load("/")
    settle(visitor)
    assert out == []

    with visitor.page.expect_navigation():
        visitor.banner.get_by_role("button", name="Accept all").click()
    visitor.wait_for_banner_script()
    settle(visitor)
    deadline = time.monotonic() + 5  # the worker's requests, once it has started
    while hosts_of(out) != TRACKER_HOSTS and time.monotonic() < deadline:
        visitor.page.wait_for_timeout(100)

    assert visitor.page.evaluate("() => performance.getEntriesByType('navigation')[0].type") == (
        "reload"
    )
    assert hosts_of(out) == TRACKER_HOSTS
    assert visitor.tracker_runs() == ["https://connect.facebook.net/en_US/fbevents.js"]


def test_report_only_allowing_in_page_does_not_report_the_allowed_hosts(
    site: Site, visit: VisitorFactory
) -> None:
    later = """\
<script>
  window.__inline = true;
  window.later = function () {
    fetch("https://www.google-" + "analytics.com/g/collect?v=2&en=later",
          {method: "POST", mode: "no-cors"}).catch(function () {});
    new Image().src = "https://ads.unknown-" + "tracker.example/px";
  };
</script>
"""
    base_url, cookies = site("report-only", {"/": (page(later), {})})
    visitor = visit(base_url)
    visitor.load("/")
    visitor.page.evaluate("() => window.consentGate.accept()")

    visitor.page.evaluate("() => window.later()")
    rows = wait_for_reports(visitor, {"ads.unknown-tracker.example"})

    hosts = {row["host"] for row in rows}
    assert "ads.unknown-tracker.example" in hosts  # unknown to the catalogue: reported
    assert True in cookies.seen  # Chromium sends the consent cookie with the report
    assert "www.google-analytics.com" not in hosts  # allowed by now: not noise in the reports


def test_a_stricter_app_policy_stays_in_force(site: Site, visit: VisitorFactory) -> None:
    strict = {"content-security-policy": "script-src 'self'; img-src 'none'"}
    base_url, _ = site("enforce", {"/": (page(LOADER + HANDLER), strict)})
    visitor = visit(base_url)
    out = visitor.served()
    visitor.load("/")
    with visitor.page.expect_navigation() as navigation:
        visitor.page.evaluate("() => window.consentGate.accept()")  # reloads: enforce
    visitor.wait_for_banner_script()
    visitor.page.wait_for_timeout(500)
    response = navigation.value

    assert response is not None
    assert response.headers["content-security-policy"].startswith("script-src 'self'; img-src")
    # The gate stamped its nonce on the inline script, yet the app's policy still forbids it.
    assert visitor.page.evaluate("() => window.__inline") is None
    assert out == []


def test_an_apps_nonce_is_used_and_its_unnonced_scripts_stay_blocked(
    site: Site, visit: VisitorFactory
) -> None:
    body = (
        '<script nonce="app-n0nce">window.__nonced = true;</script>\n'
        "<script>window.__injected = true;</script>\n"
    )
    headers = {"content-security-policy": "script-src 'nonce-app-n0nce'"}
    base_url, _ = site("enforce", {"/": (page(body), headers)})
    visitor = visit(base_url)

    visitor.load("/")  # waits for banner.js: it runs under the app's policy too

    assert visitor.page.evaluate("() => window.__nonced") is True
    assert visitor.page.evaluate("() => window.__injected") is None
    assert visitor.banner.is_visible()


def test_the_gated_test_site_under_enforce_accept_all_reloads_and_everything_runs(
    live: LiveServer, visit: VisitorFactory, gate_site: ModuleType
) -> None:
    default = Policy.default()
    # A library the site marks data-consent="analytics": under enforce its host must be known
    # too (as a service, as here, or in [csp.sources]) or the browser refuses it.
    stats = Service(
        id="stats-lib", name="Stats", category="analytics", hosts=("cdn.stats.example",)
    )
    policy = dataclasses.replace(
        default, services=(*default.services, stats), csp=CspSettings(mode="enforce")
    )
    visitor = visit(live(gate_site.create_site(policy)))
    out = visitor.served()
    visitor.load("/")
    visitor.page.wait_for_function("() => window.__firstParty === 1")  # /static/app.js

    assert out == []
    assert visitor.page.evaluate("() => window.__firstPartyInline") is True  # stamped, ran

    with visitor.page.expect_navigation():
        visitor.banner.get_by_role("button", name="Accept all").click()
    visitor.wait_for_banner_script()
    visitor.page.wait_for_function(
        "(n) => (window.__cgTrackerRuns || []).length >= n", arg=len(EXPECTED_SCRIPTS)
    )

    assert set(visitor.tracker_runs()) == EXPECTED_SCRIPTS
    assert visitor.page.evaluate("() => window.__order") == ["lib", "config-after-lib"]
    assert visitor.page.evaluate("() => dataLayer.map((e) => e[0] || e.event)")[:3] == [
        "js",
        "config",
        "gtm.js",
    ]
    assert {"www.googletagmanager.com", "connect.facebook.net", "cdn.stats.example"} <= hosts_of(
        out
    )


def test_topics_and_high_entropy_client_hints_wait_for_marketing_consent(
    site: Site, visit: VisitorFactory
) -> None:
    base_url, _ = site("report-only", {"/": (page("<p>Hello</p>\n"), {})})
    visitor = visit(base_url)
    features = ["browsing-topics", "interest-cohort", "ch-ua-model", "ch-ua-full-version-list"]
    allowed = "(names) => names.map((name) => document.featurePolicy.allowsFeature(name))"
    visitor.load("/")
    assert visitor.page.evaluate(allowed, features) == [False] * len(features)

    visitor.page.evaluate('() => window.consentGate.accept(["analytics"])')
    visitor.load("/")
    assert visitor.page.evaluate(allowed, features) == [False] * len(features)

    visitor.page.evaluate("() => window.consentGate.accept()")
    visitor.load("/")
    assert visitor.page.evaluate(allowed, features) == [True] * len(features)
