"""The Set-Cookie firewall, seen from the browser's cookie jar.

``/set-cookies`` answers with ``session`` (necessary, unknown to the catalogue) and an HttpOnly
``_ga`` (Google Analytics): page script could never remove that one, so the server must not let
it through before analytics is allowed.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Error as PlaywrightError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from consent_gate import ConsentGate, Policy

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import LiveServer, Visitor, VisitorFactory

SECRET = "firewall-redirect-test-secret-not-a-secret"

SERVER_GA = "GA1.1.999.1700000000"


def choose(visitor: Visitor, api_call: str) -> None:
    """Decide through ``window.consentGate`` (the same request the banner's buttons send)."""
    visitor.page.evaluate(f"() => window.consentGate.{api_call}")


def test_before_consent_only_the_necessary_cookie_is_set(visit: VisitorFactory) -> None:
    visitor = visit()

    response = visitor.page.goto("/set-cookies")

    assert response is not None
    assert response.ok
    cookies = visitor.cookies()
    assert set(cookies) == {"session"}
    assert cookies["session"]["httpOnly"] is True


@pytest.mark.parametrize(
    ("api_call", "ga_allowed"),
    [
        ('accept(["analytics"])', True),
        ("accept()", True),
        ('accept(["marketing"])', False),
        ("reject()", False),
    ],
)
def test_after_a_choice_analytics_cookies_follow_it(
    visit: VisitorFactory, api_call: str, ga_allowed: bool
) -> None:
    visitor = visit()
    visitor.load("/form")  # a page without trackers: only the server sets cookies here
    choose(visitor, api_call)

    visitor.load("/set-cookies")

    cookies = visitor.cookies()
    assert "session" in cookies
    if ga_allowed:
        assert cookies["_ga"]["value"] == SERVER_GA
        assert cookies["_ga"]["httpOnly"] is True
    else:
        assert "_ga" not in cookies
    assert visitor.recorder.hits == []


def test_undecided_visitors_leftover_tracker_cookies_are_expired(
    visit: VisitorFactory, site_url: str
) -> None:
    visitor = visit()
    # Cookies from before the gate was installed, or from another tab's tracker.
    visitor.context.add_cookies(
        [
            {"name": "_ga", "value": "GA1.1.1.1", "url": site_url, "httpOnly": True},
            {"name": "_fbp", "value": "fb.1.1.1", "url": site_url},
            {"name": "theme", "value": "dark", "url": site_url},
        ]
    )

    visitor.load("/")

    assert visitor.cookie_names() == {"theme"}  # unknown to the policy: left alone


def test_refused_categorys_leftover_cookies_are_expired_allowed_ones_kept(
    visit: VisitorFactory, site_url: str
) -> None:
    visitor = visit()
    visitor.load("/form")
    choose(visitor, 'accept(["analytics"])')
    visitor.context.add_cookies(
        [
            {"name": "_ga", "value": "GA1.1.1.1", "url": site_url},
            {"name": "_fbp", "value": "fb.1.1.1", "url": site_url},
        ]
    )

    visitor.load("/form")

    assert visitor.cookie_names() == {"consent_gate", "_ga"}


def redirect_app() -> ConsentGate:
    """A page whose image and script are first-party paths that redirect to trackers, and an
    outbound link through the same kind of redirect."""

    async def home(request: Request) -> Response:
        return HTMLResponse(
            '<!doctype html><html lang="en"><head><title>Redirects</title></head><body>'
            '<h1 id="title">Redirects</h1><img src="/px" alt=""><script src="/js"></script>'
            "</body></html>"
        )

    async def pixel(request: Request) -> Response:
        return RedirectResponse("https://www.facebook.com/tr?id=1&ev=Redirect", 302)

    async def script(request: Request) -> Response:
        return RedirectResponse("https://www.googletagmanager.com/gtm.js?id=GTM-R", 307)

    routes = [Route("/", home), Route("/px", pixel), Route("/js", script)]
    return ConsentGate(Starlette(routes=routes), secret_key=SECRET, policy=Policy.default())


def test_a_first_party_path_redirecting_a_load_to_a_tracker_is_held(
    live: LiveServer, visit: VisitorFactory
) -> None:
    """The markup names only first-party paths; their redirects sent the image and the script
    to the trackers before consent (proved in Chromium). A redirect the browser follows for a
    load goes out without its Location; a visitor's own navigation is still redirected."""
    visitor = visit(live(redirect_app()))

    visitor.load("/")
    assert visitor.page.text_content("#title") == "Redirects"
    assert visitor.recorder.hosts() == set()

    with contextlib.suppress(PlaywrightError):  # stubs answer no navigation: the tab errs
        visitor.page.goto("/px")  # the visitor's own navigation: followed
    assert "www.facebook.com" in visitor.recorder.hosts()

    accepted = visit(live(redirect_app()))
    accepted.load("/")
    choose(accepted, "accept()")
    accepted.load("/")
    assert {"www.facebook.com", "www.googletagmanager.com"} <= accepted.recorder.hosts()
