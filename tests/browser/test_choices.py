"""The visitor's choices, with JavaScript: Accept all, Customize, Reject all, the placeholder.

A choice takes effect in the same page view (no reload): held-back scripts run in document order,
embeds load, and the following pages load what was allowed directly from the server's HTML.
"""

from __future__ import annotations

import time
from types import ModuleType
from typing import TYPE_CHECKING

from playwright.sync_api import Route, expect

from consent_gate.qa import serve

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import Visitor, VisitorFactory

EXPECTED_SCRIPTS_ALL = {
    "https://cdn.stats.example/lib.js",
    "https://www.googletagmanager.com/gtag/js?id=G-XXXXXXXXXX",
    "https://www.googletagmanager.com/gtm.js?id=GTM-XXXXXXX",
    "https://connect.facebook.net/en_US/fbevents.js",
    "https://static.hotjar.com/c/hotjar-1234567.js?sv=6",
    "https://www.youtube.com/iframe_api",
}


def wait_for_hosts(visitor: Visitor, hosts: frozenset[str]) -> None:
    for host in sorted(hosts):
        visitor.recorder.wait_for(host)


def wait_for_scripts(visitor: Visitor, urls: set[str]) -> None:
    """Wait until every stubbed tracker script in ``urls`` has run in this page view."""
    visitor.page.wait_for_function(
        "(urls) => urls.every((url) => (window.__cgTrackerRuns || []).includes(url))",
        arg=sorted(urls),
    )


def test_accept_all_starts_every_tracker_in_the_same_page_view(
    visit: VisitorFactory, gate_site: ModuleType, site_url: str
) -> None:
    visitor = visit()
    page = visitor.page
    visitor.load("/")
    assert visitor.recorder.hits == []
    visitor.mark_page_view()
    page.evaluate(
        """() => { window.__changes = [];
            document.addEventListener("consentgate:change", (e) => window.__changes.push(e.detail));
        }"""
    )

    visitor.banner.get_by_role("button", name="Accept all").click()

    wait_for_hosts(visitor, gate_site.ANALYTICS_HOSTS | gate_site.MARKETING_HOSTS)
    wait_for_scripts(visitor, EXPECTED_SCRIPTS_ALL)
    visitor.assert_same_page_view(f"{site_url}/")
    expect(visitor.banner).to_have_count(0)
    expect(visitor.settings).to_be_focused()  # focus was on the removed banner: not lost
    # With JavaScript on, <noscript> stays inert: its pixel is never requested.
    assert not visitor.recorder.hits_to("www.facebook.com")
    assert visitor.tracker_hosts() == gate_site.ANALYTICS_HOSTS | gate_site.MARKETING_HOSTS
    # Document order: a (non-async) library runs before the inline code that needs it, and the
    # inline snippets ran in page order (each later one needs what an earlier one defined).
    assert page.evaluate("() => window.__order") == ["lib", "config-after-lib"]
    assert page.evaluate("() => dataLayer.map((entry) => entry[0] || entry.event)") == [
        "js",
        "config",
        "gtm.js",
        "event",
    ]
    assert page.evaluate("() => fbq.queue.map((call) => call[0] + ':' + call[1])") == [
        "init:1234567890",
        "track:PageView",
        "track:Purchase",
    ]
    # The GA stub ran like GA: cookie plus collect beacon.
    collect = visitor.recorder.wait_for("www.google-analytics.com")
    assert collect.url == gate_site.GA_COLLECT_URL
    assert collect.method == "POST"
    assert {"_ga", "_fbp", "_hjSessionUser_1234567"} <= visitor.wait_for_cookies(
        {"_ga", "_fbp", "_hjSessionUser_1234567"}
    )
    # Embeds and images load their real addresses.
    embed = page.locator("#snippet-youtube-embed iframe").first
    expect(embed).to_have_attribute("src", gate_site.YOUTUBE_EMBED_URL)
    assert embed.evaluate("(frame) => frame.hasAttribute('srcdoc')") is False
    embedded = page.frame_locator("#snippet-youtube-embed iframe").first
    expect(embedded.locator("body")).to_have_text("stub for www.youtube.com")
    expect(page.locator("#snippet-youtube-embed img")).to_have_js_property("naturalWidth", 1)
    assert page.locator("[data-cg-category]:not(noscript *)").count() == 0
    # The page was told, and the API agrees.
    assert page.evaluate("() => window.__changes") == [
        {
            "choices": {"preferences": True, "analytics": True, "marketing": True},
            "services": {},
            "decided": True,
        }
    ]
    assert page.evaluate("() => window.consentGate.decided()") is True


