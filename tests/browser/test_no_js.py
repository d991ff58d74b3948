"""Without JavaScript every choice still works: the banner is a real form (303 back to the page).

With scripting off the browser renders ``<noscript>``, so after consent the trackers' no-JS
fallbacks (GTM's ns.html iframe, Meta's /tr pixel) are what load - and before it, nothing.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from playwright.sync_api import expect

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import Visitor, VisitorFactory

ENDPOINT = "/consent-gate/consent"


def submit(visitor: Visitor, button: str, *, lands_on: str, site_url: str) -> None:
    """Click a submit button of the gate's forms; expect a 303 back to ``lands_on``."""
    page = visitor.page
    # The URL may not change (back to the same page): wait for the new document's load.
    with (
        page.expect_navigation(url=f"{site_url}{lands_on}"),
        page.expect_response(f"{site_url}{ENDPOINT}") as answer,
    ):
        page.get_by_role("button", name=button).click()
    assert answer.value.status == 303
    assert answer.value.headers["location"] == lands_on


def test_accept_all_with_the_form_comes_back_and_loads_noscript_trackers(
    visit: VisitorFactory, gate_site: ModuleType, site_url: str
) -> None:
    visitor = visit(javascript_enabled=False)
    page = visitor.page
    page.goto("/next")
    assert visitor.recorder.hits == []

    submit(visitor, "Accept all", lands_on="/next", site_url=site_url)

    expect(visitor.banner).to_have_count(0)
    expect(visitor.settings).to_be_visible()
    urls = {hit.url for hit in visitor.recorder.hits}
    assert gate_site.GTM_NOSCRIPT_URL in urls
    assert gate_site.META_PIXEL_URL in urls
    assert gate_site.YOUTUBE_EMBED_URL in urls
    # Scripts do not run without JavaScript, so these are all that is requested.
    assert visitor.tracker_hosts() == {
        "www.googletagmanager.com",
        "www.facebook.com",
        "www.youtube.com",
    }
    assert [hit.resource_type for hit in visitor.recorder.hits_to("googletagmanager.com")] == [
        "document"
    ]
    assert [hit.resource_type for hit in visitor.recorder.hits_to("www.facebook.com")] == ["image"]
    assert "consent_gate" in visitor.cookie_names()


def test_customize_leads_to_the_preferences_page_where_a_category_is_saved(
    visit: VisitorFactory, gate_site: ModuleType, site_url: str
) -> None:
    visitor = visit(javascript_enabled=False)
    page = visitor.page
    page.goto("/next")

    visitor.banner.get_by_role("link", name="Customize").click()

    expect(page).to_have_url(f"{site_url}/consent-gate/preferences?next=/next&lang=en")
    for name in ("Preferences", "Analytics", "Marketing"):
        expect(page.get_by_role("switch", name=name)).not_to_be_checked()
    expect(page.get_by_role("switch", name="Strictly necessary")).to_be_checked()
    page.get_by_role("switch", name="Analytics").check()
    submit(visitor, "Save choices", lands_on="/next", site_url=site_url)

    expect(visitor.banner).to_have_count(0)
    assert [hit.url for hit in visitor.recorder.hits] == [gate_site.GTM_NOSCRIPT_URL]
    # The settings link shows the saved choice.
    visitor.settings.click()
    expect(page.get_by_role("switch", name="Analytics")).to_be_checked()
    expect(page.get_by_role("switch", name="Marketing")).not_to_be_checked()
    expect(page.locator("#cg-consent-id")).not_to_be_empty()


def test_reject_all_with_the_form_keeps_everything_out(
    visit: VisitorFactory, site_url: str
) -> None:
    visitor = visit(javascript_enabled=False)
    page = visitor.page
    page.goto("/")

    submit(visitor, "Reject all", lands_on="/", site_url=site_url)

    expect(visitor.banner).to_have_count(0)
    assert visitor.recorder.hits == []
    for path in ("/next", "/set-cookies", "/form"):
        page.goto(path)
        expect(visitor.banner).to_have_count(0)
        expect(visitor.settings).to_be_visible()
        assert visitor.recorder.hits == []
    # The site still works without JavaScript.
    page.get_by_label("Name").fill("Grace")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#thanks")).to_have_text("Thanks, Grace!")
    assert visitor.cookie_names() == {"consent_gate", "session"}
    assert visitor.recorder.hits == []


def test_placeholder_button_allows_its_service_without_javascript(
    visit: VisitorFactory, gate_site: ModuleType, site_url: str
) -> None:
    visitor = visit(javascript_enabled=False)
    page = visitor.page
    page.goto("/next")
    placeholder = page.frame_locator("#video iframe")

    with (
        page.expect_navigation(url=f"{site_url}/next"),
        page.expect_response(f"{site_url}{ENDPOINT}") as answer,
    ):
        placeholder.get_by_role("button", name="Allow YouTube and load").click()

    assert answer.value.status == 303
    expect(page.locator("#video iframe")).to_have_attribute("src", gate_site.YOUTUBE_EMBED_URL)
    expect(page.frame_locator("#video iframe").locator("body")).to_have_text(
        "stub for www.youtube.com"
    )
    # YouTube only: neither the rest of Marketing (Meta's pixel) nor GTM's iframe loads.
    assert visitor.tracker_hosts() == {"www.youtube.com"}
    expect(visitor.banner).to_have_count(0)


def test_a_no_referrer_page_still_records_the_choice(visit: VisitorFactory, site_url: str) -> None:
    visitor = visit(javascript_enabled=False)
    page = visitor.page
    page.goto("/private")  # Referrer-Policy: no-referrer -> the post says "Origin: null"

    submit(visitor, "Reject all", lands_on="/private", site_url=site_url)

    expect(visitor.banner).to_have_count(0)
    assert "consent_gate" in visitor.cookie_names()
    assert visitor.recorder.hits == []
