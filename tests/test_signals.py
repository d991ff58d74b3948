"""Global Privacy Control and Do Not Track: what each signal changes, and what the log keeps."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from asgi_client import Client
from consent_gate import Consent, ConsentGate, Policy
from consent_gate._types import Receive, Scope, Send
from consent_gate.policy import GpcSettings, LogSettings
from consent_gate.storage import ConsentRecord, open_store

SECRET = "signals-test-secret"
SITE = "http://testserver"
CONSENT = "/consent-gate/consent"
GPC = {"sec-gpc": "1"}
GTAG = b'<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
PIXEL = b'<script async src="https://connect.facebook.net/en_US/fbevents.js"></script>'
VIDEO = b'<iframe src="https://www.youtube.com/embed/x"></iframe>'
PAGE = b"<!doctype html><html><head>" + GTAG + PIXEL + b"</head><body>" + VIDEO + b"</body></html>"
IGNORE_GPC = GpcSettings(stance="ignore")


async def _site(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["path"] == "/.well-known/gpc.json":
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"the app's own"})
        return
    headers = [(b"content-type", b"text/html; charset=utf-8")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": PAGE})


@pytest.fixture
def dsn(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'log.sqlite3'}"


def make_gate(dsn: str, **changes: Any) -> ConsentGate:
    policy = dataclasses.replace(Policy.default(), log=LogSettings(dsn=dsn), **changes)
    return ConsentGate(_site, secret_key=SECRET, policy=policy)


def visit(
    gate: ConsentGate, requests: list[tuple[str, str, dict[str, Any]]]
) -> list[httpx.Response]:
    """Requests in turn with one cookie jar, as one visitor's browser would send them."""

    browser = Client(gate, base_url=SITE, client=("127.0.0.1", 1))

    async def go() -> list[httpx.Response]:
        return [await browser.arequest(m, path, **kwargs) for m, path, kwargs in requests]

    return asyncio.run(go())


def page(headers: dict[str, str] | None = None) -> tuple[str, str, dict[str, Any]]:
    return ("GET", "/", {"headers": headers or {}})


