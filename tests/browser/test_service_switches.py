"""Per-service choices in Chromium: a switch for each service under its category (keyboard and
no-JavaScript too), and a placeholder's "Allow YouTube" that loads YouTube alone, in place, and
is remembered; withdrawing the service holds it back again."""

from __future__ import annotations

import time
from types import ModuleType
from typing import TYPE_CHECKING

from playwright.sync_api import Locator, expect

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import Visitor, VisitorFactory

PIXEL_HOST = "connect.facebook.net"  # Meta Pixel: Marketing, like YouTube
SETTLE = 1.0  # seconds a refused load would have had to show up


def youtube_embed(visitor: Visitor) -> Locator:
    return visitor.page.locator("#snippet-youtube-embed iframe").first


def marketing_services(visitor: Visitor) -> Locator:
    """The Marketing category's disclosure of services in the preferences dialog."""
    return visitor.dialog.locator(".cg-category", has=visitor.page.locator("#cg-cat-marketing"))


def assert_not_reached(visitor: Visitor, host: str) -> None:
    time.sleep(SETTLE)
    assert not visitor.recorder.hits_to(host), visitor.tracker_hosts()


def test_a_service_switched_on_alone_by_keyboard_loads_that_service_only(
    visit: VisitorFactory, gate_site: ModuleType, site_url: str
) -> None:
    visitor = visit()
    page = visitor.page
    visitor.load("/")
    visitor.mark_page_view()
    visitor.customize.click()
    marketing = marketing_services(visitor)
    summary = marketing.locator("summary")
    summary.focus()
    page.keyboard.press("Enter")  # opens the disclosure
    youtube = marketing.get_by_role("switch", name="YouTube")
    expect(youtube).to_be_visible()
    youtube.focus()
    page.keyboard.press("Space")

    expect(youtube).to_be_checked()
    category = visitor.dialog.get_by_role("switch", name="Marketing")
    expect(category).not_to_be_checked()  # not all of Marketing: it says so
    expect(marketing.get_by_text("(partly on)")).to_be_visible()
    visitor.dialog.get_by_role("button", name="Save choices").click()
    visitor.recorder.wait_for("www.youtube.com")
    expect(youtube_embed(visitor)).to_have_attribute("src", gate_site.YOUTUBE_EMBED_URL)
    visitor.assert_same_page_view(f"{site_url}/")
    assert page.evaluate("() => window.consentGate.services()") == {"youtube": True}
    assert_not_reached(visitor, PIXEL_HOST)
    assert not visitor.recorder.hits_to("googletagmanager.com")
    # The next page serves the embed as it is, and still holds the rest of Marketing.
    visitor.recorder.clear()
    visitor.load("/")
    expect(youtube_embed(visitor)).to_have_attribute("src", gate_site.YOUTUBE_EMBED_URL)
    visitor.recorder.wait_for("www.youtube.com")
    assert_not_reached(visitor, PIXEL_HOST)


def test_switching_a_category_switches_its_services(visit: VisitorFactory) -> None:
    visitor = visit()
    visitor.load("/")
    visitor.customize.click()
    marketing = marketing_services(visitor)
    marketing.locator("summary").click()
    category = visitor.dialog.get_by_role("switch", name="Marketing")
    services = marketing.locator("input[name=service]")
    category.check()
    assert all(services.nth(i).is_checked() for i in range(services.count()))
    marketing.get_by_role("switch", name="YouTube").uncheck()
    expect(category).not_to_be_checked()
    expect(marketing.get_by_text("(partly on)")).to_be_visible()
    marketing.get_by_role("switch", name="YouTube").check()
    expect(category).to_be_checked()
    expect(marketing.get_by_text("(partly on)")).to_be_hidden()


