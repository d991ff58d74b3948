"""Before the visitor chooses, nothing tracks them: with JavaScript on and off.

The pages carry the real GA4, GTM, Meta Pixel, Hotjar and YouTube snippets; the recorder sees
every request the browser attempts to any other origin, so "no hit" means the browser never even
tried to reach a tracker.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import Visitor, VisitorFactory


def assert_banner_offers_a_choice(visitor: Visitor) -> None:
    expect(visitor.banner).to_be_visible()
    expect(visitor.banner.get_by_role("button", name="Accept all")).to_be_visible()
    expect(visitor.banner.get_by_role("button", name="Reject all")).to_be_visible()
    expect(visitor.customize).to_be_visible()
    expect(visitor.settings).to_be_hidden()  # one way in while the banner asks: no clutter


def assert_embeds_show_placeholders(visitor: Visitor, gate_site: ModuleType) -> None:
    frame = visitor.page.locator("#snippet-youtube-embed iframe").first
    expect(frame).not_to_have_attribute("src", gate_site.YOUTUBE_EMBED_URL)
    expect(frame).to_have_attribute("data-cg-src", gate_site.YOUTUBE_EMBED_URL)
    placeholder = visitor.page.frame_locator("#snippet-youtube-embed iframe").first
    expect(placeholder.get_by_text("This content from YouTube is blocked")).to_be_visible()
    expect(placeholder.get_by_role("button", name="Allow YouTube and load")).to_be_visible()


@pytest.mark.parametrize("path", ["/", "/next"])
def test_javascript_on_nothing_tracks_before_a_choice(
    visit: VisitorFactory, gate_site: ModuleType, path: str
) -> None:
    visitor = visit()
    page = visitor.page

    page.goto(path)
    visitor.wait_for_banner_script()  # deferred: whatever it does on start-up has happened

    assert visitor.recorder.hits == []
    assert visitor.tracker_runs() == []
    assert visitor.cookies() == {}  # not even the consent cookie: showing the banner stores nothing
    assert_banner_offers_a_choice(visitor)
    # First-party code, inline and external, runs as usual.
    expect(page.locator("#fp-status")).to_have_text("First-party script ran")
    assert page.evaluate("() => [window.__firstPartyInline, window.__firstParty]") == [True, 1]
    assert page.evaluate("() => logo.complete && logo.naturalWidth") == 1
    # The trackers are still in the page, inert, and say why.
    held = page.locator("script[type='text/plain'][data-cg-category]")
    expect(held.first).to_be_attached()
    # gtag and fbq are the run-time gate's stubs: the vendors' snippets have not run.
    assert page.evaluate(
        "() => [dataLayer.filter((call) => call[0] === 'config').length, typeof window._fbq]"
    ) == [0, "undefined"]
    assert page.evaluate("() => window.consentGate.decided()") is False
    assert page.evaluate("() => window.consentGate.choices()") == {
        "preferences": False,
        "analytics": False,
        "marketing": False,
    }


def test_javascript_on_youtube_embed_shows_a_placeholder(
    visit: VisitorFactory, gate_site: ModuleType
) -> None:
    visitor = visit()

    visitor.page.goto("/")

    assert_embeds_show_placeholders(visitor, gate_site)
    assert not visitor.recorder.hits_to("youtube.com")
    assert not visitor.recorder.hits_to("ytimg.com")


@pytest.mark.parametrize("path", ["/", "/next"])
def test_javascript_off_nothing_tracks_before_a_choice(
    visit: VisitorFactory, gate_site: ModuleType, path: str
) -> None:
    visitor = visit(javascript_enabled=False)
    page = visitor.page

    page.goto(path)

    # With scripting off the browser parses <noscript> as markup: the GTM iframe and the Meta
    # pixel in there would load right away, had the gate not held them back.
    assert visitor.recorder.hits == []
    assert visitor.cookies() == {}
    assert_banner_offers_a_choice(visitor)
    noscript_iframe = page.locator(f"iframe[data-cg-src='{gate_site.GTM_NOSCRIPT_URL}']")
    expect(noscript_iframe).to_have_count(1)
    expect(noscript_iframe).not_to_have_attribute("src", gate_site.GTM_NOSCRIPT_URL)
    # The page itself and its first-party resources are served as usual.
    expect(page.locator("#page-title")).to_have_text("Home" if path == "/" else "Next page")
    assert page.evaluate("() => logo.complete && logo.naturalWidth") == 1
    expect(page.locator("#fp-status")).to_have_text("First-party script did not run")


def test_javascript_off_youtube_embed_shows_a_placeholder(
    visit: VisitorFactory, gate_site: ModuleType
) -> None:
    visitor = visit(javascript_enabled=False)

    visitor.page.goto("/")

    assert_embeds_show_placeholders(visitor, gate_site)
    assert visitor.recorder.hits == []


def test_closing_the_dialog_records_nothing(visit: VisitorFactory) -> None:
    visitor = visit()
    page = visitor.page
    page.goto("/")
    visitor.wait_for_banner_script()

    visitor.customize.click()
    expect(visitor.dialog).to_be_visible()
    visitor.dialog.get_by_role("button", name="Close").click()
    expect(visitor.dialog).to_be_hidden()
    page.reload()

    assert visitor.recorder.hits == []
    assert visitor.cookies() == {}
    expect(visitor.banner).to_be_visible()
