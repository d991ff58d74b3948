"""The run-time gate's head part: the server's rules shipped to the page, once per policy."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consent_gate import ConsentGate
from consent_gate.consent import ConsentCodec
from consent_gate.policy import CookieSpec, GoogleConsentMode, Policy, Service
from consent_gate.rules import Rules
from consent_gate.runtime import RuntimeGate, bundle
from test_csp import browser

SERVICES = (
    Service(id="ga", name="GA", category="analytics", hosts=("google-analytics.com",)),
    Service(id="px", name="Pixel", category="marketing", urls=("facebook.com/tr*",)),
    Service(id="own", name="Own", category="analytics", urls=("/stats/*",)),
)
POLICY = Policy(services=SERVICES)
CODEC = ConsentCodec("runtime-test", POLICY)


async def page(request: Request) -> Response:
    return HTMLResponse("<!doctype html><html><head><title>t</title></head><body></body></html>")


def config_of(policy: Policy, *, csp: bool = False) -> dict[str, Any]:
    """The policy's part of runtime.js's configuration, ahead of it in the served file."""
    source = bundle(policy, Rules(policy), csp).decode()
    found = re.search(r"^\(\(s\)=>\{.*?\}\)\((\{.*\})\);$", source, re.M)
    assert found is not None
    config: dict[str, Any] = json.loads(found.group(1))
    return config


def keys_of(config: dict[str, Any], table: str = "h") -> dict[str, str]:
    """Host -> the key (category, or "category/service") its rule holds under."""
    return {host: config["c"][rule >> 1] for host, rule in config[table].items()}


def inline_of(source: str) -> dict[str, list[str]]:
    """What the inline part leaves for runtime.js."""
    found = re.fullmatch(
        r'Object\.defineProperty\(window,Symbol\.for\("consent-gate\.runtime-config"\),\{value:(\{.*\}),configurable:true\}\);',
        source,
    )
    assert found is not None
    inline: dict[str, list[str]] = json.loads(found.group(1))
    return inline


def refused_of(source: str) -> list[str]:
    """The refused categories the inline part leaves for runtime.js."""
    found = re.fullmatch(
        r'Object\.defineProperty\(window,Symbol\.for\("consent-gate\.runtime-config"\),\{value:(\{.*\}),configurable:true\}\);',
        source,
    )
    assert found is not None
    config = json.loads(found.group(1))
    assert set(config) == {"r"}  # the rest is the same for every visitor: it is in the file
    refused: list[str] = config["r"]
    return refused


def test_the_rules_go_to_the_page_in_the_cached_file() -> None:
    config = config_of(POLICY, csp=True)
    # Each service the dialog lists has a key of its own: allowed alone, it is released alone.
    assert config["c"] == ["analytics/ga", "analytics/own", "marketing/px"]
    assert config["h"] == {"google-analytics.com": 0}  # analytics/ga: 2 * 0
    assert config["u"] == [["facebook.com", "/tr*", 4]]  # marketing/px: 2 * 2
    assert config["p"] == [["/stats/*", 2]]  # analytics/own: 2 * 1
    assert config["e"] == "/consent-gate/consent"
    source = bundle(POLICY, Rules(POLICY), csp=True).decode()
    assert "securitypolicyviolation" in source  # the CSP's collector comes first
    assert source.index("securitypolicyviolation") < source.index("consent-gate.runtime-config")
    assert "securitypolicyviolation" not in bundle(POLICY, Rules(POLICY), csp=False).decode()


def test_a_new_service_reaches_the_page_without_code() -> None:
    extra = Service(id="new", name="New", category="marketing", hosts=("new-tracker.example",))
    policy = dataclasses.replace(POLICY, services=(*SERVICES, extra))
    assert keys_of(config_of(policy)) == {
        "google-analytics.com": "analytics/ga",
        "new-tracker.example": "marketing/new",
    }


def test_services_the_policy_does_not_list_share_their_categorys_key() -> None:
    policy = dataclasses.replace(POLICY, uses=("ga",))
    assert keys_of(config_of(policy)) == {"google-analytics.com": "analytics/ga"}
    assert config_of(policy)["u"][0][2] >> 1 == config_of(policy)["c"].index("marketing")


def test_services_decided_apart_go_inline() -> None:
    gate = RuntimeGate()
    inline = inline_of(gate(CODEC.decide({"analytics"}, services={"px": True, "ga": False})))
    assert inline == {"r": ["marketing", "preferences"], "g": ["px"], "d": ["ga"]}
    assert inline_of(gate(CODEC.decide(set(POLICY.optional_categories), services={"ga": False})))[
        "d"
    ] == ["ga"]


def test_the_page_carries_only_the_refused_categories_built_once_per_refused_set() -> None:
    gate = RuntimeGate()
    first = gate(CODEC.undecided)
    assert refused_of(first) == ["analytics", "marketing", "preferences"]
    assert gate(CODEC.decide(set())) is first
    assert refused_of(gate(CODEC.decide({"analytics"}))) == ["marketing", "preferences"]
    assert gate(CODEC.decide(set(POLICY.optional_categories))) == ""
    assert len(first) < 200


def test_consent_aware_services_are_flagged_for_their_scripts() -> None:
    ga = Service(id="google-analytics", name="GA", category="analytics", hosts=("ga.example",))
    mode = GoogleConsentMode(enabled=True, mode="advanced", services=("google-analytics",))
    policy = dataclasses.replace(POLICY, services=(ga,), google_consent_mode=mode)
    config = config_of(policy)
    assert config["h"] == {"ga.example": 1}  # its key, and its scripts may load
    assert config["c"] == ["analytics/google-analytics"]


def test_first_party_cookie_names_go_by_key_with_the_gates_own() -> None:
    cookies = (
        CookieSpec("_ga", "id"),
        CookieSpec("_ga_*", "session"),
        CookieSpec("IDE", "ads", party="third"),  # on the vendor's host: no script here writes it
    )
    ga = dataclasses.replace(SERVICES[0], cookies=cookies)
    hidden = Service(id="x", name="X", category="marketing", cookies=(CookieSpec("_x", "x"),))
    policy = dataclasses.replace(POLICY, services=(ga, *SERVICES[1:], hidden), uses=("ga", "px"))
    config = config_of(policy)
    assert config["k"] == {"analytics/ga": ["_ga", "_ga_*"], "marketing": ["_x"]}
    assert config["o"] == ["consent_gate", "__Host-consent_gate"]


def test_the_catalogues_first_party_cookie_names_reach_the_page_and_no_third_party_one() -> None:
    """A page's script writes first-party cookies only: those of analytics SDKs and tags, some
    of which the Open Cookie Database files under the vendor's domain, are held."""
    shipped = {name for names in config_of(Policy.default())["k"].values() for name in names}
    first = {"_ga", "_gid", "_fbp", "AMP_*", "ajs_anonymous_id", "mp_*_mixpanel"}
    first |= {"_hjSessionUser_*", "ph_*_posthog", "_ym_visorc_*", "__insp_wid", "__gfp_64b"}
    assert first <= shipped
    assert not {"IDE", "NID", "uuid2", "yandexuid", "Gdyn"} & shipped


