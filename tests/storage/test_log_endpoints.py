"""Every kind of decision through the endpoints becomes a record, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

import httpx

from asgi_client import Client
from consent_gate import ConsentGate, Policy
from consent_gate._types import Receive, Scope, Send
from consent_gate.policy import LogSettings
from consent_gate.storage import ConsentRecord, open_store

SITE = "http://testserver"
CONSENT = "/consent-gate/consent"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
POLICY = Policy.default()


async def _site(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def decide(
    app: ConsentGate, requests: list[dict[str, Any]], client: tuple[str, int] = ("127.0.0.1", 1)
) -> list[httpx.Response]:
    """Post the choices in turn with one cookie jar, as one visitor would."""

    visitor = Client(app, base_url=SITE, client=client)

    async def go() -> list[httpx.Response]:
        out = []
        for kwargs in requests:
            headers = {"origin": SITE, **kwargs.pop("headers", {})}
            out.append(await visitor.arequest("POST", CONSENT, headers=headers, **kwargs))
        return out

    return asyncio.run(go())


def logged(app: ConsentGate, dsn: str) -> list[ConsentRecord]:
    assert app.log is not None
    assert app.log.flush(10)
    store = open_store(dsn)
    try:
        return list(store.records())
    finally:
        store.close()


def test_each_kind_of_decision_is_recorded(dsn: str, log_gate: Callable[..., ConsentGate]) -> None:
    app = log_gate(dsn)
    responses = decide(
        app,
        [
            {"json": {"action": "accept_all", "via": "banner"}, "headers": {"user-agent": IPHONE}},
            {"json": {"action": "reject_all", "via": "script"}},
            {"data": {"action": "save", "category": "analytics", "via": "preferences",
                      "next": "/account/privacy?tab=1"}},
            {"data": {"action": "allow", "category": "marketing", "via": "placeholder",
                      "next": "/video"}},
            {"data": {"action": "withdraw", "via": "banner", "next": "/"}},
            {"json": {"action": "save", "categories": ["preferences"]},
             "headers": {"referer": f"{SITE}/shop/cart?item=3"}},
        ],
    )  # fmt: skip
    assert [r.status_code for r in responses] == [200, 200, 303, 303, 303, 200]
    records = logged(app, dsn)
    assert [(r.action, r.method) for r in records] == [
        ("accept_all", "banner"),
        ("reject_all", "script"),
        ("save", "preferences"),
        ("allow", "placeholder"),
        ("withdraw", "form"),
        ("save", "api"),
    ]
    assert [r.page for r in records] == ["/", "/", "/account/privacy", "/video", "/", "/shop/cart"]
    ids = [r.json()["id"] for r in (responses[0], responses[1], responses[-1])]
    assert [records[0].consent_id, records[1].consent_id, records[-1].consent_id] == ids
    # Each decision replaces the one in the cookie it arrived with.
    assert records[0].replaces is None
    assert [r.replaces for r in records[1:]] == [r.consent_id for r in records[:-1]]
    optional = {"preferences", "analytics", "marketing"}
    allowed = [{c for c, v in r.choices.items() if v} - {"necessary"} for r in records]
    assert allowed == [optional, set(), {"analytics"}, {"analytics", "marketing"}, set(),
                       {"preferences"}]  # fmt: skip
    first = records[0]
    assert (first.browser, first.os, first.device, first.bot) == ("Mobile Safari", "iOS",
                                                                  "mobile", False)  # fmt: skip
    assert first.ip is None  # off by default
    assert first.revision == POLICY.revision
    assert (first.expires_at - first.decided_at).total_seconds() == POLICY.max_age
    assert len({r.shown for r in records}) == 1
    assert {r.record_id for r in records} == {r.record_id for r in records if r.record_id}
    assert len({r.record_id for r in records}) == len(records)


def test_what_was_shown_is_archived_once_per_language(
    dsn: str, log_gate: Callable[..., ConsentGate]
) -> None:
    app = log_gate(dsn)
    german = {"accept-language": "de-AT,de;q=0.9"}
    decide(
        app,
        [
            {"json": {"action": "accept_all"}},
            {"json": {"action": "reject_all"}},
            {"json": {"action": "reject_all"}, "headers": german},
        ],
    )
    records = logged(app, dsn)
    assert app.log is not None
    store = open_store(dsn)
    try:
        english, _, deutsch = (store.shown(r.shown) for r in records)
        count = store._execute("SELECT COUNT(*) FROM consent_shown").fetchone()[0]
    finally:
        store.close()
    assert english == app.log.shown["en"]
    assert deutsch == app.log.shown["de"]
    assert records[0].shown == records[1].shown != records[2].shown
    assert english is not None
    assert deutsch is not None
    assert 'value="accept_all"' in english.banner
    assert 'lang="de"' in deutsch.banner
    assert '"do_not_track"' in english.policy
    assert count == len(app.log.shown) == len(app.banner.languages)


def test_dnt_is_recorded_as_seen_and_how_it_was_treated(
    dsn: str, log_gate: Callable[..., ConsentGate]
) -> None:
    app = log_gate(dsn)
    honour = log_gate(dsn, dataclasses.replace(POLICY, dnt="honour"))
    decide(app, [{"json": {"action": "accept_all"}, "headers": {"dnt": "1"}}])
    decide(honour, [{"json": {"action": "reject_all"}, "headers": {"dnt": "1"}}])
    decide(app, [{"json": {"action": "reject_all"}}])
    records = logged(app, dsn) and logged(honour, dsn)
    assert [dict(r.signals) for r in records] == [{"dnt": "ignored"}, {"dnt": "honoured"}, {}]


def test_raw_user_agent_is_never_stored(dsn: str, log_gate: Callable[..., ConsentGate]) -> None:
    app = log_gate(dsn)
    bot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    decide(app, [{"json": {"action": "reject_all"}, "headers": {"user-agent": bot}}])
    (record,) = logged(app, dsn)
    assert (record.browser, record.device, record.bot) == ("Googlebot", "bot", True)
    store = open_store(dsn)
    try:
        rows = store._execute("SELECT * FROM consent_records").fetchall()
    finally:
        store.close()
    assert "Mozilla" not in repr(rows)
    assert "google.com/bot" not in repr(rows)


def test_ip_is_truncated_only_when_configured(
    dsn: str, log_gate: Callable[..., ConsentGate]
) -> None:
    truncated = dataclasses.replace(POLICY, log=LogSettings(ip="truncated"))
    app = log_gate(dsn, truncated)
    decide(app, [{"json": {"action": "accept_all"}}], client=("203.0.113.77", 5))
    decide(app, [{"json": {"action": "accept_all"}}], client=("2001:db8:abcd:12::1", 5))
    off = log_gate(dsn)
    decide(off, [{"json": {"action": "accept_all"}}], client=("203.0.113.77", 5))
    records = logged(app, dsn) and logged(off, dsn)
    assert [r.ip for r in records] == ["203.0.113.0", "2001:db8:abcd::", None]


def test_refused_requests_make_no_record(dsn: str, log_gate: Callable[..., ConsentGate]) -> None:
    app = log_gate(dsn)
    responses = decide(
        app,
        [
            {"json": {"action": "maybe"}},
            {"json": {"action": "accept_all"}, "headers": {"origin": "https://evil.example"}},
        ],
    )
    assert [r.status_code for r in responses] == [400, 403]
    assert app.log is not None
    assert app.log.flush(10)
    store = open_store(dsn)
    try:
        assert store.count() == 0
    finally:
        store.close()


def test_logging_can_be_turned_off(tmp_path: Any) -> None:
    off = dataclasses.replace(POLICY, log=LogSettings(enabled=False))
    app = ConsentGate(_site, secret_key="k", policy=off)
    assert app.log is None
    assert [r.status_code for r in decide(app, [{"json": {"action": "accept_all"}}])] == [200]
