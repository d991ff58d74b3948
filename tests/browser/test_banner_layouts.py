"""The banner's design in Chromium: where each layout sits, the site's theme and brand colour,
a settings dialog whose every action is in view on a phone and on an 800 px screen, and the
banner first in keyboard order."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from banner_pages import LAPTOP, PHONE, design_site
from playwright.sync_api import Browser, Page, expect

from consent_gate.qa import serve

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import OpenPage


def box(page: Page, selector: str) -> dict[str, float]:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, selector
    return found


def within_viewport(page: Page, selector: str) -> None:
    size = page.viewport_size
    assert size is not None
    for index in range(page.locator(selector).count()):
        found = page.locator(selector).nth(index).bounding_box()
        assert found is not None, selector
        assert found["x"] >= 0
        assert found["y"] >= 0, (selector, found)
        assert found["x"] + found["width"] <= size["width"] + 0.5, (selector, found)
        assert found["y"] + found["height"] <= size["height"] + 0.5, (selector, found)


BANNER_BUTTONS = "#cg-banner .cg-actions > *"


# ---- layouts and positions ------------------------------------------------------------------


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_bar_spans_the_bottom_or_the_top(
    open_banner_page: OpenPage, viewport: dict[str, int]
) -> None:
    for position in ("bottom", "top"):
        page = open_banner_page(
            {"banner": {"layout": "bar", "position": position}}, viewport=viewport
        )
        banner = box(page, "#cg-banner")
        assert banner["x"] == 0
        assert banner["width"] == viewport["width"]
        if position == "bottom":
            assert banner["y"] + banner["height"] == pytest.approx(viewport["height"], abs=1)
        else:
            assert banner["y"] == 0
        within_viewport(page, BANNER_BUTTONS)


@pytest.mark.parametrize(
    ("position", "lang", "corner"),
    [
        ("bottom-end", "en", ("bottom", "right")),
        ("bottom-start", "en", ("bottom", "left")),
        ("top-end", "en", ("top", "right")),
        ("bottom-end", "ar", ("bottom", "left")),  # the end of a right-to-left line
    ],
)
def test_box_sits_in_its_logical_corner(
    open_banner_page: OpenPage, position: str, lang: str, corner: tuple[str, str]
) -> None:
    page = open_banner_page({"banner": {"layout": "box", "position": position}}, lang=lang)
    banner = box(page, "#cg-banner")
    assert banner["width"] <= 24 * 16 + 1
    vertical, horizontal = corner
    gap = 12  # 0.75rem
    if vertical == "bottom":
        assert banner["y"] + banner["height"] == pytest.approx(LAPTOP["height"] - gap, abs=1)
    else:
        assert banner["y"] == pytest.approx(gap, abs=1)
    if horizontal == "right":
        assert banner["x"] + banner["width"] == pytest.approx(LAPTOP["width"] - gap, abs=1)
    else:
        assert banner["x"] == pytest.approx(gap, abs=1)
    within_viewport(page, BANNER_BUTTONS)


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_modal_is_centred_holds_focus_and_covers_the_page(
    open_banner_page: OpenPage, viewport: dict[str, int]
) -> None:
    page = open_banner_page({"banner": {"layout": "modal"}}, viewport=viewport)
    card = box(page, "#cg-banner .cg-layer")
    assert card["x"] + card["width"] / 2 == pytest.approx(viewport["width"] / 2, abs=1)
    assert card["y"] + card["height"] / 2 == pytest.approx(viewport["height"] / 2, abs=1)
    within_viewport(page, BANNER_BUTTONS)
    expect(page.get_by_role("dialog", name="Your privacy choices")).to_be_visible()
    # Focus starts on the banner (no answer preselected) and Tab cannot leave it.
    expect(page.locator("#cg-banner")).to_be_focused()
    inside = "() => document.getElementById('cg-banner').contains(document.activeElement)"
    for key in ["Tab"] * 6 + ["Shift+Tab"] * 6:
        page.keyboard.press(key)
        assert page.evaluate(inside), key
    # The page under the backdrop takes no clicks until the visitor chooses.
    hit = page.evaluate("() => document.elementFromPoint(5, 5).closest('#cg-banner') !== null")
    assert hit
    page.get_by_role("button", name="Reject all").click()
    expect(page.locator("#cg-banner")).to_have_count(0)
    page.locator("#home").click()  # usable again
    expect(page.locator("#cg-banner")).to_have_count(0)


# ---- theme and brand colour -----------------------------------------------------------------


def background(page: Page, selector: str) -> str:
    return str(
        page.locator(selector).first.evaluate("(el) => getComputedStyle(el).backgroundColor")
    )


@pytest.mark.parametrize(
    ("theme", "scheme", "expected"),
    [
        ("auto", "light", "rgb(255, 255, 255)"),
        ("auto", "dark", "rgb(17, 24, 39)"),
        ("dark", "light", "rgb(17, 24, 39)"),
        ("light", "dark", "rgb(255, 255, 255)"),
    ],
)
def test_the_sites_theme_wins_over_the_system_setting_unless_auto(
    open_banner_page: OpenPage, theme: str, scheme: str, expected: str
) -> None:
    page = open_banner_page({"banner": {"theme": theme}}, color_scheme=scheme)
    assert background(page, "#cg-banner") == expected
    page.locator("#cg-banner [data-cg-open]").click()
    assert background(page, "#cg-preferences .cg-dialog") == expected


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_brand_colour_reaches_buttons_and_switches(open_banner_page: OpenPage, scheme: str) -> None:
    page = open_banner_page({"banner": {"brand": "#0b6e4f"}}, color_scheme=scheme)
    accept = page.get_by_role("button", name="Accept all")
    assert background(page, "#cg-banner [data-cg-action=accept_all]") == "rgb(11, 110, 79)"
    assert accept.evaluate("(el) => getComputedStyle(el).color") == "rgb(255, 255, 255)"
    page.locator("#cg-banner [data-cg-open]").click()
    page.get_by_role("switch", name="Analytics").check()
    assert background(page, "#cg-cat-analytics") == "rgb(11, 110, 79)"


# ---- the settings dialog ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("viewport", "lang"),
    [(PHONE, "en"), (PHONE, "de"), (LAPTOP, "de"), ({"width": 1280, "height": 600}, "fr")],
    ids=["phone-en", "phone-de", "laptop-de", "short-fr"],
)
def test_every_dialog_action_is_in_view_without_scrolling(
    open_banner_page: OpenPage, viewport: dict[str, int], lang: str
) -> None:
    page = open_banner_page(viewport=viewport, lang=lang)
    page.locator("#cg-banner [data-cg-open]").click()
    dialog = page.locator("#cg-preferences .cg-dialog")
    expect(dialog).to_be_visible()
    within_viewport(page, "#cg-preferences .cg-dialog")
    within_viewport(page, "#cg-preferences .cg-choices-foot button:visible")
    within_viewport(page, "#cg-preferences .cg-close")
    # The three buttons line up: equal heights, and side by side on a wide screen.
    buttons = [
        box(page, f"#cg-preferences [data-cg-action={action}]")
        for action in ("save", "accept_all", "reject_all")
    ]
    assert len({round(b["height"]) for b in buttons}) == 1
    if viewport["width"] > 640:
        assert len({round(b["y"]) for b in buttons}) == 1
        assert len({round(b["width"]) for b in buttons}) == 1
    # What does not fit scrolls inside, between the pinned title and buttons.
    body = page.locator("#cg-preferences .cg-choices-body")
    scrolls = body.evaluate("(el) => el.scrollHeight > el.clientHeight")
    if viewport["height"] < 700:
        assert scrolls
    body.evaluate("(el) => el.scrollTo(0, el.scrollHeight)")
    within_viewport(page, "#cg-preferences .cg-choices-foot button:visible")


def test_close_button_and_switches_work_by_keyboard(open_banner_page: OpenPage) -> None:
    page = open_banner_page(viewport=PHONE)
    page.locator("#cg-banner [data-cg-open]").click()
    dialog = page.get_by_role("dialog", name="Privacy preferences")
    switches = dialog.get_by_role("switch")
    expect(switches).to_have_count(4)  # necessary (on, fixed) and the three optional ones
    expect(dialog.get_by_role("switch", name="Strictly necessary")).to_be_disabled()
    analytics = dialog.get_by_role("switch", name="Analytics")
    analytics.focus()
    page.keyboard.press("Space")
    expect(analytics).to_be_checked()
    close = dialog.get_by_role("button", name="Close")
    close.focus()
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator("#cg-banner")).to_be_visible()  # closing decided nothing


# ---- the settings pill ------------------------------------------------------------------------


def test_settings_pill_waits_for_a_choice_and_can_be_left_out(open_banner_page: OpenPage) -> None:
    page = open_banner_page()
    pill = page.get_by_role("link", name="Cookie settings")
    expect(pill).to_be_hidden()
    page.get_by_role("button", name="Reject all").click()
    expect(pill).to_be_visible()
    page.reload()
    expect(pill).to_be_visible()

    page = open_banner_page({"banner": {"settings_button": False}})
    page.get_by_role("button", name="Reject all").click()
    page.reload()
    expect(page.get_by_role("link", name="Cookie settings")).to_have_count(0)


# ---- keyboard order ---------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["bar", "box"])
def test_the_banner_comes_first_in_keyboard_order(open_banner_page: OpenPage, layout: str) -> None:
    page = open_banner_page({"banner": {"layout": layout}})
    page.keyboard.press("Tab")
    assert page.evaluate(
        "() => document.getElementById('cg-banner').contains(document.activeElement)"
    )
    # And the page's own markup is left as it was: the banner moved, nothing else.
    assert page.evaluate("() => document.body.firstElementChild.id") == "cg-root"
    assert page.evaluate("() => document.querySelector('nav').nextElementSibling.tagName") == "H1"


def test_policy_page_fits_a_phone(browser: Browser) -> None:
    with serve(design_site({})) as base_url:
        context = browser.new_context(viewport=PHONE)
        try:
            page = context.new_page()
            page.goto(f"{base_url}/consent-gate/policy")
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0
            lists = page.locator("details.cg-cookie-list")
            assert lists.count() > 0
            service = page.locator("article:has(details.cg-cookie-list:not([open]))").first
            service_id = service.get_attribute("id")
            collapsed = page.locator(f"#{service_id} details.cg-cookie-list")
            expect(collapsed.locator("table")).to_be_hidden()
            collapsed.locator("summary").click()
            expect(collapsed.locator("table")).to_be_visible()
        finally:
            context.close()