def choice(body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[str, str, Any]:
    return ("POST", CONSENT, {"json": body, "headers": {"origin": SITE, **(headers or {})}})


def logged(gate: ConsentGate, dsn: str) -> list[ConsentRecord]:
    assert gate.log is not None
    assert gate.log.flush(10)
    store = open_store(dsn)
    try:
        return list(store.records())
    finally:
        store.close()


def stored(gate: ConsentGate, response: httpx.Response) -> Consent:
    (line,) = [v for v in response.headers.get_list("set-cookie") if v.startswith("consent_gate=")]
    return gate.codec.loads(line.split(";")[0].partition("=")[2])


def switches(html: str) -> dict[str, str]:
    found = re.findall(r'<input class="cg-switch"[^>]* value="([\w-]+)"([^>]*)>', html)
    return {category: rest for category, rest in found}


# -- Global Privacy Control at the first byte ------------------------------------------


def test_gpc_refuses_marketing_but_still_asks_about_the_rest(dsn: str) -> None:
    (response,) = visit(make_gate(dsn), [page(GPC)])
    body = response.content
    assert PIXEL not in body  # marketing: held back
    assert b'data-cg-category="marketing"' in body
    assert b'id="cg-banner"' in body  # analytics and preferences are still asked about
    notice = re.search(rb'<p class="cg-text cg-gpc"( hidden)?>Opt-out request honoured</p>', body)
    assert notice is not None
    assert notice.group(1) is None
    dialog = switches(body.decode())
    assert " disabled" in dialog["marketing"]
    assert " checked" not in dialog["marketing"]
    assert " disabled" not in dialog["analytics"]
    config = json.loads(body.split(b'id="cg-config">')[1].split(b"</script>")[0])
    assert config["gpc"] == {"honoured": True, "applied": True, "categories": ["marketing"]}


def test_without_gpc_the_notice_is_hidden_and_marketing_can_be_chosen(dsn: str) -> None:
    (response,) = visit(make_gate(dsn), [page()])
    body = response.content.decode()
    assert '<p class="cg-text cg-gpc" hidden>' in body
    assert " disabled" not in switches(body)["marketing"]
    assert not [v for v in response.headers.get_list("set-cookie") if "consent_gate=" in v]


def test_gpc_overrides_a_cookie_that_allows_marketing(dsn: str) -> None:
    gate = make_gate(dsn)
    before = gate.codec.decide(set(gate.policy.optional_categories))
    everything = gate.codec.dumps(before)
    (response,) = visit(gate, [page({**GPC, "cookie": f"consent_gate={everything}"})])
    assert PIXEL not in response.content
    assert GTAG in response.content  # the visitor's other choices stand
    assert b'id="cg-banner"' not in response.content
    after = stored(gate, response)
    assert after.decided
    assert not after.allows("marketing")
    assert after.allows("analytics")
    (record,) = logged(gate, dsn)
    assert (record.action, record.method) == ("gpc_opt_out", "gpc-header")
    assert record.replaces == before.id
    assert record.consent_id == after.id


def test_when_every_optional_category_sells_data_there_is_no_prompt_only_the_notice(
    dsn: str,
) -> None:
    gate = make_gate(dsn, gpc=GpcSettings(sale_sharing=("preferences", "analytics", "marketing")))
    (response,) = visit(gate, [page(GPC)])
    assert b'id="cg-banner"' not in response.content
    assert b'<p id="cg-gpc-notice" class="cg-gpc-notice" role="status">' in response.content
    assert GTAG not in response.content


def test_the_opt_out_is_recorded_once_and_the_banner_keeps_asking(dsn: str) -> None:
    gate = make_gate(dsn)
    first, second, third = visit(gate, [page(GPC), page(GPC), page(GPC)])
    opt_out = stored(gate, first)
    assert opt_out.id is not None
    assert not opt_out.decided  # nothing decided about analytics and preferences yet
    assert opt_out.signals == {"gpc": "honoured"}
    for later in (second, third):
        assert not [v for v in later.headers.get_list("set-cookie") if "consent_gate=" in v]
        assert b'id="cg-banner"' in later.content
        assert PIXEL not in later.content
    (record,) = logged(gate, dsn)
    assert (record.action, record.method, record.page) == ("gpc_opt_out", "gpc-header", "/")
    assert dict(record.signals) == {"gpc": "honoured"}
    assert not any(v for c, v in record.choices.items() if c != "necessary")


def test_accept_all_under_gpc_leaves_marketing_refused_and_records_both_signals(
    dsn: str,
) -> None:
    gate = make_gate(dsn)
    headers = {**GPC, "dnt": "1"}
    _, decided, after = visit(
        gate, [page(headers), choice({"action": "accept_all"}, headers), page(headers)]
    )
    assert decided.json()["choices"] == {
        "preferences": True,
        "analytics": True,
        "marketing": False,
    }
    assert decided.json()["signals"] == {"dnt": "ignored", "gpc": "honoured"}
    assert GTAG in after.content
    assert PIXEL not in after.content
    opt_out, accepted = logged(gate, dsn)
    assert dict(opt_out.signals) == {"dnt": "ignored", "gpc": "honoured"}
    assert (accepted.action, accepted.replaces) == ("accept_all", opt_out.consent_id)
    assert dict(accepted.signals) == {"dnt": "ignored", "gpc": "honoured"}
    assert not accepted.choices["marketing"]


def test_gpc_cannot_grant_anything(dsn: str) -> None:
    gate = make_gate(dsn)
    (response,) = visit(gate, [choice({"action": "gpc", "via": "gpc"})])
    assert response.json()["decided"] is False
    assert not any(response.json()["choices"].values())
    (allow,) = visit(gate, [choice({"action": "allow", "categories": ["marketing"]}, GPC)])
    assert allow.json()["choices"]["marketing"] is False


def test_page_level_gpc_is_recorded_from_the_banner_script(dsn: str) -> None:
    gate = make_gate(dsn)
    everything = gate.codec.dumps(gate.codec.decide({"analytics", "marketing"}))
    cookie = {"cookie": f"consent_gate={everything}"}
    response, after = visit(
        gate,
        [choice({"action": "gpc", "categories": [], "via": "gpc", "gpc": True}, cookie), page()],
    )
    assert response.json()["action"] == "gpc_opt_out"
    assert response.json()["choices"] == {
        "preferences": False,
        "analytics": True,
        "marketing": False,
    }
    assert PIXEL not in after.content
    config = json.loads(after.content.split(b'id="cg-config">')[1].split(b"</script>")[0])
    assert config["gpc"]["applied"] is True  # banner.js does not report it again
    (record,) = logged(gate, dsn)
    assert (record.action, record.method) == ("gpc_opt_out", "gpc-js")
    assert dict(record.signals) == {"gpc": "honoured"}


def test_a_choice_reporting_page_level_gpc_cannot_allow_marketing(dsn: str) -> None:
    gate = make_gate(dsn)
    (response,) = visit(gate, [choice({"action": "accept_all", "gpc": True})])
    assert response.json()["choices"]["marketing"] is False
    assert response.json()["signals"] == {"gpc": "honoured"}


# -- the stance "ignore" and DNT ---------------------------------------------------------


def test_ignored_gpc_changes_nothing_but_is_recorded_as_ignored(dsn: str) -> None:
    gate = make_gate(dsn, gpc=IGNORE_GPC)
    first, decided, after = visit(
        gate, [page(GPC), choice({"action": "accept_all"}, GPC), page(GPC)]
    )
    assert b'id="cg-banner"' in first.content
    assert b"cg-gpc" not in first.content
    assert not [v for v in first.headers.get_list("set-cookie") if "consent_gate=" in v]
    assert decided.json()["choices"]["marketing"] is True
    assert PIXEL in after.content
    (record,) = logged(gate, dsn)
    assert dict(record.signals) == {"gpc": "ignored"}
    (refused,) = visit(gate, [choice({"action": "gpc", "via": "gpc"})])
    assert refused.status_code == 400


def test_dnt_changes_nothing_and_is_recorded_as_ignored(dsn: str) -> None:
    gate = make_gate(dsn)
    plain, with_dnt = visit(gate, [page(), page({"dnt": "1"})])
    nonce = re.compile(rb' nonce="[^"]*"')  # fresh on every response
    assert nonce.sub(b"", with_dnt.content) == nonce.sub(b"", plain.content)
    assert not with_dnt.headers.get_list("set-cookie")
    visit(gate, [choice({"action": "reject_all"}, {"dnt": "1"})])
    (record,) = logged(gate, dsn)
    assert dict(record.signals) == {"dnt": "ignored"}


def test_honoured_dnt_and_gpc_together(dsn: str) -> None:
    gate = make_gate(dsn, dnt="honour")
    (response,) = visit(gate, [page({**GPC, "dnt": "1"})])
    assert b'id="cg-banner"' not in response.content  # honoured DNT: nobody is asked
    assert GTAG not in response.content
    assert stored(gate, response).signals == {"dnt": "honoured", "gpc": "honoured"}


# -- /.well-known/gpc.json and the policy --------------------------------------------------


def test_well_known_gpc_json_is_served_when_gpc_is_honoured(dsn: str) -> None:
    gate = make_gate(dsn, gpc=GpcSettings(last_update="2026-11-01"))
    got, head, posted = visit(
        gate,
        [
            ("GET", "/.well-known/gpc.json", {}),
            ("HEAD", "/.well-known/gpc.json", {}),
            ("POST", "/.well-known/gpc.json", {}),
        ],
    )
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/json"
    assert got.json() == {"gpc": True, "lastUpdate": "2026-11-01"}
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == got.headers["content-length"]
    assert (posted.status_code, posted.headers["allow"]) == (405, "GET, HEAD")
    (plain,) = visit(make_gate(dsn), [("GET", "/.well-known/gpc.json", {})])
    assert plain.json() == {"gpc": True}


def test_well_known_gpc_json_is_the_apps_when_gpc_is_ignored(dsn: str) -> None:
    (response,) = visit(make_gate(dsn, gpc=IGNORE_GPC), [("GET", "/.well-known/gpc.json", {})])
    assert (response.status_code, response.content) == (404, b"the app's own")


def test_policy_page_and_json_state_the_gpc_stance(dsn: str) -> None:
    gate = make_gate(dsn)
    policy_page, policy_json, under_gpc = visit(
        gate,
        [
            ("GET", "/consent-gate/policy", {}),
            ("GET", "/consent-gate/policy.json", {}),
            ("GET", "/consent-gate/policy", {"headers": GPC}),
        ],
    )
    statement = gate.banner.policy_json()["global_privacy_control"]["statement"]
    assert statement.startswith("This site honours Global Privacy Control")
    assert f'<p id="cg-gpc-statement">{statement}</p>' in policy_page.text
    assert "cg-gpc-notice" not in policy_page.text
    assert policy_json.json()["global_privacy_control"] == {
        "honoured": True,
        "sale_sharing": ["marketing"],
        "statement": statement,
    }
    assert 'id="cg-gpc-notice" class="cg-notice" role="status">Opt-out request honoured' in (
        under_gpc.text
    )
    assert "Refused (Opt-out request honoured)" in under_gpc.text
    ignoring = make_gate(dsn, gpc=IGNORE_GPC)
    (ignored,) = visit(ignoring, [("GET", "/consent-gate/policy.json", {})])
    assert ignored.json()["global_privacy_control"]["honoured"] is False
    assert (
        "does not honour Global Privacy Control"
        in (ignored.json()["global_privacy_control"]["statement"])
    )


def test_preferences_page_locks_marketing_under_gpc(dsn: str) -> None:
    (response,) = visit(make_gate(dsn), [("GET", "/consent-gate/preferences", {"headers": GPC})])
    locked = switches(response.text)["marketing"]
    assert " disabled" in locked
    assert " checked" not in locked
    assert "(Opt-out request honoured)</span>" in response.text


def test_a_held_back_embed_says_the_opt_out_was_honoured_instead_of_offering_to_allow(
    dsn: str,
) -> None:
    gate = make_gate(dsn)
    plain, under_gpc = visit(gate, [page(), page(GPC)])
    frame = plain.content.split(b"<iframe")[1].split(b"</iframe>")[0]
    assert b"Allow YouTube and load" in frame
    assert b"Opt-out request honoured" not in frame
    frame = under_gpc.content.split(b"<iframe")[1].split(b"</iframe>")[0]
    assert b"Opt-out request honoured" in frame
    assert b"Allow YouTube and load" not in frame
    assert b"&lt;button" not in frame
