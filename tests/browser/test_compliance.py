"""The compliance checks of /work/shared/reference/compliance.md as browser tests, run against the
demo site (demo_site.create_site) and the tests' gated site (site.py) alike.

Checks covered elsewhere for the gated site and not repeated here: nothing tracks before a choice
(test_before_consent), the site works after "Reject all" and nothing loads on later pages
(test_choices::test_reject_all_keeps_everything_out_and_the_site_working, extended to the demo
below), withdrawal (test_withdraw), a revision bump asks again (test_choices), Escape and focus
(test_accessibility, test_choices).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from demo_site import create_site as create_demo_site
from demo_site import create_tracker
from demo_site.site import PRODUCTS
from playwright.sync_api import Page, expect
from wcag import colours, contrast

from consent_gate.qa import serve

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import Visitor, VisitorFactory


@dataclass(frozen=True)
class Target:
    """A gated site under test: where it runs, a few of its pages, a link between them."""

    name: str
    base_url: str
    pages: tuple[str, ...]
    link: str  # a same-site link on the first page, to navigate without choosing


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    with (
        serve(create_tracker()) as tracker,
        serve(create_demo_site(tracker_origin=tracker, secret_key="compliance-test")) as site,
    ):
        yield site


@pytest.fixture(params=["demo", "gated"])
def target(request: pytest.FixtureRequest, site_url: str, demo_url: str) -> Target:
    if request.param == "demo":
        pages = ("/", "/products", f"/products/{PRODUCTS[0].slug}", "/about", "/contact")
        return Target("demo", demo_url, pages, 'nav a[href="/products"]')
    return Target("gated", site_url, ("/", "/next", "/form"), "#to-next")


def policy_json(page: Page) -> dict[str, Any]:
    data: dict[str, Any] = page.request.get("/consent-gate/policy.json").json()
    return data


def consent_cookie_name(visitor: Visitor) -> str:
    name: str = policy_json(visitor.page)["consent_cookie"]["name"]
    return name


def first_layer_button(visitor: Visitor, name: str) -> Any:
    return visitor.banner.get_by_role("button", name=name, exact=True)


def test_accept_and_reject_all_are_equal_buttons_on_the_first_layer(
    visit: VisitorFactory, target: Target
) -> None:
    visitor = visit(target.base_url)
    visitor.load("/")
    accept = first_layer_button(visitor, "Accept all")
    reject = first_layer_button(visitor, "Reject all")
    expect(accept).to_be_visible()
    expect(reject).to_be_visible()
    looks = """(el) => {
        const s = getComputedStyle(el);
        return [el.localName, el.type, s.fontFamily, s.fontSize, s.fontWeight, s.fontStyle,
                s.color, s.backgroundColor, s.borderTopWidth, s.paddingTop, s.paddingLeft];
    }"""
    assert accept.evaluate(looks) == reject.evaluate(looks)
    assert accept.evaluate("(el) => el.localName") == "button"
    accept_box, reject_box = accept.bounding_box(), reject.bounding_box()
    assert accept_box is not None
    assert reject_box is not None
    assert accept_box["width"] == reject_box["width"]
    assert accept_box["height"] == reject_box["height"]
    for button in (accept, reject):
        assert contrast(*colours(button)) >= 4.5


def test_rejecting_takes_no_more_clicks_than_accepting(
    visit: VisitorFactory, target: Target
) -> None:
    clicks = {}
    for name, allowed in (("Accept all", True), ("Reject all", False)):
        visitor = visit(target.base_url)
        visitor.load("/")
        count = 0
        while not visitor.page.evaluate("() => window.consentGate.decided()"):
            first_layer_button(visitor, name).click()  # every click is on the first layer
            count += 1
            visitor.page.wait_for_function("() => window.consentGate.decided()")
        clicks[name] = count
        choices = visitor.page.evaluate("() => window.consentGate.choices()")
        assert set(choices.values()) == {allowed}
    assert clicks["Reject all"] <= clicks["Accept all"] == 1


def test_every_category_toggle_starts_off(visit: VisitorFactory, target: Target) -> None:
    for javascript in (True, False):
        visitor = visit(target.base_url, javascript_enabled=javascript)
        if javascript:
            visitor.load("/")
        else:
            visitor.page.goto("/")
        visitor.banner.get_by_role("link", name="Customize").click()
        boxes = visitor.page.locator("#cg-preferences:not([hidden]), .cg-dialog-page").locator(
            "input[name=category]"
        )
        expect(boxes.first).to_be_visible()
        states = boxes.evaluate_all("(all) => all.map((b) => [b.value, b.checked, b.disabled])")
        required = {c["id"] for c in policy_json(visitor.page)["categories"] if c["required"]}
        for value, checked, disabled in states:
            assert checked is (value in required), (javascript, value)
            assert disabled is (value in required), (javascript, value)
        assert {v for v, _, _ in states} - required  # there are optional ones to choose


def test_closing_escape_scrolling_and_navigating_store_no_consent(
    visit: VisitorFactory, target: Target
) -> None:
    visitor = visit(target.base_url)
    page = visitor.page
    visitor.load("/")
    name = consent_cookie_name(visitor)

    visitor.customize.click()
    visitor.dialog.get_by_role("button", name="Close").click()
    expect(visitor.dialog).to_be_hidden()
    visitor.banner.get_by_role("link", name="Customize").click()
    page.keyboard.press("Escape")
    expect(visitor.dialog).to_be_hidden()
    page.mouse.wheel(0, 2000)
    page.keyboard.press("End")
    page.wait_for_timeout(200)
    assert name not in visitor.cookie_names()

    page.locator(target.link).first.click()
    page.wait_for_load_state()
    visitor.wait_for_banner_script()

    assert name not in visitor.cookie_names()
    assert page.evaluate("() => window.consentGate.decided()") is False
    expect(visitor.banner).to_be_visible()  # still asking
    assert visitor.recorder.hits == []


def test_after_reject_all_the_demo_loads_nothing_and_does_not_ask_again(
    visit: VisitorFactory, demo_url: str
) -> None:
    """The gated site's version is test_choices::test_reject_all_keeps_everything_out_..."""
    visitor = visit(demo_url)
    visitor.load("/")
    first_layer_button(visitor, "Reject all").click()
    visitor.page.wait_for_function("() => window.consentGate.decided()")
    expect(visitor.banner).to_have_count(0)

    for path in ("/products", f"/products/{PRODUCTS[1].slug}", "/about", "/"):
        visitor.load(path)
        expect(visitor.banner).to_have_count(0)
        expect(visitor.settings).to_be_visible()
    visitor.page.wait_for_load_state("networkidle")
    assert visitor.recorder.hits == []
    assert visitor.cookie_names() == {consent_cookie_name(visitor)}
    # Kept about six months.
    cookie = visitor.cookies()[consent_cookie_name(visitor)]
    assert cookie["expires"] > 0


