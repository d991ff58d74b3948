"""A held-back frame's placeholder: who provides it, a privacy link, "load once" (this frame, this
page view, nothing stored), "always allow" (the service, stored), a link to the provider's own
page, and the site's theme."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from playwright.sync_api import FrameLocator, expect

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import OpenPage, Visitor, VisitorFactory

WATCH_URL = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


def youtube_placeholder(visitor: Visitor) -> FrameLocator:
    frame = visitor.page.locator("#snippet-youtube-embed iframe").first
    # The fixed banner covers the bottom of the window: scroll the video up, as a visitor would.
    frame.evaluate("(frame) => frame.scrollIntoView({block: 'start'})")
    return visitor.page.frame_locator("#snippet-youtube-embed iframe").first


def test_placeholder_names_the_provider_and_links_its_privacy_policy(visit: VisitorFactory) -> None:
    visitor = visit()
    visitor.load("/")
    placeholder = youtube_placeholder(visitor)
    expect(placeholder.locator(".cg-placeholder-title")).to_have_text("YouTube · Marketing")
    expect(placeholder.get_by_text("Provider: Google Ireland Limited", exact=False)).to_be_visible()
    privacy = placeholder.get_by_role("link", name="Privacy policy")
    expect(privacy).to_have_attribute("href", "https://policies.google.com/privacy")
    expect(privacy).to_have_attribute("target", "_blank")
    elsewhere = placeholder.get_by_role("link", name="Open it on youtube.com instead")
    expect(elsewhere).to_have_attribute("href", WATCH_URL)
    assert visitor.recorder.hits == []  # showing all that loads nothing


def test_load_once_starts_only_this_frame_and_stores_nothing(
    visit: VisitorFactory, gate_site: ModuleType
) -> None:
    visitor = visit()
    page = visitor.page
    visitor.load("/")
    visitor.mark_page_view()
    placeholder = youtube_placeholder(visitor)

    placeholder.get_by_role("button", name="Load once").click()

    visitor.recorder.wait_for("www.youtube.com")
    embed = page.locator("#snippet-youtube-embed iframe").first
    expect(embed).to_have_attribute("src", gate_site.YOUTUBE_EMBED_URL)
    # Nothing else of Marketing started, no choice was made and nothing was stored.
    assert visitor.tracker_hosts() == {"www.youtube.com"}
    assert page.evaluate("() => window.consentGate.decided()") is False
    assert visitor.cookies() == {}
    expect(visitor.banner).to_be_visible()
    visitor.assert_same_page_view(visitor.base_url + "/")
    # The next page holds it back again.
    visitor.recorder.clear()
    visitor.load("/")
    expect(youtube_placeholder(visitor).get_by_role("button", name="Load once")).to_be_visible()
    assert visitor.recorder.hits == []


def test_without_javascript_only_the_stored_choice_is_offered(visit: VisitorFactory) -> None:
    visitor = visit(javascript_enabled=False)
    visitor.page.goto("/")
    placeholder = youtube_placeholder(visitor)
    expect(placeholder.get_by_role("button", name="Allow YouTube and load")).to_be_visible()
    expect(placeholder.get_by_role("button", name="Load once")).to_be_hidden()
    expect(placeholder.get_by_role("link", name="Privacy policy")).to_be_visible()


def test_placeholder_follows_the_sites_theme(open_banner_page: OpenPage) -> None:
    page = open_banner_page({"banner": {"theme": "dark"}}, extra_body=EMBED)
    frame = page.frame_locator("#video iframe")
    body = frame.locator("body")
    expect(body).to_have_attribute("data-cg-theme", "dark")
    assert body.evaluate("(el) => getComputedStyle(el).backgroundColor") == "rgb(31, 41, 55)"


def test_a_sites_own_wording_of_the_link_elsewhere_is_offered(
    open_banner_page: OpenPage, tmp_path: Path
) -> None:
    """A site's placeholder template may word the link to the provider's page itself, without our
    data-cg-text: the link is still offered, in its words (banner.js read the missing attribute
    as a string and threw, leaving the link hidden; the type check found it)."""
    ours = (resources.files("consent_gate") / "templates" / "placeholder.html").read_text("utf-8")
    own = ours.replace('data-cg-text="{{ t.open }}"></a>', ">Watch it on YouTube</a>")
    assert own != ours
    (tmp_path / "placeholder.html").write_text(own, "utf-8")
    page = open_banner_page({"pages": {"templates": str(tmp_path)}}, extra_body=EMBED)
    link = page.frame_locator("#video iframe").get_by_role("link", name="Watch it on YouTube")
    expect(link).to_be_visible()
    expect(link).to_have_attribute("href", WATCH_URL)


EMBED = (
    '<div id="video"><iframe width="560" height="315" '
    'src="https://www.youtube.com/embed/dQw4w9WgXcQ"></iframe></div>'
)
