"""The banner for every visitor: axe-core finds nothing, the keyboard reaches everything, motion,
colour scheme and contrast follow the visitor's settings, and the page under it never moves.

axe-core runs in the page itself (the copy PyPI's `axe-playwright-python` ships, so no network).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect
from wcag import colours, contrast

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import ContextFactory, VisitorFactory

AXE = Axe()
# What WCAG 2.x A/AA asks, and axe's best practices (landmarks aside: the banner is a fragment
# of someone else's page, whose landmarks it cannot know).
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}
}
CLS_OBSERVER = """
window.__shifts = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    window.__shifts.push({
      value: entry.value,
      sources: (entry.sources || []).map((s) => s.node ? s.node.outerHTML.slice(0, 80) : "?"),
    });
  }
}).observe({type: "layout-shift", buffered: true});
"""


def axe_violations(page: Page, context: str | None = None) -> list[str]:
    # Mid fade-in the text is translucent: judge the banner as it rests. An animation cut short
    # (its element hidden or restyled meanwhile) rejects `finished`, and is at rest too.
    page.evaluate(
        "() => Promise.all(document.getAnimations().map((a) => a.finished.catch(() => null)))"
    )
    results = AXE.run(page, context=context, options=AXE_OPTIONS)
    violations: list[dict[str, Any]] = results.response["violations"]
    return [f"{v['id']}: {v['help']} -> {[n['target'] for n in v['nodes']]}" for v in violations]


def test_banner_and_dialog_pass_axe(visit: VisitorFactory) -> None:
    visitor = visit()
    visitor.load("/")
    expect(visitor.banner).to_be_visible()

    assert axe_violations(visitor.page, "#cg-root") == []

    visitor.banner.get_by_role("link", name="Customize").click()
    expect(visitor.dialog).to_be_visible()
    assert axe_violations(visitor.page, "#cg-root") == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("lang", ["en", "ar", "ko"])
def test_generated_pages_and_banner_pass_axe_in_every_scheme(
    make_context: ContextFactory, site_url: str, scheme: str, lang: str
) -> None:
    context, _ = make_context(site_url, color_scheme=scheme, locale=lang)
    page = context.new_page()
    for path in ("/consent-gate/preferences", "/consent-gate/policy"):
        page.goto(path)
        assert page.locator("html").get_attribute("lang") == lang
        assert axe_violations(page) == [], path
    page.goto("/")
    page.wait_for_function("() => window.consentGate !== undefined")
    assert axe_violations(page, "#cg-root") == []
    page.locator("#cg-banner [data-cg-open]").click()
    assert axe_violations(page, "#cg-root") == []


def test_keyboard_only_walkthrough(visit: VisitorFactory) -> None:
    """Tab to "Customize", open it, turn Analytics on with Space, save: no mouse at all. The
    banner comes before the page: its policy link, Accept, Reject, Customize are Tabs 1 to 4."""
    visitor = visit()
    page = visitor.page
    visitor.load("/")
    focused = "() => document.activeElement && document.activeElement.textContent.trim()"
    for _ in range(4):
        page.keyboard.press("Tab")
    assert page.evaluate(focused) == "Customize"
    # Accept and Reject came first, in that order, just before it.
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(focused) == "Reject all"
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(focused) == "Accept all"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")

    page.keyboard.press("Enter")

    expect(visitor.dialog).to_be_visible()
    expect(visitor.dialog.get_by_role("button", name="Close")).to_be_focused()
    page.keyboard.press("Tab")
    expect(visitor.dialog.get_by_role("switch", name="Preferences")).to_be_focused()
    page.keyboard.press("Tab")  # its services' disclosure (closed: its switches are skipped)
    expect(visitor.dialog.locator("summary").first).to_be_focused()
    page.keyboard.press("Tab")
    expect(visitor.dialog.get_by_role("switch", name="Analytics")).to_be_focused()
    page.keyboard.press("Space")
    for _ in range(4):  # its services, Marketing, its services, then "Save choices"
        page.keyboard.press("Tab")
    expect(visitor.dialog.get_by_role("button", name="Save choices")).to_be_focused()
    page.keyboard.press("Enter")

    page.wait_for_function("() => window.consentGate.decided()")
    assert page.evaluate("() => window.consentGate.choices()") == {
        "preferences": False,
        "analytics": True,
        "marketing": False,
    }
    expect(visitor.dialog).to_be_hidden()
    expect(visitor.settings).to_be_focused()  # the banner that held focus is gone: not lost


def test_escape_closes_the_preferences_layer_and_focus_returns_to_customize(
    visit: VisitorFactory,
) -> None:
    """test_choices covers the settings link; here the first layer's own Customize link."""
    visitor = visit()
    page = visitor.page
    visitor.load("/")
    customize = visitor.banner.get_by_role("link", name="Customize")
    customize.focus()
    page.keyboard.press("Enter")
    expect(visitor.dialog).to_be_visible()
    expect(visitor.dialog).to_have_attribute("aria-modal", "true")
    expect(visitor.dialog).to_have_accessible_name("Privacy preferences")
    visitor.dialog.get_by_role("switch", name="Marketing").check()

    page.keyboard.press("Escape")

    expect(visitor.dialog).to_be_hidden()
    expect(customize).to_be_focused()
    assert visitor.cookies() == {}
    # The unsaved toggle is forgotten.
    customize.click()
    expect(visitor.dialog.get_by_role("switch", name="Marketing")).not_to_be_checked()