def test_allow_youtube_in_the_placeholder_loads_youtube_alone_and_persists(
    visit: VisitorFactory, gate_site: ModuleType, site_url: str
) -> None:
    visitor = visit()
    page = visitor.page
    visitor.load("/")
    visitor.mark_page_view()
    embed = youtube_embed(visitor)
    embed.evaluate("(frame) => frame.scrollIntoView({block: 'start'})")
    placeholder = page.frame_locator("#snippet-youtube-embed iframe").first

    placeholder.get_by_role("button", name="Allow YouTube and load").click()

    visitor.recorder.wait_for("www.youtube.com")
    expect(embed).to_have_attribute("src", gate_site.YOUTUBE_EMBED_URL)
    visitor.assert_same_page_view(f"{site_url}/")
    assert page.evaluate("() => window.consentGate.choices().marketing") is False
    assert_not_reached(visitor, PIXEL_HOST)
    # Remembered: the next page view loads it from the server's HTML, nothing else of Marketing.
    visitor.recorder.clear()
    visitor.load("/")
    expect(youtube_embed(visitor)).to_have_attribute("src", gate_site.YOUTUBE_EMBED_URL)
    visitor.settings.click()
    marketing = marketing_services(visitor)
    marketing.locator("summary").click()
    expect(marketing.get_by_role("switch", name="YouTube")).to_be_checked()
    expect(visitor.dialog.get_by_role("switch", name="Marketing")).not_to_be_checked()
    assert_not_reached(visitor, PIXEL_HOST)


def test_withdrawing_a_service_holds_it_back_again(
    visit: VisitorFactory, gate_site: ModuleType
) -> None:
    visitor = visit()
    page = visitor.page
    visitor.load("/")
    page.evaluate("() => window.consentGate.accept([])")  # decided, all refused
    youtube_embed(visitor).evaluate("(frame) => frame.scrollIntoView({block: 'start'})")
    placeholder = page.frame_locator("#snippet-youtube-embed iframe").first
    placeholder.get_by_role("button", name="Allow YouTube and load").click()
    visitor.recorder.wait_for("www.youtube.com")
    # What YouTube's player keeps on the page's own origin, script-visible (names it claims).
    page.evaluate("() => { localStorage.setItem('YSC', 'a'); localStorage.setItem('x', 'b'); }")

    visitor.settings.click()
    marketing = marketing_services(visitor)
    marketing.locator("summary").click()
    marketing.get_by_role("switch", name="YouTube").uncheck()
    with page.expect_navigation():  # a running embed is only stopped by a fresh page
        visitor.dialog.get_by_role("button", name="Save choices").click()
    visitor.wait_for_banner_script()
    visitor.recorder.clear()

    expect(youtube_embed(visitor)).to_have_attribute("data-cg-src", gate_site.YOUTUBE_EMBED_URL)
    assert page.evaluate("() => window.consentGate.services()") == {}
    assert page.evaluate("() => [localStorage.getItem('YSC'), localStorage.getItem('x')]") == [
        None,
        "b",
    ]
    assert_not_reached(visitor, "www.youtube.com")


def test_without_javascript_the_preferences_form_takes_a_service_alone(
    visit: VisitorFactory, gate_site: ModuleType, site_url: str
) -> None:
    visitor = visit(javascript_enabled=False)
    page = visitor.page
    page.goto("/consent-gate/preferences?next=/")
    marketing = page.locator(".cg-category", has=page.locator("#cg-cat-marketing-page"))
    marketing.locator("summary").click()  # a native disclosure: no script needed
    marketing.get_by_role("switch", name="YouTube").check()
    with page.expect_navigation(url=f"{site_url}/"):
        page.get_by_role("button", name="Save choices").click()

    visitor.recorder.wait_for("www.youtube.com")
    expect(youtube_embed(visitor)).to_have_attribute("src", gate_site.YOUTUBE_EMBED_URL)
    assert_not_reached(visitor, "www.facebook.com")  # Meta's <noscript> pixel stays held


def test_a_category_switched_on_but_one_of_its_services_loads_the_rest_only(
    visit: VisitorFactory, gate_site: ModuleType
) -> None:
    visitor = visit()
    visitor.load("/")
    visitor.customize.click()
    marketing = marketing_services(visitor)
    marketing.locator("summary").click()
    visitor.dialog.get_by_role("switch", name="Marketing").check()
    marketing.get_by_role("switch", name="YouTube").uncheck()
    visitor.dialog.get_by_role("button", name="Save choices").click()

    visitor.recorder.wait_for(PIXEL_HOST)  # the rest of Marketing starts in place
    expect(youtube_embed(visitor)).to_have_attribute("data-cg-src", gate_site.YOUTUBE_EMBED_URL)
    assert_not_reached(visitor, "www.youtube.com")
    # The listed services the visitor left on are allowed one by one (the category itself,
    # with services nobody listed in it, stays off: the switch said "partly on").
    services = visitor.page.evaluate("() => window.consentGate.services()")
    assert services["meta-pixel"] is True
    assert "youtube" not in services
    assert visitor.page.evaluate("() => window.consentGate.choices().marketing") is False
