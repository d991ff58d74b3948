"""The Set-Cookie firewall, seen from the browser's cookie jar.

``/set-cookies`` answers with ``session`` (necessary, unknown to the catalogue) and an HttpOnly
``_ga`` (Google Analytics): page script could never remove that one, so the server must not let
it through before analytics is allowed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import Visitor, VisitorFactory

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