def test_after_accept_all_the_next_page_loads_trackers_directly(
    visit: VisitorFactory, gate_site: ModuleType
) -> None:
    visitor = visit()
    visitor.load("/")
    visitor.banner.get_by_role("button", name="Accept all").click()
    wait_for_scripts(visitor, EXPECTED_SCRIPTS_ALL)
    visitor.recorder.clear()

    visitor.load("/next")

    # Requested while the page loaded, straight from the HTML: no banner, nothing held back.
    hosts = visitor.tracker_hosts()
    assert {
        "www.googletagmanager.com",
        "connect.facebook.net",
        "www.youtube.com",
    } <= hosts
    assert hosts <= gate_site.ANALYTICS_HOSTS | gate_site.MARKETING_HOSTS
    expect(visitor.banner).to_have_count(0)
    assert visitor.page.locator("[data-cg-category]").count() == 0
    expect(visitor.page.locator("#video iframe")).to_have_attribute(
        "src", gate_site.YOUTUBE_EMBED_URL
    )


def test_customize_allows_analytics_only(
    visit: VisitorFactory, gate_site: ModuleType, site_url: str
) -> None:
    visitor = visit()
    page = visitor.page
    visitor.load("/")
    visitor.mark_page_view()

    visitor.banner.get_by_role("link", name="Customize").click()

    dialog = visitor.dialog
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Privacy preferences")
    expect(dialog.get_by_role("switch", name="Strictly necessary")).to_be_checked()
    expect(dialog.get_by_role("switch", name="Strictly necessary")).to_be_disabled()
    for name in ("Preferences", "Analytics", "Marketing"):
        expect(dialog.get_by_role("switch", name=name)).not_to_be_checked()
    dialog.get_by_role("switch", name="Analytics").check()
    dialog.get_by_role("button", name="Save choices").click()

    wait_for_hosts(visitor, gate_site.ANALYTICS_HOSTS)
    wait_for_scripts(
        visitor,
        {
            "https://cdn.stats.example/lib.js",
            "https://www.googletagmanager.com/gtag/js?id=G-XXXXXXXXXX",
            "https://www.googletagmanager.com/gtm.js?id=GTM-XXXXXXX",
            "https://static.hotjar.com/c/hotjar-1234567.js?sv=6",
        },
    )
    visitor.assert_same_page_view(f"{site_url}/")
    expect(dialog).to_be_hidden()
    expect(visitor.banner).to_have_count(0)
    assert visitor.tracker_hosts() == gate_site.ANALYTICS_HOSTS
    assert page.evaluate("() => typeof window._fbq") == "undefined"  # fbq is the gate's stub
    assert not (visitor.cookie_names() & gate_site.MARKETING_COOKIES)
    expect(page.locator("#snippet-youtube-embed iframe").first).not_to_have_attribute(
        "src", gate_site.YOUTUBE_EMBED_URL
    )
    assert page.evaluate("() => window.consentGate.choices()") == {
        "preferences": False,
        "analytics": True,
        "marketing": False,
    }

    visitor.recorder.clear()
    visitor.load("/next")

    assert "www.googletagmanager.com" in visitor.tracker_hosts()
    assert visitor.tracker_hosts() <= gate_site.ANALYTICS_HOSTS
    expect(visitor.banner).to_have_count(0)
    # Reopened, the dialog shows the saved choice.
    visitor.settings.click()
    expect(visitor.dialog.get_by_role("switch", name="Analytics")).to_be_checked()
    expect(visitor.dialog.get_by_role("switch", name="Marketing")).not_to_be_checked()


def test_reject_all_keeps_everything_out_and_the_site_working(
    visit: VisitorFactory, site_url: str
) -> None:
    visitor = visit()
    page = visitor.page
    visitor.load("/")
    visitor.mark_page_view()

    visitor.banner.get_by_role("button", name="Reject all").click()

    expect(visitor.banner).to_have_count(0)
    page.wait_for_function("() => window.consentGate.decided()")
    visitor.assert_same_page_view(f"{site_url}/")
    assert "consent_gate" in visitor.cookie_names()
    # The site still works: first-party script, a first-party request, a form post.
    page.get_by_role("button", name="Ping the site").click()
    expect(page.locator("#ping-result")).to_have_text("pong")
    assert visitor.recorder.hits == []

    for path in ("/next", "/"):
        visitor.load(path)
        assert visitor.recorder.hits == []
        expect(visitor.banner).to_have_count(0)
        expect(visitor.settings).to_be_visible()
        expect(page.locator("#fp-status")).to_have_text("First-party script ran")
    visitor.load("/form")
    page.get_by_label("Name").fill("Ada")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#thanks")).to_have_text("Thanks, Ada!")
    assert visitor.recorder.hits == []
    assert visitor.cookie_names() == {"consent_gate"}


