"""Real analytics SDKs shipped inside the site's own bundle, in Chromium.

Many sites `npm install` an SDK and ship it in their first-party `/static/app.js`: nothing in the
HTML names a tracker, so only the run-time gate stands between the SDK and its hosts. Each page
here serves one SDK of `tests/data/sdks/` (built with esbuild from the npm package, set up as its
README says, with a fake key: see SOURCES.toml) as a first-party script. Every third-party host,
the SDKs' API hosts included, is answered by the recorder's stubs, so nothing leaves the machine.

Before a choice the SDK's hosts get no request; "Accept all" lets them through in the same page
view (the held requests released, or the SDK's own later sends); "Reject all" never does. The
cookies an SDK writes by script are held until "Accept all" and written then (and any that got
through, the catalogue's, would be expired by the next page); so are localStorage items under
the catalogue's names (globs with the key in the middle: Mixpanel's __mpq_<token>_ev queue),
which a withdrawal removes.
A cookie Amplitude writes and deletes before consent stays deleted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

import pytest
from playwright.sync_api import Locator, Route
from starlette import routing
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from consent_gate import ConsentGate
from consent_gate.qa import serve

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import Visitor, VisitorFactory

SDKS = Path(__file__).resolve().parents[1] / "data" / "sdks"
SECRET = "bundled-sdks-browser-test-secret"

# The hosts each SDK reaches on its own (before anyone consents, were it not held).
HOSTS = {
    "posthog": ("posthog.com",),
    "mixpanel": ("mixpanel.com",),
    "amplitude": ("amplitude.com",),
    "segment": ("segment.com", "segment.io"),
    "ga4": ("googletagmanager.com", "google-analytics.com"),
}
# Those that must hear from it once the visitor accepts: its events, not only its set-up.
AFTER_ACCEPT = {
    "posthog": {"us.i.posthog.com"},  # /flags and the /e/ events
    "mixpanel": {"api-js.mixpanel.com"},  # /track
    "amplitude": {"api2.amplitude.com"},  # /2/httpapi
    "segment": {"cdn.segment.com", "api.segment.io"},  # its settings, then /v1/p and /v1/t
    "ga4": {"www.googletagmanager.com", "www.google-analytics.com"},  # gtag.js, its beacon
}
# SDKs whose requests carry their events readable (PostHog and Amplitude compress theirs).
EVENT_READABLE = {"mixpanel", "segment"}
# How long an SDK takes to send on its own: Mixpanel batches for 5 s; Amplitude waits about 3 s
# for its remote configuration, then queues its events (AMP_unsent_*) for about 3 s more.
SETTLE_MS = {"mixpanel": 6500, "amplitude": 8000}
SETTLE_DEFAULT_MS = 2500
# The cookies each SDK writes by script (gtag.js's _ga is the recorder's stub's).
SDK_COOKIES = {
    "posthog": {"ph_phc_consentgatetest0000000000000000000000000_posthog"},
    "mixpanel": {"mp_0123456789abcdef0123456789abcdef_mixpanel"},
    "amplitude": {"AMP_0123456789", "AMP_MKTG_0123456789"},
    "segment": {"ajs_anonymous_id"},
    "ga4": {"_ga"},
}

# What cdn.segment.com answers a write key: analytics.js sends through its Segment.io integration.
SEGMENT_SETTINGS = {
    "integrations": {"Segment.io": {"apiKey": "cgTestWriteKey0123456789abcdef"}},
    "plan": {"track": {"__default": {"enabled": True}}},
}


def _app() -> ConsentGate:
    async def sdk_page(request: Request) -> Response:
        """/sdk/posthog, or several bundles side by side: /sdk/posthog+mixpanel."""
        names = request.path_params["names"].split("+")
        if not set(names) <= set(HOSTS):
            return Response(status_code=404)
        scripts = "".join(f'<script src="/static/{name}.js"></script>' for name in names)
        return HTMLResponse(
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>SDKs</title>'
            f"</head><body><h1>SDKs</h1>{scripts}</body></html>"
        )

    async def bundle(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in HOSTS:
            return Response(status_code=404)
        return Response((SDKS / f"{name}.js").read_bytes(), media_type="application/javascript")

    async def plain(request: Request) -> Response:
        return HTMLResponse('<!doctype html><html lang="en"><title>Plain</title><p>Plain</p>')

    routes = [
        routing.Route("/sdk/{names}", sdk_page),
        routing.Route("/static/{name}.js", bundle),
        routing.Route("/plain", plain),
    ]
    return ConsentGate(Starlette(routes=routes), secret_key=SECRET)


@pytest.fixture(scope="module")
def sdk_site() -> Iterator[str]:
    with serve(_app()) as base_url:
        yield base_url


def _open(visit: VisitorFactory, sdk_site: str, name: str) -> Visitor:
    """A visitor on the SDK's page ("posthog", or several: "posthog+mixpanel") once its bundle
    has run and had time to send."""
    visitor = visit(sdk_site)

    def settings(route: Route) -> None:
        route.fulfill(json=SEGMENT_SETTINGS, headers={"access-control-allow-origin": "*"})

    visitor.context.route("https://cdn.segment.com/v1/projects/*/settings", settings)
    visitor.load(f"/sdk/{name}")
    visitor.page.wait_for_function("() => window.__sdkRan === true")
    visitor.page.wait_for_timeout(max(SETTLE_MS.get(n, SETTLE_DEFAULT_MS) for n in name.split("+")))
    return visitor


def _analytics_services(visitor: Visitor) -> Locator:
    """The Analytics category's disclosure of services in the preferences dialog."""
    return visitor.dialog.locator(".cg-category", has=visitor.page.locator("#cg-cat-analytics"))


