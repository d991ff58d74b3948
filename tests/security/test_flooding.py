"""Consent-log flooding: records are kept for years, so what one client adds is bounded.

Before the fix, decisions had no rate limit, a 16 KB `next` was stored per record, and every
cookie-less GET with `Sec-GPC: 1` wrote a record.
"""

from __future__ import annotations

from typing import Any

import pytest

from asgi_client import run
from consent_gate import ConsentGate, Policy
from consent_gate._types import Receive, Scope, Send
from consent_gate.evidence import MAX_LANGUAGE, MAX_PAGE, MAX_USER_AGENT
from consent_gate.http import header

PER_MINUTE = 5
CONSENT = "/consent-gate/consent"
ORIGIN = [(b"host", b"testserver"), (b"origin", b"http://testserver")]
JSON = [*ORIGIN, (b"content-type", b"application/json")]
FORM = [*ORIGIN, (b"content-type", b"application/x-www-form-urlencoded")]


async def _page(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [(b"content-type", b"text/html")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"<html><body>hi</body></html>"})


class Spy:
    """A gate whose log only counts what it is asked to record."""

    def __init__(self, tmp_path: Any) -> None:
        dsn = f"sqlite:///{tmp_path / 'log.sqlite3'}"
        policy = Policy.from_dict({"log": {"dsn": dsn, "per_minute": PER_MINUTE}})
        self.gate = ConsentGate(_page, secret_key="s" * 32, policy=policy)
        self.records: list[dict[str, Any]] = []
        assert self.gate.log is not None
        self.gate.log.record = self._record  # type: ignore[method-assign]

    def _record(self, consent: Any, **fields: Any) -> None:
        self.records.append(fields)


@pytest.fixture
def spy(tmp_path: Any) -> Spy:
    return Spy(tmp_path)


def test_a_script_posting_decisions_is_held_to_the_budget(spy: Spy) -> None:
    statuses = [
        run(spy.gate, "POST", CONSENT, JSON, b'{"action": "accept_all"}').status for _ in range(200)
    ]
    assert statuses.count(200) == PER_MINUTE
    assert statuses.count(429) == 200 - PER_MINUTE
    assert len(spy.records) == PER_MINUTE
    refused = run(spy.gate, "POST", CONSENT, [*JSON, (b"accept", b"application/json")], b"{}")
    assert refused.status == 400  # malformed requests are answered before the budget is spent
    refused = run(spy.gate, "POST", CONSENT, JSON, b'{"action": "reject_all"}')
    assert refused.status == 429
    assert b"too many decisions" in refused.body
    assert refused.values(b"set-cookie") == []  # not recorded, so not acknowledged either
    other = run(spy.gate, "POST", CONSENT, JSON, b'{"action": "reject_all"}', client="192.0.2.9")
    assert other.status == 200


def test_rotating_ipv6_addresses_in_one_slash_64_share_a_budget(spy: Spy) -> None:
    statuses = [
        run(
            spy.gate, "POST", CONSENT, JSON, b'{"action": "reject_all"}', client=f"2001:db8::{n:x}"
        ).status
        for n in range(50)
    ]
    assert statuses.count(200) == PER_MINUTE


def test_stored_fields_are_capped_and_normalised(spy: Spy) -> None:
    form = b"action=reject_all&next=/" + b"a" * 16_000 + b"%3Fq%3D1?secret=1"
    headers = [
        *FORM,
        (b"user-agent", b"Mozilla/5.0 " + b"x" * 16_000),
        (b"accept-language", b"en;q=0.9," * 2_000),
    ]
    assert run(spy.gate, "POST", CONSENT, headers, form).status == 303
    (record,) = spy.records
    assert len(record["page"]) <= MAX_PAGE
    assert "secret" not in record["page"]
    assert record["page"].startswith("/aaa")
    assert len(header(record["headers"], b"user-agent") or b"") == MAX_USER_AGENT
    assert len(header(record["headers"], b"accept-language") or b"") == MAX_LANGUAGE


def test_a_referer_page_is_kept_without_its_query(spy: Spy) -> None:
    headers = [*JSON, (b"referer", b"http://testserver/shop/item?email=a%40b.example")]
    assert run(spy.gate, "POST", CONSENT, headers, b'{"action": "reject_all"}').status == 200
    assert spy.records[0]["page"] == "/shop/item"


def test_a_script_dropping_cookies_under_gpc_cannot_flood_the_log(spy: Spy) -> None:
    gpc = [(b"host", b"testserver"), (b"sec-gpc", b"1")]
    responses = [run(spy.gate, "GET", f"/page{n}", gpc) for n in range(500)]
    assert len(spy.records) == PER_MINUTE
    assert all(r["action"] == "gpc_opt_out" for r in spy.records)
    print(f"\n500 cookie-less GPC page views from one address: {len(spy.records)} records")
    remembered = [
        r for r in responses if any(v.startswith(b"consent_gate=") for v in r.values(b"set-cookie"))
    ]
    assert len(remembered) == PER_MINUTE  # a cookie only where a record was written
    assert all(r.status == 200 for r in responses)


def test_a_visitor_who_keeps_the_cookie_is_recorded_once(spy: Spy) -> None:
    gpc = [(b"host", b"testserver"), (b"sec-gpc", b"1")]
    first = run(spy.gate, "GET", "/", gpc)
    (line,) = [v for v in first.values(b"set-cookie") if v.startswith(b"consent_gate=")]
    cookie = (b"cookie", line.split(b";")[0])
    for n in range(20):
        later = run(spy.gate, "GET", f"/p{n}", [*gpc, cookie])
        assert not any(v.startswith(b"consent_gate=") for v in later.values(b"set-cookie"))
    assert len(spy.records) == 1
    assert spy.records[0]["page"] == "/"
