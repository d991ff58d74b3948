"""Google Consent Mode v2: the head script per consent state, the mapping, advanced mode."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from asgi_client import Client
from consent_gate import ConsentGate, Policy
from consent_gate.consent import ConsentCodec
from consent_gate.consent_mode import ConsentMode, consent_aware
from consent_gate.html import HtmlRewriter
from consent_gate.policy import GoogleConsentMode
from consent_gate.rules import Rules

SNIPPETS = Path(__file__).parent / "data" / "snippets"
BASE = Policy.default()
ON = replace(BASE, google_consent_mode=GoogleConsentMode(enabled=True))
ADVANCED = replace(BASE, google_consent_mode=GoogleConsentMode(enabled=True, mode="advanced"))
CODEC = ConsentCodec("consent-mode-test", ON)
ALL_DENIED = {
    "ad_storage": "denied",
    "analytics_storage": "denied",
    "ad_user_data": "denied",
    "ad_personalization": "denied",
    "functionality_storage": "denied",
    "personalization_storage": "denied",
    "security_storage": "granted",
}
_DEFAULT = re.compile(r'gtag\("consent","default",(\{.*?\})\);')


def default_of(source: str) -> dict[str, Any]:
    found = _DEFAULT.search(source)
    assert found is not None, source
    value: dict[str, Any] = json.loads(found.group(1))
    return value


# --- the default, per consent state ------------------------------------------------------------


def test_an_undecided_visitor_starts_with_everything_denied_but_security() -> None:
    source = ConsentMode(ON)(CODEC.undecided)
    assert default_of(source) == ALL_DENIED
    assert 'gtag("set","ads_data_redaction",true);' in source
    assert "url_passthrough" not in source
    assert "wait_for_update" not in source


def test_the_stored_choice_presets_the_default() -> None:
    mode = ConsentMode(ON)
    analytics = default_of(mode(CODEC.decide({"analytics"})))
    assert analytics == {**ALL_DENIED, "analytics_storage": "granted"}
    everything = mode(CODEC.decide({"preferences", "analytics", "marketing"}))
    assert set(default_of(everything).values()) == {"granted"}
    assert "ads_data_redaction" not in everything  # only while ad_storage is denied
    marketing = default_of(mode(CODEC.decide({"marketing"})))
    assert [k for k, v in marketing.items() if v == "granted"] == [
        "ad_storage",
        "ad_user_data",
        "ad_personalization",
        "security_storage",
    ]


def test_the_script_is_made_once_per_consent_state() -> None:
    mode = ConsentMode(ON)
    first = mode(CODEC.decide({"analytics"}))
    assert mode(CODEC.decide({"analytics"})) is first
    assert mode(CODEC.decide({"marketing"})) != first


def test_options_are_passed_on() -> None:
    settings = GoogleConsentMode(
        enabled=True, wait_for_update=500, url_passthrough=True, ads_data_redaction=False
    )
    source = ConsentMode(replace(BASE, google_consent_mode=settings))(CODEC.undecided)
    assert default_of(source) == {**ALL_DENIED, "wait_for_update": 500}
    assert 'gtag("set","url_passthrough",true);' in source
    assert "ads_data_redaction" not in source


def test_a_signal_is_granted_only_when_all_its_categories_are_allowed() -> None:
    settings = GoogleConsentMode(
        enabled=True,
        signals={
            **GoogleConsentMode().signals,
            "ad_personalization": ("marketing", "preferences"),
            "security_storage": ("necessary",),
        },
    )
    mode = ConsentMode(replace(BASE, google_consent_mode=settings))
    assert mode.signals(CODEC.decide({"marketing"}))["ad_personalization"] == "denied"
    both = CODEC.decide({"marketing", "preferences"})
    assert mode.signals(both)["ad_personalization"] == "granted"
    assert mode.signals(CODEC.undecided)["security_storage"] == "granted"  # necessary: required


def test_nothing_in_the_script_ends_it_early() -> None:
    source = ConsentMode(ON)(CODEC.undecided)
    assert "</" not in source
    assert "<!--" not in source


# --- the script itself, run by Node ------------------------------------------------------------

_NODE = shutil.which("node")


def run_in_node(source: str, events: list[dict[str, bool]], before: str = "") -> Any:
    """Run the head script with a stub `document`, fire the banner's events, return dataLayer."""
    program = (
        "var listeners=[];var window=globalThis;"
        "var document={addEventListener:function(t,f){if(t==='consentgate:change')"
        "listeners.push(f);}};" + before + source + f"var events={json.dumps(events)};"
        "events.forEach(function(c){listeners.forEach(function(f){"
        "f({detail:{choices:c,decided:true}});});});"
        "process.stdout.write(JSON.stringify({layer:window.dataLayer.map(function(a){"
        "return typeof a.length==='number'?Array.prototype.slice.call(a):a;}),"
        "gtag:typeof window.gtag,"
        "own:window.gtag&&window.gtag.own===true}));"
    )
    assert _NODE is not None
    done = subprocess.run([_NODE, "-e", program], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


@pytest.mark.skipif(_NODE is None, reason="needs Node.js")
def test_the_banners_choices_become_updates_after_the_default() -> None:
    source = ConsentMode(ON)(CODEC.undecided)
    choices = [
        {"preferences": False, "analytics": True, "marketing": False},
        {"preferences": True, "analytics": True, "marketing": True},
        {"preferences": False, "analytics": False, "marketing": False},
    ]
    result = run_in_node(source, choices)
    layer = result["layer"]
    assert layer[0] == ["consent", "default", ALL_DENIED]
    assert layer[1] == ["set", "ads_data_redaction", True]
    updates = layer[2:]
    assert [u[:2] for u in updates] == [["consent", "update"]] * 3
    assert updates[0][2] == {**ALL_DENIED, "analytics_storage": "granted"}
    assert set(updates[1][2].values()) == {"granted"}
    assert updates[2][2] == ALL_DENIED
    assert result["gtag"] == "function"


@pytest.mark.skipif(_NODE is None, reason="needs Node.js")
def test_a_page_defined_gtag_and_data_layer_are_kept() -> None:
    before = (
        "window.dataLayer=[{event:'early'}];"
        "window.gtag=function(){window.dataLayer.push(arguments);};window.gtag.own=true;"
    )
    result = run_in_node(ConsentMode(ON)(CODEC.undecided), [], before)
    assert result["own"] is True
    assert result["layer"][0] == {"event": "early"}
    assert result["layer"][1] == ["consent", "default", ALL_DENIED]


# --- advanced mode: Google's scripts load denied -----------------------------------------------


def test_only_advanced_mode_lets_google_scripts_load() -> None:
    assert consent_aware(BASE) == frozenset()
    assert consent_aware(ON) == frozenset()
    assert consent_aware(ADVANCED) == {"google-analytics", "google-ads", "google-tag-manager"}
    off = replace(BASE, google_consent_mode=GoogleConsentMode(mode="advanced"))
    assert consent_aware(off) == frozenset()


def rewritten(policy: Policy, name: str) -> str:
    blocker = Rules(policy, consent_aware(policy)).blocking(frozenset(policy.optional_categories))
    assert blocker is not None
    rewriter = HtmlRewriter(blocker, lambda match: b"PLACEHOLDER")
    html = (SNIPPETS / f"{name}.html").read_bytes()
    return (rewriter.feed(html) + rewriter.close()).decode()


def held_back_services(page: str) -> list[str]:
    return re.findall(r'data-cg-service="([^"]+)"', page)


def test_advanced_mode_runs_the_gtag_and_gtm_scripts_but_holds_their_pixels() -> None:
    assert held_back_services(rewritten(ON, "gtag")) == ["google-analytics"] * 3
    assert held_back_services(rewritten(ADVANCED, "gtag")) == []
    basic_gtm = rewritten(ON, "gtm")
    assert held_back_services(basic_gtm) == ["google-tag-manager"] * 2
    advanced_gtm = rewritten(ADVANCED, "gtm")
    # The noscript frame cannot read consent mode: it stays held back.
    assert held_back_services(advanced_gtm) == ["google-tag-manager"]
    assert 'data-cg-src="https://www.googletagmanager.com/ns.html' in advanced_gtm
    assert "<script>(function(w,d,s,l,i)" in advanced_gtm


def test_advanced_mode_still_holds_back_everyone_else() -> None:
    for name in ("meta-pixel", "hotjar", "universal-analytics"):
        assert held_back_services(rewritten(ADVANCED, name)) == held_back_services(
            rewritten(ON, name)
        )
        assert held_back_services(rewritten(ADVANCED, name)), name


# --- wired into the gate -----------------------------------------------------------------------

PAGE = (SNIPPETS / "gtag.html").read_text()


def get(policy: Policy, cookie: str | None = None) -> str:
    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE)

    gate = ConsentGate(Starlette(routes=[Route("/", index)]), "consent-mode-test", policy)

    headers = {"cookie": cookie} if cookie else {}
    return Client(gate).get("/", headers=headers).text


def test_the_gate_puts_the_default_before_the_google_tag() -> None:
    page = get(ON)
    assert page.index('gtag("consent","default"') < page.index("googletagmanager.com/gtag/js")
    head_script = re.search(r'<script(?: nonce="[^"]+")?>\(function\(\)\{', page)
    assert head_script is not None
    assert head_script.start() > page.index('<meta charset="utf-8">')
    assert default_of(page) == ALL_DENIED


def test_a_returning_visitors_default_comes_from_the_cookie() -> None:
    codec = ConsentCodec("consent-mode-test", ON)
    cookie = f"{codec.cookie_name(secure=True)}={codec.dumps(codec.decide({'analytics'}))}"
    assert default_of(get(ON, cookie))["analytics_storage"] == "granted"


def test_off_by_default_no_gtag_code_at_all() -> None:
    page = get(BASE)
    assert 'gtag("consent"' not in page
    assert 'gtag("consent","update"' not in page
    assert page.count("gtag(") == PAGE.count("gtag(")
