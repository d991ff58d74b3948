"""Google Consent Mode v2 in a real browser: Google's tags see the visitor's choice first.

googletagmanager.com is routed to a stub that, when gtag.js or gtm.js loads, records a copy of
`window.dataLayer`: what a real Google tag would read at that moment.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import Page, expect

from consent_gate import Policy
from consent_gate.policy import GoogleConsentMode
from consent_gate.qa import TrackerRecorder

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import ContextFactory, LiveServer

GTAG_SRC = "https://www.googletagmanager.com/gtag/js?id=G-XXXXXXXXXX"
GTM_SRC = "https://www.googletagmanager.com/gtm.js?id=GTM-XXXXXXX"
GOOGLE_STUB = """\
(function () {
  var copy = function (entry) {
    return typeof entry.length === "number" ? Array.prototype.slice.call(entry) : entry;
  };
  (window.__googleLoads = window.__googleLoads || []).push({
    src: (document.currentScript && document.currentScript.src) || "",
    layer: (window.dataLayer || []).map(copy),
  });
})();
"""
# The dataLayer as plain arrays (gtag pushes `arguments` objects).
LAYER = """() => (window.dataLayer || []).map(
  (entry) => typeof entry.length === "number" ? Array.prototype.slice.call(entry) : entry)"""
ALL_DENIED = {
    "ad_storage": "denied",
    "analytics_storage": "denied",
    "ad_user_data": "denied",
    "ad_personalization": "denied",
    "functionality_storage": "denied",
    "personalization_storage": "denied",
    "security_storage": "granted",
}
ALL_GRANTED = dict.fromkeys(ALL_DENIED, "granted")
ANALYTICS_ONLY = {**ALL_DENIED, "analytics_storage": "granted"}
DEFAULT_DENIED = ["consent", "default", ALL_DENIED]
REDACTION = ["set", "ads_data_redaction", True]


def with_consent_mode(**settings: Any) -> Policy:
    return dataclasses.replace(
        Policy.default(), google_consent_mode=GoogleConsentMode(enabled=True, **settings)
    )


def consent_calls(layer: list[Any]) -> list[Any]:
    return [entry for entry in layer if isinstance(entry, list) and entry[:1] == ["consent"]]


@dataclass
class Tab:
    """One visitor's page on a gated site, with Google's hosts stubbed and recorded."""

    page: Page
    recorder: TrackerRecorder

    def load(self, path: str) -> None:
        self.page.goto(path)
        self.page.wait_for_function("() => window.consentGate !== undefined")

    def layer(self) -> list[Any]:
        layer: list[Any] = self.page.evaluate(LAYER)
        return layer

    def google_load(self, src: str) -> list[Any]:
        """The dataLayer as the Google script at `src` found it when it ran."""
        self.page.wait_for_function(
            "(src) => (window.__googleLoads || []).some((load) => load.src === src)", arg=src
        )
        loads: list[dict[str, Any]] = self.page.evaluate("() => window.__googleLoads")
        layer: list[Any] = next(load["layer"] for load in loads if load["src"] == src)
        return layer

    def wait_for_consent_calls(self, count: int) -> list[Any]:
        self.page.wait_for_function(
            "(count) => (window.dataLayer || []).filter((e) => e[0] === 'consent').length >= count",
            arg=count,
        )
        return consent_calls(self.layer())


@pytest.fixture
def open_site(
    live: LiveServer, make_context: ContextFactory, gate_site: ModuleType
) -> Iterator[Callable[[Policy | None], Tab]]:
    """Factory: a fresh visitor of the test site served with `policy`; page errors fail."""
    errors: list[str] = []

    def open_(policy: Policy | None) -> Tab:
        base_url = live(gate_site.create_site(policy=policy))
        context, recorder = make_context(base_url, scripts={"googletagmanager.com": GOOGLE_STUB})
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return Tab(page, recorder)

    yield open_
    assert not errors, errors


def test_advanced_mode_google_tags_load_denied_after_the_default(
    open_site: Callable[[Policy | None], Tab], gate_site: ModuleType
) -> None:
    tab = open_site(with_consent_mode(mode="advanced"))
    tab.load("/")

    for src in (GTAG_SRC, GTM_SRC):  # no choice yet, and yet they load: advanced mode
        found = tab.google_load(src)
        assert found[:2] == [DEFAULT_DENIED, REDACTION], src
    # The page's inline gtag and GTM snippets ran after the gate's head script.
    layer = tab.layer()
    assert layer[:2] == [DEFAULT_DENIED, REDACTION]
    assert [e[0] if isinstance(e, list) else e.get("event") for e in layer[2:5]] == [
        "js",
        "config",
        "gtm.js",
    ]
    assert consent_calls(layer) == [DEFAULT_DENIED]
    # Everyone else, and Google's tags without JavaScript (the noscript frame), stay held back.
    hosts = tab.recorder.hosts()
    assert "www.googletagmanager.com" in hosts
    assert not hosts & (gate_site.MARKETING_HOSTS | {"static.hotjar.com", "cdn.stats.example"})

    tab.page.get_by_role("button", name="Accept all").click()
    assert tab.wait_for_consent_calls(2) == [DEFAULT_DENIED, ["consent", "update", ALL_GRANTED]]
    tab.recorder.wait_for("connect.facebook.net")  # the rest load once allowed, as ever


def test_advanced_mode_without_javascript_loads_nothing_of_google(
    live: LiveServer, make_context: ContextFactory, gate_site: ModuleType
) -> None:
    base_url = live(gate_site.create_site(policy=with_consent_mode(mode="advanced")))
    context, recorder = make_context(base_url, javascript_enabled=False)
    page = context.new_page()
    page.goto("/")
    page.goto("/next")  # GTM's noscript frame is on both pages: it cannot read Consent Mode
    assert page.locator('iframe[data-cg-src*="googletagmanager.com/ns.html"]').count() == 1
    assert recorder.hits == []


def test_basic_mode_holds_google_back_until_accept_then_the_update_comes_first(
    open_site: Callable[[Policy | None], Tab],
) -> None:
    tab = open_site(with_consent_mode())
    tab.load("/")
    assert tab.layer() == [DEFAULT_DENIED, REDACTION]
    assert not tab.recorder.hits_to("googletagmanager.com")

    tab.page.get_by_role("button", name="Accept all").click()

    found = tab.google_load(GTAG_SRC)
    assert found[:3] == [DEFAULT_DENIED, REDACTION, ["consent", "update", ALL_GRANTED]]
    commands = [e[0] for e in found if isinstance(e, list)]
    assert commands.index("config") > 2  # the held-back snippet ran after the update
    assert consent_calls(tab.layer()) == [DEFAULT_DENIED, ["consent", "update", ALL_GRANTED]]


def test_reject_all_sends_a_denied_update_and_google_stays_away(
    open_site: Callable[[Policy | None], Tab],
) -> None:
    tab = open_site(with_consent_mode())
    tab.load("/")
    tab.page.get_by_role("button", name="Reject all").click()
    assert tab.wait_for_consent_calls(2) == [DEFAULT_DENIED, ["consent", "update", ALL_DENIED]]
    expect(tab.page.locator("#cg-banner")).to_have_count(0)
    assert not tab.recorder.hits_to("googletagmanager.com")


def test_a_custom_choice_updates_and_presets_the_next_pages_default(
    open_site: Callable[[Policy | None], Tab],
) -> None:
    tab = open_site(with_consent_mode())
    tab.load("/")
    tab.page.locator("#cg-banner").get_by_role("link", name="Customize").click()
    dialog = tab.page.get_by_role("dialog")
    dialog.get_by_role("switch", name="Analytics").check()
    dialog.get_by_role("button", name="Save choices").click()

    assert tab.wait_for_consent_calls(2) == [DEFAULT_DENIED, ["consent", "update", ANALYTICS_ONLY]]
    assert tab.google_load(GTAG_SRC)[2] == ["consent", "update", ANALYTICS_ONLY]

    tab.load("/next")  # a returning visitor: the stored choice is the default
    assert consent_calls(tab.layer()) == [["consent", "default", ANALYTICS_ONLY]]
    assert tab.google_load(GTAG_SRC)[:2] == [["consent", "default", ANALYTICS_ONLY], REDACTION]


def test_withdrawal_sends_a_denied_update_before_the_reload_and_the_default_is_denied_again(
    open_site: Callable[[Policy | None], Tab],
) -> None:
    tab = open_site(with_consent_mode())
    tab.load("/")
    tab.page.get_by_role("button", name="Accept all").click()
    tab.wait_for_consent_calls(2)
    tab.load("/")
    assert consent_calls(tab.layer()) == [["consent", "default", ALL_GRANTED]]
    assert REDACTION not in tab.layer()  # ad_storage is granted: nothing to redact
    # What the page's dataLayer holds when the banner announces the withdrawal: it reloads next.
    tab.page.evaluate(
        """() => document.addEventListener("consentgate:change", () => sessionStorage.setItem(
            "calls", JSON.stringify(window.dataLayer.filter((entry) => entry[0] === "consent")
                .map((entry) => Array.prototype.slice.call(entry)))))"""
    )

    tab.page.get_by_role("link", name="Cookie settings").click()
    with tab.page.expect_navigation():
        tab.page.get_by_role("dialog").get_by_role("button", name="Withdraw consent").click()
    tab.page.wait_for_function("() => window.consentGate !== undefined")

    before_reload = tab.page.evaluate("() => JSON.parse(sessionStorage.getItem('calls'))")
    assert before_reload == [
        ["consent", "default", ALL_GRANTED],
        ["consent", "update", ALL_DENIED],
    ]
    assert tab.layer()[:2] == [DEFAULT_DENIED, REDACTION]
    assert consent_calls(tab.layer()) == [DEFAULT_DENIED]


def test_off_by_default_the_page_gets_no_consent_mode_code(
    open_site: Callable[[Policy | None], Tab],
) -> None:
    tab = open_site(None)
    tab.load("/")
    assert tab.page.evaluate("() => window.dataLayer") == []  # the run-time gate's stub
    assert 'gtag("consent"' not in tab.page.content()
    tab.page.get_by_role("button", name="Accept all").click()
    found = tab.google_load(GTAG_SRC)
    assert consent_calls(found) == []
    assert [e[0] for e in found[:2]] == ["js", "config"]
