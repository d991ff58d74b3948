"""The consent endpoint under attack from real pages: no forged consent, no open redirect.

The "evil" site runs on another origin: the same host on another port (same-site, cross-origin)
or another loopback address (cross-site). Both must be refused: a page the visitor happens to open
must not be able to record consent on their behalf.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from consent_gate.qa import serve

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import VisitorFactory

ENDPOINT = "/consent-gate/consent"


@pytest.fixture(scope="module")
def evil_servers(gate_site: ModuleType, site_url: str) -> Iterator[dict[str, str]]:
    """The attacker's sites: same host, other port (same-site) and other address (cross-site)."""
    with contextlib.ExitStack() as stack:
        yield {
            host: stack.enter_context(serve(gate_site.create_evil_site(site_url), host=host))
            for host in ("127.0.0.1", "127.0.0.2")
        }


@pytest.fixture(params=["127.0.0.1", "127.0.0.2"], ids=["other-port", "other-site"])
def evil_url(request: pytest.FixtureRequest, evil_servers: dict[str, str]) -> str:
    return evil_servers[request.param]


@pytest.mark.parametrize("evil_page", ["/form", "/form-no-referrer"])
def test_cross_origin_form_post_is_refused_and_consent_unchanged(
    visit: VisitorFactory, site_url: str, evil_url: str, evil_page: str
) -> None:
    visitor = visit(first_party=[evil_url])  # so the recorder serves the evil page for real
    page = visitor.page
    visitor.load("/")
    visitor.banner.get_by_role("button", name="Reject all").click()
    page.wait_for_function("() => window.consentGate.decided()")
    before = visitor.cookies()["consent_gate"]["value"]

    with page.expect_response(f"{site_url}{ENDPOINT}") as answer:
        # The page auto-submits action=accept_all to the gate while it is still loading.
        page.goto(f"{evil_url}{evil_page}", wait_until="commit")
    page.wait_for_url(f"{site_url}{ENDPOINT}")

    response = answer.value
    assert response.request.method == "POST"
    sent = response.request.all_headers()  # as Playwright sees them: no Sec-Fetch-* here
    assert sent["origin"] != site_url
    if evil_page == "/form-no-referrer":
        assert sent["origin"] == "null"
        assert "referer" not in sent
    assert response.status == 403
    assert "set-cookie" not in response.headers
    expect(page.locator("body")).to_contain_text("consent requests are refused")
    assert visitor.cookies()["consent_gate"]["value"] == before
    visitor.recorder.clear()
    visitor.load(f"{site_url}/")
    assert visitor.recorder.hits == []
    assert visitor.page.evaluate("() => window.consentGate.choices()") == {
        "preferences": False,
        "analytics": False,
        "marketing": False,
    }


def test_cross_origin_fetch_is_refused_and_undecided_visitor_stays_undecided(
    visit: VisitorFactory, site_url: str, evil_url: str
) -> None:
    visitor = visit(first_party=[evil_url])
    page = visitor.page

    with page.expect_response(f"{site_url}{ENDPOINT}") as answer:
        page.goto(f"{evil_url}/fetch")  # a no-cors POST: no preflight, cookies included
    assert page.evaluate("() => window.sent") == "sent"  # opaque, but it did go out

    assert answer.value.status == 403
    assert visitor.cookies() == {}
    visitor.load(f"{site_url}/")
    expect(visitor.banner).to_be_visible()
    assert visitor.recorder.hits == []


@pytest.mark.parametrize(
    "next_value",
    [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "http:evil.example",
        "javascript:alert(1)",
        " //evil.example",
    ],
)
def test_no_js_form_never_redirects_off_site(
    visit: VisitorFactory, site_url: str, next_value: str
) -> None:
    visitor = visit(javascript_enabled=False)
    page = visitor.page
    page.goto("/form")
    next_input = visitor.banner.locator("input[name=next]")
    expect(next_input).to_have_value("/form")
    next_input.evaluate("(input, value) => { input.value = value; }", next_value)

    with (
        page.expect_navigation(url=f"{site_url}/"),
        page.expect_response(f"{site_url}{ENDPOINT}") as answer,
    ):
        visitor.banner.get_by_role("button", name="Accept all").click()

    assert answer.value.status == 303
    assert answer.value.headers["location"] == "/"
    assert "evil.example" not in visitor.tracker_hosts()
    expect(visitor.banner).to_have_count(0)  # the choice itself was recorded
    assert "consent_gate" in visitor.cookie_names()