def _reached(visitor: Visitor, name: str) -> set[str]:
    """The SDK's hosts the browser tried to reach so far."""
    return {hit.host for suffix in HOSTS[name] for hit in visitor.recorder.hits_to(suffix)}


def _wait_for_hosts(visitor: Visitor, hosts: set[str], name: str, timeout: float = 10.0) -> None:
    for _ in range(int(timeout * 10)):
        if _reached(visitor, name) >= hosts:
            return
        visitor.page.wait_for_timeout(100)
    raise AssertionError(f"{name}: never reached {sorted(hosts - _reached(visitor, name))}")


def _wait_for_event(visitor: Visitor, name: str, event: str, timeout: float = 5.0) -> None:
    def bodies() -> list[str]:
        hits = [hit for suffix in HOSTS[name] for hit in visitor.recorder.hits_to(suffix)]
        return [unquote_plus(hit.post_data or "") for hit in hits]

    for _ in range(int(timeout * 10)):
        if any(event in body for body in bodies()):
            return
        visitor.page.wait_for_timeout(100)
    raise AssertionError(f"{name}: {event} never sent: {bodies()}")


def _storage(visitor: Visitor) -> list[str]:
    keys: list[str] = visitor.page.evaluate("() => Object.keys(localStorage).sort()")
    return keys


@pytest.mark.parametrize("name", list(HOSTS))
def test_accept_all_lets_a_bundled_sdk_through_in_the_same_page_view(
    visit: VisitorFactory, sdk_site: str, name: str
) -> None:
    visitor = _open(visit, sdk_site, name)
    assert _reached(visitor, name) == set()
    visitor.mark_page_view()

    visitor.banner.get_by_role("button", name="Accept all").click()
    _wait_for_hosts(visitor, AFTER_ACCEPT[name], name)
    visitor.assert_same_page_view(visitor.page.url)
    if name in EVENT_READABLE:  # the event tracked before consent goes out after it
        _wait_for_event(visitor, name, '"Signed up"')
    assert visitor.wait_for_cookies(SDK_COOKIES[name]) >= SDK_COOKIES[name]


def test_an_sdk_allowed_alone_goes_through_while_the_rest_of_its_category_stays_held(
    visit: VisitorFactory, sdk_site: str
) -> None:
    """PostHog is a service the dialog lists: switched on alone, its held requests and cookie
    go out in the same page view, and Mixpanel, beside it in the same category, stays held."""
    visitor = _open(visit, sdk_site, "posthog+mixpanel")
    assert _reached(visitor, "posthog") | _reached(visitor, "mixpanel") == set()
    visitor.mark_page_view()

    visitor.customize.click()
    analytics = _analytics_services(visitor)
    analytics.locator("summary").click()
    analytics.get_by_role("switch", name="PostHog").check()
    visitor.dialog.get_by_role("button", name="Save choices").click()
    _wait_for_hosts(visitor, AFTER_ACCEPT["posthog"], "posthog")
    assert visitor.wait_for_cookies(SDK_COOKIES["posthog"]) >= SDK_COOKIES["posthog"]
    visitor.page.wait_for_timeout(SETTLE_MS["mixpanel"])  # Mixpanel's next batch
    assert _reached(visitor, "mixpanel") == set()
    assert not visitor.cookie_names() & SDK_COOKIES["mixpanel"]
    visitor.assert_same_page_view(visitor.page.url)


