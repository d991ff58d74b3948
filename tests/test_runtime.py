"""The run-time gate's head part: the server's rules shipped to the page, once per policy."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consent_gate import ConsentGate
from consent_gate.consent import ConsentCodec
from consent_gate.policy import GoogleConsentMode, Policy, Service
from consent_gate.rules import Rules
from consent_gate.runtime import RuntimeGate
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


def config_of(source: str) -> dict[str, object]:
    """The configuration the inline part leaves for runtime.js."""
    found = re.search(r"\{value:(\{.*\}),configurable:true\}\);\Z", source, re.S)
    assert found is not None
    config: dict[str, object] = json.loads(found.group(1))
    return config


def test_the_rules_go_to_the_page_with_the_refused_categories() -> None:
    source = RuntimeGate(POLICY, Rules(POLICY), csp=True)(CODEC.undecided)

    config = config_of(source)
    categories = config["c"]
    assert categories == ["analytics", "marketing"]
    assert config["h"] == {"google-analytics.com": 0}  # analytics: 2 * 0
    assert config["u"] == [["facebook.com", "/tr*", 2]]  # marketing: 2 * 1
    assert config["p"] == [["/stats/*", 0]]
    assert config["r"] == ["analytics", "marketing", "preferences"]
    assert config["e"] == "/consent-gate/consent"
    assert "securitypolicyviolation" in source  # the CSP's collector comes first
    assert source.index("securitypolicyviolation") < source.index("consent-gate.runtime-config")


def test_a_new_service_reaches_the_page_without_code() -> None:
    extra = Service(id="new", name="New", category="marketing", hosts=("new-tracker.example",))
    policy = dataclasses.replace(POLICY, services=(*SERVICES, extra))
    config = config_of(RuntimeGate(policy, Rules(policy), csp=True)(CODEC.undecided))
    assert config["h"] == {"google-analytics.com": 0, "new-tracker.example": 2}


def test_built_once_per_refused_set_and_nothing_when_nothing_is_refused() -> None:
    gate = RuntimeGate(POLICY, Rules(POLICY), csp=False)
    first = gate(CODEC.undecided)
    assert gate(CODEC.decide(set())) is first
    assert config_of(gate(CODEC.decide({"analytics"})))["r"] == ["marketing", "preferences"]
    assert gate(CODEC.decide(set(POLICY.optional_categories))) == ""
    assert "securitypolicyviolation" not in first  # the CSP is off


def test_consent_aware_services_are_flagged_for_their_scripts() -> None:
    ga = Service(id="google-analytics", name="GA", category="analytics", hosts=("ga.example",))
    mode = GoogleConsentMode(enabled=True, mode="advanced", services=("google-analytics",))
    policy = dataclasses.replace(POLICY, services=(ga,), google_consent_mode=mode)
    config = config_of(RuntimeGate(policy, Rules(policy), csp=False)(CODEC.undecided))
    assert config["h"] == {"ga.example": 1}  # analytics, and its scripts may load


def test_the_held_path_and_the_stubs_category() -> None:
    policy = Policy.default()
    config = config_of(
        RuntimeGate(policy, Rules(policy), csp=True)(ConsentCodec("k", policy).undecided)
    )
    assert config["b"] == "/consent-gate/held"
    assert config["s"] == {"fbq": "marketing"}  # Meta's fbevents.js, by the catalogue


def test_runtime_js_is_a_static_file_after_the_inline_script_pinned_by_its_integrity() -> None:
    client = browser(ConsentGate(Starlette(routes=[Route("/", page)]), secret_key="k" * 32))
    html = client.get("/").text
    found = re.search(r'</script><script nonce="[^"]+" src="([^"]+)" integrity="([^"]+)">', html)
    assert found is not None
    src, integrity = found.groups()
    assert src.startswith("/consent-gate/static/runtime.js?v=")
    served = client.get(src)
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    digest = base64.b64encode(hashlib.sha384(served.content).digest()).decode()
    assert integrity == f"sha384-{digest}"
    client.post("/consent-gate/consent", json={"action": "accept_all"})
    assert "runtime.js" not in client.get("/").text  # nothing refused, nothing to hold
