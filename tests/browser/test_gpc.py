"""Global Privacy Control and Do Not Track in a real browser: GPC refuses marketing without
asking about it, says so, and is recorded once; DNT changes nothing and is recorded as ignored."""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from playwright.sync_api import expect

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import LoggedSite, VisitorFactory

ENDPOINT = "/consent-gate/consent"
NOTICE = "Opt-out request honoured"
# What a browser with GPC on but a proxy stripping Sec-GPC looks like to the page; the counter
# tells the test how many documents the tab (not its frames) has loaded.
PAGE_LEVEL_GPC = """
Object.defineProperty(Navigator.prototype, "globalPrivacyControl", {
  get: () => true, configurable: true,
});
if (window.top === window) {
  sessionStorage.setItem("loads", String(Number(sessionStorage.getItem("loads") || 0) + 1));
}
"""


def test_gpc_header_refuses_marketing_without_asking_and_says_so(
    visit: VisitorFactory, logged_site: LoggedSite, gate_site: ModuleType
) -> None:
    base_url = logged_site.base_url
    before = len(logged_site.records())
    visitor = visit(base_url)
    visitor.context.set_extra_http_headers({"Sec-GPC": "1"})
    page = visitor.page
    visitor.load("/")

    # Analytics and preferences are still asked about; marketing is not, and the notice says why.
    expect(visitor.banner).to_be_visible()
    expect(visitor.banner.get_by_text(NOTICE)).to_be_visible()
    visitor.banner.get_by_role("link", name="Customize").click()
    marketing = visitor.dialog.get_by_label("Marketing")
    expect(marketing).to_be_disabled()
    expect(marketing).not_to_be_checked()
    expect(visitor.dialog.get_by_role("switch", name="Analytics", exact=True)).to_be_enabled()
    expect(visitor.dialog.get_by_text(NOTICE).first).to_be_visible()
    visitor.dialog.get_by_role("button", name="Close").click()
    video = page.frame_locator("#snippet-youtube-embed iframe").first
    expect(video.get_by_text(NOTICE)).to_be_visible()
    expect(video.get_by_role("button")).to_have_count(0)

    # "Accept all" starts analytics in place; marketing stays refused.
    with page.expect_response(f"{base_url}{ENDPOINT}"):
        visitor.banner.get_by_role("button", name="Accept all").click()
    visitor.recorder.wait_for("googletagmanager.com")
    expect(visitor.banner).to_have_count(0)
    visitor.load("/next")
    visitor.load("/")
    assert visitor.tracker_hosts() & gate_site.ANALYTICS_HOSTS
    assert not visitor.tracker_hosts() & gate_site.MARKETING_HOSTS
    assert not visitor.cookie_names() & gate_site.MARKETING_COOKIES

    # One opt-out record (the first page view), then the decision; later views add nothing.
    made = logged_site.records()[before:]
    assert [(r.action, r.method) for r in made] == [
        ("gpc_opt_out", "gpc-header"),
        ("accept_all", "banner"),
    ]
    assert all(dict(r.signals) == {"gpc": "honoured"} for r in made)
    assert made[1].replaces == made[0].consent_id
    assert not made[1].choices["marketing"]
    assert made[1].choices["analytics"]
    assert made[1].consent_id == visitor.consent_id()

    # The policy page and the preferences page say the same.
    expect(page.locator("#cg-gpc-notice")).to_have_text(NOTICE)
    expect(page.locator("#category-marketing .cg-choice")).to_contain_text(NOTICE)
    page.goto("/consent-gate/preferences")
    expect(page.get_by_label("Marketing")).to_be_disabled()
    expect(page.get_by_label("Marketing")).not_to_be_checked()
    expect(page.get_by_text(NOTICE).first).to_be_visible()