def test_names_with_a_key_in_the_middle_go_as_globs_under_their_services_key() -> None:
    """Mixpanel's queue in localStorage, PostHog's window id in sessionStorage: runtime.js
    holds a write whose name a glob of a refused key matches."""
    config = config_of(Policy.default())
    assert {"mp_*_mixpanel", "__mpq_*_ev", "__mpq_*_pp", "__mpq_*_gr", "mp_tab_id_*"} <= set(
        config["k"]["analytics/mixpanel"]
    )
    assert {"ph_*_posthog", "ph_*_window_id", "ph_*_primary_window_exists"} <= set(
        config["k"]["analytics/posthog"]
    )


def test_the_held_path_and_the_stubs_category() -> None:
    config = config_of(Policy.default(), csp=True)
    assert config["b"] == "/consent-gate/held"
    assert config["s"] == {"fbq": "marketing/meta-pixel"}  # Meta's fbevents.js, by the catalogue


def test_the_gates_files_follow_the_inline_script_pinned_by_their_integrity() -> None:
    client = browser(ConsentGate(Starlette(routes=[Route("/", page)]), secret_key="k" * 32))
    html = client.get("/").text
    head = re.search(
        r'<head><script nonce="([^"]+)">[^<]*</script>'
        r'<script nonce="\1" src="([^"]+)" integrity="([^"]+)"></script>'
        r'<script nonce="\1" src="([^"]+)" integrity="([^"]+)"></script><title>',
        html,
    )
    assert head is not None
    _, *files = head.groups()
    assert files[0].startswith("/consent-gate/static/guard.js?v=")  # before it fetch is patched
    assert files[2].startswith("/consent-gate/static/runtime.js?v=")
    for src, integrity in (files[:2], files[2:]):
        served = client.get(src)
        assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
        digest = base64.b64encode(hashlib.sha384(served.content).digest()).decode()
        assert integrity == f"sha384-{digest}"
    client.post("/consent-gate/consent", json={"action": "accept_all"})
    accepted = client.get("/").text
    assert "runtime.js" not in accepted  # nothing refused, nothing to hold
    assert "guard.js" not in accepted
