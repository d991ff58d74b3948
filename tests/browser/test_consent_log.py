"""The consent log through a real browser: every kind of decision leaves a record of how it was
given, on which page, and replaces the one before it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from playwright.sync_api import expect

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import LoggedSite, VisitorFactory

ENDPOINT = "/consent-gate/consent"


def test_choices_in_the_banner_and_the_dialog_are_recorded_in_a_chain(
    visit: VisitorFactory, logged_site: LoggedSite
) -> None:
    base_url = logged_site.base_url
    before = len(logged_site.records())
    visitor = visit(base_url)
    page = visitor.page
    visitor.load("/next")
    with page.expect_response(f"{base_url}{ENDPOINT}"):
        visitor.banner.get_by_role("button", name="Accept all").click()
    visitor.settings.click()
    # Refusing what ran in this page view reloads it; the dialog is opened on the new page.
    with (
        page.expect_response(f"{base_url}{ENDPOINT}"),
        page.expect_navigation(url=f"{base_url}/next"),
    ):
        visitor.dialog.get_by_role("button", name="Reject all").click()
    visitor.wait_for_banner_script()
    visitor.settings.click()
    with page.expect_navigation(url=f"{base_url}/next"):  # withdrawing reloads
        visitor.dialog.get_by_role("button", name="Withdraw consent").click()
    latest = visitor.consent_id()

    made = logged_site.records()[before:]
    assert [(r.action, r.method, r.page) for r in made] == [
        ("accept_all", "banner", "/next"),
        ("reject_all", "banner", "/next"),
        ("withdraw", "banner", "/next"),
    ]
    assert made[-1].consent_id == latest
    assert [r.replaces for r in made] == [None, made[0].consent_id, made[1].consent_id]
    assert made[0].browser.startswith(("Chrome", "HeadlessChrome"))
    assert made[0].device == "pc"
    assert made[0].ip is None
    assert len({r.shown for r in made}) == 1
    assert all(r.signals == {} for r in made)


def test_no_js_form_preferences_page_and_placeholder_are_told_apart(
    visit: VisitorFactory, logged_site: LoggedSite
) -> None:
    base_url = logged_site.base_url
    before = len(logged_site.records())
    no_js = visit(base_url, javascript_enabled=False)
    no_js.page.goto("/next")
    with no_js.page.expect_navigation(url=f"{base_url}/next"):
        no_js.banner.get_by_role("button", name="Reject all").click()
    no_js.page.goto("/consent-gate/preferences?next=/next")
    no_js.page.get_by_role("switch", name="Analytics", exact=True).check()
    with no_js.page.expect_navigation(url=f"{base_url}/next"):
        no_js.page.get_by_role("button", name="Save choices").click()

    visitor = visit(base_url)
    page = visitor.page
    visitor.load("/")
    frame = page.locator("#snippet-youtube-embed iframe").first
    frame.evaluate("(frame) => frame.scrollIntoView({block: 'start'})")
    with page.expect_response(f"{base_url}{ENDPOINT}"):
        page.frame_locator("#snippet-youtube-embed iframe").first.get_by_role(
            "button", name="Allow YouTube and load"
        ).click()
    expect(visitor.banner).to_have_count(0)

    made = logged_site.records()[before:]
    assert [(r.action, r.method, r.page) for r in made] == [
        ("reject_all", "form", "/next"),
        ("save", "preferences", "/next"),
        ("allow", "placeholder", "/"),
    ]
    assert made[1].replaces == made[0].consent_id
    assert {c for c, v in made[1].choices.items() if v} == {"necessary", "analytics"}
    # The placeholder allowed its service alone, kept apart from its category.
    assert {c for c, v in made[2].choices.items() if v} == {"necessary", "marketing/youtube"}


def test_dnt_is_recorded_as_seen_and_ignored(
    visit: VisitorFactory, logged_site: LoggedSite, tmp_path: Path
) -> None:
    base_url = logged_site.base_url
    before = len(logged_site.records())
    visitor = visit(base_url)
    visitor.context.set_extra_http_headers({"DNT": "1"})
    visitor.load("/")
    with visitor.page.expect_response(f"{base_url}{ENDPOINT}"):
        visitor.banner.get_by_role("button", name="Accept all").click()
    (made,) = logged_site.records()[before:]
    assert made.signals == {"dnt": "ignored"}