def test_settings_control_on_every_page_reopens_with_the_stored_choice(
    visit: VisitorFactory, target: Target
) -> None:
    visitor = visit(target.base_url)
    visitor.load("/")
    visitor.banner.get_by_role("link", name="Customize").click()
    visitor.dialog.get_by_role("switch", name="Analytics").check()
    visitor.dialog.get_by_role("button", name="Save choices").click()
    visitor.page.wait_for_function("() => window.consentGate.decided()")

    for path in target.pages:
        visitor.load(path)
        expect(visitor.settings).to_be_visible()
        visitor.settings.click()
        expect(visitor.dialog).to_be_visible()
        expect(visitor.dialog.get_by_role("switch", name="Analytics")).to_be_checked()
        expect(visitor.dialog.get_by_role("switch", name="Marketing")).not_to_be_checked()
        expect(visitor.dialog.get_by_role("switch", name="Preferences")).not_to_be_checked()
        expect(visitor.dialog.get_by_role("button", name="Withdraw consent")).to_be_visible()


def test_policy_page_lists_every_cookie_and_states_the_dnt_stance(
    visit: VisitorFactory, target: Target
) -> None:
    visitor = visit(target.base_url, javascript_enabled=False)
    page = visitor.page
    data = policy_json(page)
    page.goto("/")
    visitor.banner.get_by_role("link", name="Cookie policy and list of services").click()
    expect(page).to_have_url(f"{target.base_url}/consent-gate/policy?lang=en")

    expect(page.locator("#cg-dnt-statement")).to_have_text(data["do_not_track"]["statement"])
    assert "does not honour" in data["do_not_track"]["statement"]
    party = {"first": "First party", "third": "Third party"}
    listed = 0
    for service in data["services"]:
        article = page.locator(f"#service-{service['id']}")
        expect(article).to_contain_text(service["name"])
        if service["cookies"]:  # long lists start collapsed: one click shows them
            cookie_list = article.locator("details.cg-cookie-list")
            if cookie_list.get_attribute("open") is None:
                cookie_list.locator("summary").click()
        headers = article.locator("thead th").all_inner_texts()
        if service["cookies"]:
            assert headers == ["Cookie", "Purpose", "Lifetime", "Party"]
        rows = article.locator("tbody tr").evaluate_all(
            "(rows) => rows.map((r) => [...r.cells].map((c) => c.textContent.trim()))"
        )
        expected = [
            [c["name"], c["purpose"], c["lifetime"], party[c["party"]]] for c in service["cookies"]
        ]
        assert rows == expected, service["id"]
        listed += len(rows)
    assert listed > 0


def test_without_javascript_the_preferences_page_offers_the_same_choices(
    visit: VisitorFactory, site_url: str
) -> None:
    scripted = visit()
    scripted.load("/")
    scripted.customize.click()
    in_dialog = scripted.dialog.locator("input[name=category], button[name=action]")
    offered = in_dialog.evaluate_all("(all) => all.map((e) => e.value)")

    visitor = visit(javascript_enabled=False)
    page = visitor.page
    page.goto("/consent-gate/preferences?next=/next")
    on_page = page.locator(".cg-dialog-page").locator("input[name=category], button[name=action]")
    assert on_page.evaluate_all("(all) => all.map((e) => e.value)") == offered

    optional = ("Preferences", "Analytics", "Marketing")
    for chosen in itertools.chain.from_iterable(
        itertools.combinations(optional, size) for size in range(len(optional) + 1)
    ):
        page.goto("/consent-gate/preferences?next=/next")
        for name in optional:
            page.get_by_role("switch", name=name).set_checked(name in chosen)
        with page.expect_navigation(url=f"{site_url}/next"):
            page.get_by_role("button", name="Save choices").click()
        expect(visitor.banner).to_have_count(0)
        page.goto("/consent-gate/preferences")
        for name in optional:
            box = page.get_by_role("switch", name=name)
            (expect(box).to_be_checked if name in chosen else expect(box).not_to_be_checked)()
