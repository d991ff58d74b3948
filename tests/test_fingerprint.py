"""The fingerprinting guard's server side: who gets the script, with what settings, and the
reports it sends. What the script does in a browser: tests/browser/test_fingerprint_guard.py."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from asgi_client import Client
from consent_gate import ConsentGate, Policy
from consent_gate.assets import Assets
from consent_gate.banner import static_dir
from consent_gate.consent import Consent
from consent_gate.fingerprint import (
    API_NAMES,
    FILE,
    MAX_ATTEMPTS,
    MAX_COUNT,
    REPORT,
    FingerprintGuard,
    covering_categories,
    install,
    parse,
)
from consent_gate.head import HeadScripts
from consent_gate.policy import FingerprintSettings
from consent_gate.reports import Reports

NO_LOG = {"log": {"enabled": False}}
SCRIPT = "https://cdn.example/fp.js"


def consent(**choices: bool) -> Consent:
    return Consent({"necessary": True, **choices}, 1)


def test_analytics_and_marketing_cover_fingerprinting_by_default() -> None:
    assert covering_categories(Policy.default()) == ("analytics", "marketing")


def test_a_fingerprinting_category_covers_it_alone() -> None:
    policy = Policy.from_dict({"categories": {"fingerprinting": {"title": "Device recognition"}}})
    assert covering_categories(policy) == ("fingerprinting",)


def test_the_site_can_name_the_covering_categories() -> None:
    policy = Policy.from_dict({"fingerprinting": {"categories": ["preferences", "marketing"]}})
    assert covering_categories(policy) == ("preferences", "marketing")


def test_of_analytics_and_marketing_those_the_policy_lets_visitors_choose() -> None:
    policy = Policy.from_dict({"categories": {"analytics": {"required": True}}})
    assert covering_categories(policy) == ("marketing",)


def test_without_analytics_or_marketing_every_optional_category_covers_it() -> None:
    # Only a policy built in Python can lack the built-in categories: a stand-in is enough.
    policy = SimpleNamespace(
        fingerprinting=FingerprintSettings(), optional_categories=("social", "video")
    )
    assert covering_categories(policy) == ("social", "video")  # type: ignore[arg-type]


def test_the_guard_stays_until_every_covering_category_is_allowed() -> None:
    guard = FingerprintGuard(Policy.default())
    assert guard(consent(analytics=False, marketing=False))
    assert guard(consent(analytics=True, marketing=False))
    assert guard(consent(analytics=False, marketing=True))
    assert not guard(consent(analytics=True, marketing=True, preferences=False))


def test_guard_false_turns_it_off() -> None:
    policy = Policy.from_dict({"fingerprinting": {"guard": False}})
    assert not FingerprintGuard(policy)(consent(analytics=False, marketing=False))
    head, assets = HeadScripts(), Assets("/consent-gate")
    install(policy, head, Reports(), assets)
    assert head.render(consent(analytics=False, marketing=False)) == b""
    assert assets.get(FILE) is None


def test_the_file_carries_its_settings_and_the_head_loads_it_pinned() -> None:
    policy = Policy.from_dict(
        {
            "endpoints": {"prefix": "/privacy"},
            "fingerprinting": {"allow_scripts": ["/static/draw.js"], "categories": ["marketing"]},
        }
    )
    head, assets = HeadScripts(), Assets("/privacy")
    install(policy, head, Reports(), assets)
    asset = assets.get(FILE)
    assert asset is not None
    script = asset.body.decode()
    call = re.fullmatch(r"(?s).*\}\)\((\{.*\})\);\n", script)
    assert call is not None
    config = json.loads(call.group(1))
    assert config == {
        "report": "/privacy/reports/fingerprint",
        "consent": "/privacy/consent",
        "allow": ["/static/draw.js"],
        "categories": ["marketing"],
        "own": "/privacy/static/",
    }
    assert (
        head.render(consent(marketing=False), "n0nce")
        == (
            f'<script nonce="n0nce" src="/privacy/static/guard.js?v={asset.version}" '
            f'integrity="{asset.integrity}"></script>'
        ).encode()
    )
    assert head.render(consent(marketing=True), "n0nce") == b""


def test_every_reported_api_is_one_the_script_guards() -> None:
    source = (static_dir() / "guard.js").read_text("utf-8")
    named = set(re.findall(r'"((?:canvas|offscreen|webgl|audio|navigator)\.\w+)"', source))
    analyser = {f"audio.{key}" for key in re.findall(r'\["(get\w+Data)"', source)}
    assert named | analyser == API_NAMES


def body(*attempts: dict[str, Any], page: str = "/shop") -> dict[str, Any]:
    return {"page": page, "attempts": list(attempts)}


def attempt(script: str = SCRIPT, api: str = "canvas.toDataURL", count: int = 1) -> dict[str, Any]:
    return {"script": script, "api": api, "count": count}


def test_parse_counts_each_attempt() -> None:
    keys = parse(body(attempt(count=2), attempt(api="navigator.deviceMemory")))
    assert keys == [
        (SCRIPT, "canvas.toDataURL", "/shop"),
        (SCRIPT, "canvas.toDataURL", "/shop"),
        (SCRIPT, "navigator.deviceMemory", "/shop"),
    ]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([], "an object with 'page' and 'attempts'"),
        ({"attempts": [attempt()]}, "an object with 'page' and 'attempts'"),
        ({**body(attempt()), "extra": 1}, "an object with 'page' and 'attempts'"),
        (body(attempt(), page="https://site.example/shop"), "'page' must be a path"),
        (body(attempt(), page="/a b"), "'page' must be a path"),
        (body(attempt(), page="/" + "x" * 501), "'page' must be a path"),
        (body(), "'attempts' must be a list of 1 to 32"),
        (body(*[attempt()] * (MAX_ATTEMPTS + 1)), "'attempts' must be a list of 1 to 32"),
        ({"page": "/", "attempts": {"script": SCRIPT}}, "'attempts' must be a list"),
        (body(attempt(script="javascript:alert(1)")), "'script' must be an http"),
        (body(attempt(script="https://x.example/a\nb")), "'script' must be an http"),
        (body(attempt(script="https://" + "x" * 600)), "'script' must be an http"),
        (body(attempt(api="canvas.measureText")), "unknown 'api'"),
        (body(attempt(api=["canvas.toBlob"])), "unknown 'api'"),  # unhashable: was a 500
        (body(attempt(api={})), "unknown 'api'"),
        (body(attempt(count=0)), "'count' must be a whole number"),
        (body(attempt(count=MAX_COUNT + 1)), "'count' must be a whole number"),
        (body(attempt(count=True)), "'count' must be a whole number"),
        (body({**attempt(), "count": 1.0}), "'count' must be a whole number"),
        (body({"script": SCRIPT, "api": "canvas.toBlob"}), "each attempt is an object"),
    ],
)
def test_parse_rejects_anything_else(bad: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse(bad)


def test_a_bad_entry_counts_nothing_of_its_report() -> None:
    reports = Reports()
    reports.register(REPORT)
    with pytest.raises(ValueError, match="unknown 'api'"):
        reports.receive("fingerprint", body(attempt(), attempt(api="nope")))
    assert reports.summary()["fingerprint"]["reports"] == []


def _request(gate: ConsentGate, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return Client(gate, base_url="http://t").request(method, path, **kwargs)


def test_the_gate_takes_fingerprint_reports(gate_factory: Callable[..., ConsentGate]) -> None:
    gate = gate_factory(Starlette(), policy=Policy.from_dict(NO_LOG), reports_token="tok")
    url = "/consent-gate/reports/fingerprint"
    sent = _request(gate, "POST", url, content=json.dumps(body(attempt(count=3))))
    assert sent.status_code == 204
    assert _request(gate, "POST", url, content=b'{"page": "/"}').status_code == 400
    summary = _request(
        gate, "GET", "/consent-gate/reports", headers={"Authorization": "Bearer tok"}
    )
    assert summary.json()["fingerprint"]["reports"] == [
        {"script": SCRIPT, "api": "canvas.toDataURL", "page": "/shop", "count": 3}
    ]


def test_the_gate_puts_the_guard_first_in_head_until_consent(
    gate_factory: Callable[..., ConsentGate],
) -> None:
    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(
            "<!doctype html><html><head><script src=/app.js></script></head></html>"
        )

    gate = gate_factory(Starlette(routes=[Route("/", page)]), policy=Policy.from_dict(NO_LOG))
    undecided = _request(gate, "GET", "/").text
    assert re.match(
        r'<!doctype html><html><head><script nonce="[^"]+">[^<]*</script>'
        r'<script nonce="[^"]+" src="/consent-gate/static/guard\.js\?v=',
        undecided,
    )
    assert undecided.index("/guard.js") < undecided.index("/app.js")
    codec = gate.codec
    cookie = codec.dumps(codec.decide({"analytics", "marketing"}))
    allowed = _request(gate, "GET", "/", headers={"cookie": f"consent_gate={cookie}"}).text
    assert "/guard.js" not in allowed