def test_choice_is_kept_across_pages_in_an_httponly_lax_cookie(
    visit: VisitorFactory, site_url: str
) -> None:
    visitor = visit()
    visitor.load("/")
    visitor.banner.get_by_role("button", name="Accept all").click()
    visitor.page.wait_for_function("() => window.consentGate.decided()")
    decided_at = time.time()

    for path in ("/next", "/form", "/set-cookies", "/"):
        visitor.recorder.clear()
        visitor.load(path)
        expect(visitor.banner).to_have_count(0)
        expect(visitor.settings).to_be_visible()
        assert visitor.page.evaluate("() => window.consentGate.decided()") is True
        if path in ("/", "/next"):
            assert visitor.recorder.hits_to("googletagmanager.com")

    cookie = visitor.cookies()["consent_gate"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/"
    assert cookie["secure"] is False  # plain http here; Secure on https
    # Six months by default, not a session cookie.
    assert 181 * 86400 < cookie["expires"] - decided_at < 183 * 86400
    # Not readable by page script.
    assert "consent_gate" not in visitor.page.evaluate("() => document.cookie")


def test_revision_bump_asks_again(
    visit: VisitorFactory, gate_site: ModuleType, site_url: str
) -> None:
    visitor = visit()
    visitor.load("/")
    visitor.banner.get_by_role("button", name="Accept all").click()
    visitor.page.wait_for_function("() => window.consentGate.decided()")
    old_cookie = visitor.cookies()["consent_gate"]

    site_v2 = gate_site.create_site(revision=2, secret_key=gate_site.SECRET)
    with serve(site_v2) as v2_url:
        returning = visit(v2_url)
        returning.context.add_cookies(
            [
                {
                    "name": old_cookie["name"],
                    "value": old_cookie["value"],
                    "url": v2_url,
                    "httpOnly": True,
                    "sameSite": "Lax",
                }
            ]
        )
        assert "consent_gate" in returning.cookie_names()

        returning.load("/")

        expect(returning.banner).to_be_visible()
        assert returning.recorder.hits == []
        assert returning.page.evaluate("() => window.consentGate.decided()") is False
        # The stale cookie is not replaced until the visitor chooses again.
        returning.banner.get_by_role("button", name="Reject all").click()
        returning.page.wait_for_function("() => window.consentGate.decided()")
        assert returning.cookies()["consent_gate"]["value"] != old_cookie["value"]
        returning.load("/")
        expect(returning.banner).to_have_count(0)
        assert returning.recorder.hits == []


def test_placeholder_button_allows_its_service_and_the_embed_loads(
    visit: VisitorFactory, gate_site: ModuleType, site_url: str
) -> None:
    visitor = visit()
    page = visitor.page
    visitor.load("/")
    visitor.mark_page_view()
    placeholder = page.frame_locator("#snippet-youtube-embed iframe").first
    # The fixed banner covers the bottom of the window: scroll the video up, as a visitor would.
    page.locator("#snippet-youtube-embed iframe").first.evaluate(
        "(frame) => frame.scrollIntoView({block: 'start'})"
    )

    placeholder.get_by_role("button", name="Allow YouTube and load").click()

    visitor.recorder.wait_for("www.youtube.com")
    embed = page.locator("#snippet-youtube-embed iframe").first
    expect(embed).to_have_attribute("src", gate_site.YOUTUBE_EMBED_URL)
    wait_for_scripts(visitor, {"https://www.youtube.com/iframe_api"})
    visitor.assert_same_page_view(f"{site_url}/")
    embedded = placeholder.locator("body")
    expect(embedded).to_have_text("stub for www.youtube.com")
    # Only the placeholder's service: the rest of Marketing (Meta) and Analytics stay off.
    youtube = {"www.youtube.com", "www.youtube-nocookie.com", "i.ytimg.com"}
    assert visitor.tracker_hosts() <= youtube
    assert page.evaluate("() => window.consentGate.choices()") == {
        "preferences": False,
        "analytics": False,
        "marketing": False,
    }
    assert page.evaluate("() => window.consentGate.services()") == {"youtube": True}
    expect(visitor.banner).to_have_count(0)

    visitor.recorder.clear()
    visitor.load("/next")
    expect(page.locator("#video iframe")).to_have_attribute("src", gate_site.YOUTUBE_EMBED_URL)
    assert visitor.tracker_hosts() <= youtube
    assert not visitor.recorder.hits_to("googletagmanager.com")


def test_settings_dialog_traps_focus_and_escape_closes_it(visit: VisitorFactory) -> None:
    visitor = visit()
    page = visitor.page
    visitor.load("/")
    inside = "() => document.querySelector('#cg-preferences .cg-dialog')" + (
        ".contains(document.activeElement)"
    )

    visitor.customize.focus()
    page.keyboard.press("Enter")

    expect(visitor.dialog).to_be_visible()
    assert page.evaluate(inside)
    for key in ["Tab"] * 12 + ["Shift+Tab"] * 12:
        page.keyboard.press(key)
        assert page.evaluate(inside), key
    page.keyboard.press("Escape")
    expect(visitor.dialog).to_be_hidden()
    expect(visitor.customize).to_be_focused()  # back where the visitor opened it
    expect(visitor.banner).to_be_visible()  # closing the dialog decided nothing
    assert visitor.cookies() == {}
    assert visitor.recorder.hits == []


def test_choice_falls_back_to_the_form_when_the_request_fails(
    visit: VisitorFactory, site_url: str
) -> None:
    visitor = visit()
    page = visitor.page

    def fail_fetches(route: Route) -> None:
        if route.request.resource_type == "fetch":
            route.abort()
        else:
            route.continue_()

    visitor.context.route(f"{site_url}/consent-gate/consent", fail_fetches)
    visitor.load("/next")

    with page.expect_navigation(url=f"{site_url}/next"):
        visitor.banner.get_by_role("button", name="Accept all").click()

    # The choice was not lost: posted as a form, the page came back with trackers allowed.
    expect(visitor.banner).to_have_count(0)
    assert "consent_gate" in visitor.cookie_names()
    assert visitor.recorder.hits_to("googletagmanager.com")
    # The banner reports the failed request on the console; that is expected here.
    visitor.errors[:] = [e for e in visitor.errors if "Failed to fetch" not in e]


def test_choices_made_in_quick_succession_are_all_sent_and_the_last_counts(
    visit: VisitorFactory, site_url: str
) -> None:
    visitor = visit()
    visitor.load("/")
    final = visitor.page.evaluate(
        """async () => {
            const first = window.consentGate.accept(["analytics"]);
            const second = window.consentGate.accept(["analytics", "marketing"]);
            await first;
            return await second;
        }"""
    )
    assert final["choices"] == {"preferences": False, "analytics": True, "marketing": True}
    visitor.load("/next")  # the server kept the second choice
    assert visitor.page.evaluate("window.consentGate.choices()")["marketing"] is True


def test_a_decided_visitor_gets_the_dialog_when_opening_cookie_settings(
    visit: VisitorFactory,
) -> None:
    visitor = visit()
    page = visitor.page
    visitor.load("/")
    visitor.banner.get_by_role("button", name="Reject all").click()
    expect(visitor.banner).to_have_count(0)
    visitor.load("/")
    expect(page.locator("#cg-preferences")).to_have_count(0)  # not carried by the page

    with page.expect_response(lambda response: "/consent-gate/dialog" in response.url):
        page.locator("#cg-settings").click()

    expect(visitor.dialog).to_be_visible()
    inside = "() => document.querySelector('#cg-preferences .cg-dialog')" + (
        ".contains(document.activeElement)"
    )
    assert page.evaluate(inside)
    analytics = visitor.dialog.get_by_role("switch", name="Analytics")
    expect(analytics).not_to_be_checked()
    analytics.check()
    visitor.dialog.get_by_role("button", name="Save").click()
    expect(visitor.dialog).to_be_hidden()
    page.wait_for_function("() => window.consentGate.choices().analytics === true")
    assert page.url.endswith("/")  # in place, no navigation


def test_cookie_settings_opens_the_preferences_page_when_the_dialog_cannot_be_fetched(
    visit: VisitorFactory, site_url: str
) -> None:
    visitor = visit()
    page = visitor.page
    visitor.load("/")
    visitor.banner.get_by_role("button", name="Reject all").click()
    expect(visitor.banner).to_have_count(0)
    visitor.context.route(f"{site_url}/consent-gate/dialog?**", lambda route: route.abort())
    visitor.load("/")

    with page.expect_navigation(url=f"{site_url}/consent-gate/preferences?**"):
        page.locator("#cg-settings").click()

    expect(page.get_by_role("switch", name="Analytics")).not_to_be_checked()
    visitor.errors[:] = [e for e in visitor.errors if "ERR_FAILED" not in e]