def test_page_level_gpc_is_reported_recorded_and_stops_running_marketing(
    visit: VisitorFactory, logged_site: LoggedSite, gate_site: ModuleType
) -> None:
    base_url = logged_site.base_url
    before = len(logged_site.records())
    visitor = visit(base_url)
    page = visitor.page
    visitor.load("/")
    with page.expect_response(f"{base_url}{ENDPOINT}"):
        visitor.banner.get_by_role("button", name="Accept all").click()
    visitor.recorder.wait_for("connect.facebook.net")  # marketing runs

    # GPC turns on in the browser, but no Sec-GPC header reaches the site.
    visitor.context.add_init_script(PAGE_LEVEL_GPC)
    with page.expect_response(f"{base_url}{ENDPOINT}"):
        page.reload()
    page.wait_for_function("() => sessionStorage.getItem('loads') === '2'")  # banner.js reloaded
    visitor.wait_for_banner_script()
    visitor.recorder.clear()
    visitor.load("/")
    assert page.evaluate("() => sessionStorage.getItem('loads')") == "3"  # reported once only
    assert visitor.tracker_hosts() & gate_site.ANALYTICS_HOSTS
    assert not visitor.tracker_hosts() & gate_site.MARKETING_HOSTS
    visitor.settings.click()
    expect(visitor.dialog.get_by_label("Marketing")).to_be_disabled()
    expect(visitor.dialog.get_by_text(NOTICE).first).to_be_visible()

    made = logged_site.records()[before:]
    assert [(r.action, r.method) for r in made] == [
        ("accept_all", "banner"),
        ("gpc_opt_out", "gpc-js"),
    ]
    assert dict(made[1].signals) == {"gpc": "honoured"}
    assert made[1].replaces == made[0].consent_id
    assert {c for c, v in made[1].choices.items() if v} == {"necessary", "preferences", "analytics"}


def test_page_level_gpc_of_an_undecided_visitor_keeps_the_banner_asking(
    visit: VisitorFactory, logged_site: LoggedSite, gate_site: ModuleType
) -> None:
    base_url = logged_site.base_url
    before = len(logged_site.records())
    visitor = visit(base_url)
    visitor.context.add_init_script(PAGE_LEVEL_GPC)
    page = visitor.page
    with page.expect_response(f"{base_url}{ENDPOINT}"):
        visitor.load("/")
    expect(visitor.banner.get_by_text(NOTICE)).to_be_visible()
    with page.expect_response(f"{base_url}{ENDPOINT}") as accepted:
        visitor.banner.get_by_role("button", name="Accept all").click()
    assert accepted.value.json()["choices"]["marketing"] is False
    visitor.recorder.wait_for("googletagmanager.com")
    visitor.load("/next")
    assert not visitor.tracker_hosts() & gate_site.MARKETING_HOSTS

    made = logged_site.records()[before:]
    assert [(r.action, r.method, dict(r.signals)) for r in made] == [
        ("gpc_opt_out", "gpc-js", {"gpc": "honoured"}),
        ("accept_all", "banner", {"gpc": "honoured"}),
    ]


def test_dnt_changes_neither_banner_nor_trackers_and_is_recorded_as_ignored(
    visit: VisitorFactory, logged_site: LoggedSite, gate_site: ModuleType
) -> None:
    base_url = logged_site.base_url
    before = len(logged_site.records())
    visitor = visit(base_url)
    visitor.context.set_extra_http_headers({"DNT": "1"})
    page = visitor.page
    visitor.load("/")
    expect(visitor.banner).to_be_visible()
    expect(page.locator("#cg-root .cg-gpc").first).to_be_hidden()
    assert not visitor.tracker_hosts() & (gate_site.ANALYTICS_HOSTS | gate_site.MARKETING_HOSTS)
    assert logged_site.records()[before:] == []  # seeing DNT alone records nothing
    with page.expect_response(f"{base_url}{ENDPOINT}"):
        visitor.banner.get_by_role("button", name="Accept all").click()
    visitor.recorder.wait_for("connect.facebook.net")
    visitor.recorder.wait_for("googletagmanager.com")
    (made,) = logged_site.records()[before:]
    assert (made.action, dict(made.signals)) == ("accept_all", {"dnt": "ignored"})
    page.goto("/consent-gate/policy")
    expect(page.locator("#cg-dnt-statement")).to_contain_text("does not honour")
    expect(page.locator("#cg-gpc-statement")).to_contain_text("honours Global Privacy Control")


def test_well_known_gpc_json_is_served(visit: VisitorFactory, site_url: str) -> None:
    visitor = visit()
    response = visitor.page.goto("/.well-known/gpc.json")
    assert response is not None
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"gpc": True}
