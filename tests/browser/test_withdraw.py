"""Withdrawing (or narrowing) consent: the category's cookies go and its trackers stop.

Trackers already running can only be stopped by a fresh page, so a withdrawal reloads; cookies
are expired both by the banner script (those it can see) and by the server (HttpOnly included).
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from playwright.sync_api import expect

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import Visitor, VisitorFactory

ALL_SCRIPTS = {
    "https://cdn.stats.example/lib.js",
    "https://www.googletagmanager.com/gtag/js?id=G-XXXXXXXXXX",
    "https://connect.facebook.net/en_US/fbevents.js",
    "https://static.hotjar.com/c/hotjar-1234567.js?sv=6",
}


def accept_everything_and_collect_cookies(visitor: Visitor, gate_site: ModuleType) -> None:
    """Accept all, let the trackers set their cookies, get an HttpOnly ``_ga`` from the server."""
    visitor.load("/")
    visitor.banner.get_by_role("button", name="Accept all").click()
    visitor.page.wait_for_function(
        "(urls) => urls.every((url) => (window.__cgTrackerRuns || []).includes(url))",
        arg=sorted(ALL_SCRIPTS),
    )
    visitor.load("/set-cookies")
    visitor.recorder.clear()
    visitor.load("/")  # a page with trackers running, from which the visitor withdraws
    visitor.wait_for_cookies(gate_site.TRACKER_COOKIE_NAMES)
    cookies = visitor.cookies()
    assert cookies["_ga"]["httpOnly"] is True  # set by the server: page script cannot delete it
    assert cookies["_ga"]["value"] == "GA1.1.999.1700000000"
    assert cookies["_fbp"]["httpOnly"] is False  # set by the Meta script
    assert set(cookies) >= gate_site.TRACKER_COOKIE_NAMES
    assert visitor.recorder.hits_to("connect.facebook.net")
    visitor.recorder.wait_for("www.google-analytics.com")  # this page view's beacon, sent late


def test_withdraw_in_the_settings_dialog_clears_cookies_and_stops_trackers(
    visit: VisitorFactory, gate_site: ModuleType, site_url: str
) -> None:
    visitor = visit()
    page = visitor.page
    accept_everything_and_collect_cookies(visitor, gate_site)
    visitor.recorder.clear()

    visitor.settings.click()
    withdraw = visitor.dialog.get_by_role("button", name="Withdraw consent")
    expect(withdraw).to_be_visible()
    with page.expect_navigation(url=f"{site_url}/"):  # the reload withdrawing triggers
        withdraw.click()
    visitor.wait_for_banner_script()

    assert visitor.recorder.hits == []
    assert visitor.cookie_names() == {"consent_gate", "session"}  # necessary ones stay
    assert not (set(page.evaluate("() => document.cookie").split("; ")) & {"_fbp", "_ga"})
    assert visitor.tracker_runs() == []
    expect(visitor.banner).to_have_count(0)  # withdrawing is a choice: no banner again
    assert page.evaluate("() => window.consentGate.choices()") == {
        "preferences": False,
        "analytics": False,
        "marketing": False,
    }
    expect(page.locator("#snippet-youtube-embed iframe").first).not_to_have_attribute(
        "src", gate_site.YOUTUBE_EMBED_URL
    )

    for path in ("/next", "/set-cookies", "/"):
        visitor.load(path)
        assert visitor.recorder.hits == []
        assert visitor.cookie_names() == {"consent_gate", "session"}


def test_narrowing_consent_removes_only_the_revoked_category(
    visit: VisitorFactory, gate_site: ModuleType, site_url: str
) -> None:
    visitor = visit()
    page = visitor.page
    accept_everything_and_collect_cookies(visitor, gate_site)
    visitor.recorder.clear()

    visitor.settings.click()
    marketing = visitor.dialog.get_by_role("switch", name="Marketing")
    expect(marketing).to_be_checked()
    marketing.uncheck()
    with page.expect_navigation(url=f"{site_url}/"):  # revoking reloads, like a withdrawal
        visitor.dialog.get_by_role("button", name="Save choices").click()
    visitor.wait_for_banner_script()

    names = visitor.cookie_names()
    assert not (names & gate_site.MARKETING_COOKIES)
    assert names >= gate_site.ANALYTICS_COOKIES
    assert visitor.cookies()["_ga"]["value"] == "GA1.1.999.1700000000"
    hosts = visitor.tracker_hosts()
    assert "www.googletagmanager.com" in hosts
    assert not (hosts & gate_site.MARKETING_HOSTS)
    assert page.evaluate("() => typeof window._fbq") == "undefined"  # fbq is the gate's stub

    visitor.recorder.clear()
    visitor.load("/next")
    assert not (visitor.tracker_hosts() & gate_site.MARKETING_HOSTS)
    assert not (visitor.cookie_names() & gate_site.MARKETING_COOKIES)


def test_revoking_one_service_deletes_its_cookies_and_storage_and_keeps_its_categorys_others(
    visit: VisitorFactory, gate_site: ModuleType, site_url: str
) -> None:
    visitor = visit()
    page = visitor.page
    accept_everything_and_collect_cookies(visitor, gate_site)
    page.evaluate(
        """() => {
            localStorage.setItem("_fbp", "fb.1.2.3"); // Meta Pixel keeps its id here too
            localStorage.setItem("_gcl_au", "1.1.1"); // Google Ads: Marketing, still allowed
            document.cookie = "_gcl_au=1.1.1; path=/";
        }"""
    )

    visitor.settings.click()
    marketing = visitor.dialog.locator(".cg-category", has=page.locator("#cg-cat-marketing"))
    marketing.locator("summary").click()
    marketing.get_by_role("switch", name="Meta Pixel").uncheck()
    with page.expect_navigation(url=f"{site_url}/"):  # a running tracker needs a fresh page
        visitor.dialog.get_by_role("button", name="Save choices").click()
    visitor.wait_for_banner_script()

    services = page.evaluate("() => window.consentGate.services()")
    # Marketing is off as a whole now, with each of its other services allowed apart.
    assert page.evaluate("() => window.consentGate.choices().marketing") is False
    assert "meta-pixel" not in services
    assert services["google-ads"] is True
    names = visitor.cookie_names()
    assert "_fbp" not in names
    assert {"_gcl_au", "_ga"} <= names
    stored = page.evaluate("() => [localStorage.getItem('_fbp'), localStorage.getItem('_gcl_au')]")
    assert stored == [None, "1.1.1"]


def test_withdraw_without_javascript_clears_cookies(
    visit: VisitorFactory, gate_site: ModuleType, site_url: str
) -> None:
    visitor = visit(javascript_enabled=False)
    page = visitor.page
    page.goto("/next")
    with page.expect_navigation():
        visitor.banner.get_by_role("button", name="Accept all").click()
    page.goto("/set-cookies")
    # What trackers' scripts would have left behind (scripts do not run here).
    visitor.context.add_cookies(
        [
            {"name": "_fbp", "value": "fb.1.1.1", "url": site_url},
            {"name": "_hjSessionUser_1234567", "value": "x", "url": site_url},
        ]
    )
    assert (
        visitor.wait_for_cookies(gate_site.TRACKER_COOKIE_NAMES) >= gate_site.TRACKER_COOKIE_NAMES
    )

    visitor.settings.click()
    expect(page).to_have_url(f"{site_url}/consent-gate/preferences?next=/set-cookies&lang=en")
    with page.expect_navigation(url=f"{site_url}/set-cookies"):
        page.get_by_role("button", name="Withdraw consent").click()

    assert visitor.cookie_names() == {"consent_gate", "session"}
    visitor.recorder.clear()
    page.goto("/next")
    assert visitor.recorder.hits == []
    assert visitor.cookie_names() == {"consent_gate", "session"}


def test_rejecting_after_accepting_in_the_same_page_view_stops_trackers(
    visit: VisitorFactory, gate_site: ModuleType, site_url: str
) -> None:
    visitor = visit()
    page = visitor.page
    visitor.load("/")
    visitor.banner.get_by_role("button", name="Accept all").click()
    page.wait_for_function(
        "(urls) => urls.every((url) => (window.__cgTrackerRuns || []).includes(url))",
        arg=sorted(ALL_SCRIPTS),
    )
    assert (
        visitor.wait_for_cookies(gate_site.TRACKER_COOKIE_NAMES) >= gate_site.TRACKER_COOKIE_NAMES
    )
    # The GA stub's beacon reaches the recorder a moment after the stub ran.
    visitor.recorder.wait_for("www.google-analytics.com")
    visitor.recorder.clear()

    # The trackers started in this page view: only a reload stops them.
    visitor.settings.click()
    with page.expect_navigation(url=f"{site_url}/"):
        visitor.dialog.get_by_role("button", name="Reject all").click()
    visitor.wait_for_banner_script()

    assert visitor.recorder.hits == []
    assert visitor.tracker_runs() == []
    assert visitor.cookie_names() == {"consent_gate"}
    expect(visitor.banner).to_have_count(0)