def test_roles_and_names(visit: VisitorFactory) -> None:
    visitor = visit()
    page = visitor.page
    visitor.load("/")
    expect(page.get_by_role("region", name="Your privacy choices")).to_be_visible()
    expect(page.get_by_role("dialog")).to_have_count(0)  # hidden until opened
    visitor.customize.click()
    dialog = page.get_by_role("dialog", name="Privacy preferences")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("group", name="Purposes")).to_be_visible()
    necessary = dialog.get_by_role("switch", name="Strictly necessary")
    expect(necessary).to_have_accessible_description(
        "Needed for the site to work and to remember your privacy choice. Always on."
    )


def test_reduced_motion_turns_off_every_animation_and_transition(
    make_context: ContextFactory, site_url: str
) -> None:
    running = "() => document.getAnimations().length"
    durations = """() => [...document.querySelectorAll('#cg-root, #cg-root *')].flatMap((el) => {
        const style = getComputedStyle(el);
        return [style.animationName, style.transitionDuration];
    })"""
    moving, _ = make_context(site_url)
    page = moving.new_page()
    page.goto("/")
    assert (
        page.evaluate("() => getComputedStyle(document.getElementById('cg-banner')).animationName")
        == "cg-rise"
    )  # the default does animate

    still, _ = make_context(site_url, reduced_motion="reduce")
    page = still.new_page()
    page.goto("/")
    assert page.evaluate(running) == 0
    assert set(page.evaluate(durations)) <= {"none", "0s"}
    page.locator("#cg-banner [data-cg-open]").click()
    page.get_by_role("dialog").get_by_role("button", name="Save choices").hover()
    assert page.evaluate(running) == 0
    assert set(page.evaluate(durations)) <= {"none", "0s"}


def test_dark_scheme_changes_the_banner_and_keeps_contrast(
    make_context: ContextFactory, site_url: str
) -> None:
    backgrounds = {}
    for scheme in ("light", "dark"):
        context, _ = make_context(site_url, color_scheme=scheme, reduced_motion="reduce")
        page = context.new_page()
        page.goto("/")
        banner = page.locator("#cg-banner")
        backgrounds[scheme] = banner.evaluate("(el) => getComputedStyle(el).backgroundColor")
        for name in ("Accept all", "Reject all"):
            fg, bg = colours(banner.get_by_role("button", name=name))
            assert contrast(fg, bg) >= 4.5, (scheme, name, fg, bg)
    assert backgrounds == {"light": "rgb(255, 255, 255)", "dark": "rgb(17, 24, 39)"}


def test_the_banner_never_shifts_the_page(make_context: ContextFactory, site_url: str) -> None:
    context, _ = make_context(site_url)
    context.add_init_script(CLS_OBSERVER)
    page = context.new_page()
    page.goto("/")
    page.wait_for_function("() => window.consentGate !== undefined")
    page.locator("#cg-banner").wait_for()
    page.wait_for_timeout(300)  # past the banner's entry animation
    page.locator("#cg-banner [data-cg-open]").click()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Reject all").click()
    page.wait_for_function("() => window.consentGate.decided()")
    page.wait_for_timeout(200)

    shifts = page.evaluate("() => window.__shifts")
    assert sum(shift["value"] for shift in shifts) == 0, shifts


def test_arabic_lays_out_right_to_left(
    make_context: ContextFactory, site_url: str, tmp_path: Path
) -> None:
    context, _ = make_context(site_url, locale="ar", reduced_motion="reduce")
    page = context.new_page()
    page.goto("/")
    root = page.locator("#cg-root")
    expect(root).to_have_attribute("dir", "rtl")
    expect(root).to_have_attribute("lang", "ar")
    width = page.viewport_size["width"] if page.viewport_size else 1280
    accept = page.get_by_role("button", name="قبول الكل").bounding_box()
    reject = page.get_by_role("button", name="رفض الكل").bounding_box()
    assert accept is not None
    assert reject is not None
    assert accept["x"] > reject["x"]  # the first button sits on the right
    assert page.locator("#cg-banner").evaluate("(el) => getComputedStyle(el).textAlign") in (
        "start",
        "right",
    )
    shot = tmp_path / "banner-ar.png"
    page.locator("#cg-banner").screenshot(path=str(shot))
    assert shot.stat().st_size > 1000
    page.get_by_role("button", name="رفض الكل").click()
    expect(page.locator("#cg-settings")).to_be_visible()  # once the banner has gone
    settings = page.locator("#cg-settings").bounding_box()
    assert settings is not None
    assert settings["x"] > width / 2  # the settings pill in the bottom right corner