@pytest.mark.parametrize("name", list(HOSTS))
def test_reject_all_keeps_a_bundled_sdk_from_its_hosts(
    visit: VisitorFactory, sdk_site: str, name: str
) -> None:
    visitor = _open(visit, sdk_site, name)
    visitor.banner.get_by_role("button", name="Reject all").click()
    visitor.page.wait_for_timeout(1500)  # the held requests fail; the SDKs' retries are refused
    assert _reached(visitor, name) == set()


@pytest.mark.parametrize("name", list(HOSTS))
def test_no_sdk_cookie_is_written_before_consent_or_after_reject_all(
    visit: VisitorFactory, sdk_site: str, name: str
) -> None:
    visitor = _open(visit, sdk_site, name)
    assert visitor.cookie_names() == set()

    visitor.banner.get_by_role("button", name="Reject all").click()
    visitor.page.wait_for_timeout(1500)
    assert visitor.cookie_names() == {"consent_gate"}


def test_a_cookie_an_sdk_wrote_and_deleted_before_consent_stays_deleted(
    visit: VisitorFactory, sdk_site: str
) -> None:
    """Amplitude checks cookies by writing AMP_TEST and deleting it at once."""
    visitor = _open(visit, sdk_site, "amplitude")
    visitor.banner.get_by_role("button", name="Accept all").click()
    visitor.wait_for_cookies(SDK_COOKIES["amplitude"])
    assert "AMP_TEST" not in visitor.cookie_names()


@pytest.mark.parametrize("name", list(HOSTS))
def test_the_next_page_expires_any_sdk_cookie_written_before_consent(
    visit: VisitorFactory, sdk_site: str, name: str
) -> None:
    visitor = _open(visit, sdk_site, name)
    written = visitor.cookie_names()
    assert written <= SDK_COOKIES[name]

    response = visitor.page.goto("/plain")
    assert response is not None
    headers = response.headers_array()
    lines = [h["value"] for h in headers if h["name"].lower() == "set-cookie"]
    expired = {line.partition("=")[0] for line in lines if "Max-Age=0" in line}
    assert expired == written
    assert visitor.cookie_names() == set()


@pytest.mark.parametrize("name", list(HOSTS))
def test_a_bundled_sdk_writes_no_local_storage_before_consent(
    visit: VisitorFactory, sdk_site: str, name: str
) -> None:
    visitor = _open(visit, sdk_site, name)
    assert _storage(visitor) == [], json.dumps(_storage(visitor))


def _web_storage(visitor: Visitor) -> list[str]:
    """The names in localStorage and sessionStorage (the latter's prefixed "session:")."""
    names: list[str] = visitor.page.evaluate(
        """() => [...Object.keys(localStorage),
          ...Object.keys(sessionStorage).map((name) => "session:" + name)].sort()"""
    )
    return names


def test_mixpanels_queue_waits_for_accept_all_and_a_withdrawal_removes_it(
    visit: VisitorFactory, sdk_site: str
) -> None:
    """Its queues (`__mpq_<token>_ev`, ...) and tab id carry the token inside the name."""
    visitor = _open(visit, sdk_site, "mixpanel")
    assert _web_storage(visitor) == []

    visitor.banner.get_by_role("button", name="Accept all").click()
    _wait_for_event(visitor, "mixpanel", '"Signed up"')
    token = "0123456789abcdef0123456789abcdef"
    stored = _web_storage(visitor)
    assert f"__mpq_{token}_ev" in stored
    assert f"session:mp_tab_id_mixpanel_{token}" in stored

    with visitor.page.expect_navigation():  # the withdrawal reloads; the SDK writes again
        visitor.page.evaluate("() => window.consentGate.withdraw()")
    visitor.page.wait_for_function("() => window.__sdkRan === true")
    visitor.page.wait_for_timeout(SETTLE_MS["mixpanel"])
    assert _web_storage(visitor) == []
