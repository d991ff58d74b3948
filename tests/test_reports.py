"""Reports: bounded counting, a per-client rate limit, and the endpoint that takes them in."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.applications import Starlette

from asgi_client import Client
from consent_gate import ConsentGate, reports
from consent_gate.reports import RateLimit, ReportBook, ReportKind, Reports


def test_the_book_counts_and_ranks() -> None:
    book = ReportBook(("host",), limit=10)
    assert book.add(("a",)) is True
    assert book.add(("b",)) is True
    assert book.add(("b",)) is False
    assert book.rows() == [{"host": "b", "count": 2}, {"host": "a", "count": 1}]


def test_a_full_book_counts_new_keys_as_overflow_only() -> None:
    book = ReportBook(("host",), limit=2)
    for key in ("a", "b", "c", "d", "a"):
        book.add((key,))
    assert [row["host"] for row in book.rows()] == ["a", "b"]
    assert book.overflow == 2


def test_the_rate_limit_refills_over_time() -> None:
    limit = RateLimit(per_minute=2)
    assert limit.allow("1.2.3.4", now=0.0)
    assert limit.allow("1.2.3.4", now=0.0)
    assert not limit.allow("1.2.3.4", now=0.0)
    assert limit.allow("5.6.7.8", now=0.0)  # per client
    assert limit.allow("1.2.3.4", now=30.0)  # one token back after half a minute


def test_the_rate_limit_table_is_bounded() -> None:
    limit = RateLimit(per_minute=1, clients=3)
    for n in range(100):
        limit.allow(f"10.0.0.{n}", now=0.0)
    assert len(limit._buckets) == 3


def _hosts(body: Any) -> Iterable[tuple[str, ...]]:
    if not isinstance(body, dict) or not isinstance(body.get("host"), str):
        raise ValueError("expected {'host': ...}")
    yield (body["host"],)


def test_new_keys_are_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    reports = Reports()
    reports.register(ReportKind("test", ("host",), _hosts))
    with caplog.at_level(logging.WARNING, "consent_gate"):
        reports.receive("test", {"host": "t.example"})
        reports.receive("test", {"host": "t.example"})
    assert [r.getMessage() for r in caplog.records] == [
        "consent_gate: new test report: host=t.example"
    ]
    assert reports.summary() == {
        "test": {"reports": [{"host": "t.example", "count": 2}], "overflow": 0}
    }


def test_keys_are_made_printable_before_they_are_logged_or_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reports = Reports()
    reports.register(ReportKind("test", ("host",), _hosts))
    with caplog.at_level(logging.WARNING, "consent_gate"):
        reports.receive("test", {"host": "a\ud800b\nconsent_gate: forged\x1b[31m\x00"})
    assert [r.getMessage() for r in caplog.records] == [
        "consent_gate: new test report: host=a\ufffdb\ufffdconsent_gate: forged\ufffd[31m\ufffd"
    ]
    json.dumps(reports.summary(), ensure_ascii=False).encode("utf-8")  # no lone surrogate left


def test_a_kind_may_drop_keys_given_the_senders_request() -> None:
    reports = Reports()
    seen: list[list[tuple[bytes, bytes]]] = []

    def keep(key: tuple[str, ...], headers: list[tuple[bytes, bytes]]) -> bool:
        seen.append(headers)
        return key != ("allowed.example",)

    reports.register(ReportKind("test", ("host",), _hosts, keep))
    sender = [(b"cookie", b"c=1")]
    assert reports.receive("test", {"host": "allowed.example"}, sender) == 1  # read, not kept
    reports.receive("test", {"host": "new.example"}, sender)

    assert seen == [sender, sender]
    assert reports.summary()["test"]["reports"] == [{"host": "new.example", "count": 1}]


def _client(token: str | None = None) -> tuple[ConsentGate, Client]:
    gate = ConsentGate(Starlette(), "k", reports_token=token)
    gate.reports.register(ReportKind("test", ("host",), _hosts))
    return gate, Client(gate, base_url="http://t")


def test_the_endpoint_counts_a_report() -> None:
    gate, client = _client()
    answer = client.post("/consent-gate/reports/test", content=json.dumps({"host": "x.example"}))
    assert answer.status_code == 204
    assert gate.reports.summary()["test"]["reports"] == [{"host": "x.example", "count": 1}]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"host": 3}',
        b'{"host": "\\ud800"}',  # a lone surrogate, escaped
        b'{"host": "\xed\xa0\x80"}',  # the same, encoded (not UTF-8)
        b'{"host": "\xff"}',
        b"[" * 60_000,
        b'{"host": ' + b"9" * 5000 + b"}",
    ],
)
def test_a_malformed_report_is_a_400(body: bytes) -> None:
    _, client = _client()
    answer = client.post("/consent-gate/reports/test", content=body)
    assert answer.status_code == 400
    assert "not a test report" in answer.text


def test_a_report_with_a_lone_surrogate_leaves_the_summary_readable() -> None:
    _, client = _client("s3cret")
    for host in ("\\ud800", "\\udfff", "x\\ud83d"):
        body = b'{"host": "' + host.encode() + b'"}'
        assert client.post("/consent-gate/reports/test", content=body).status_code == 400
    pair = client.post("/consent-gate/reports/test", content=b'{"host": "\\ud83d\\ude00"}')
    assert pair.status_code == 204  # a surrogate pair is one character, and welcome
    summary = client.get("/consent-gate/reports", headers={"authorization": "Bearer s3cret"})
    assert summary.status_code == 200
    assert summary.json()["test"]["reports"] == [{"host": "\U0001f600", "count": 1}]


def test_unknown_kinds_and_other_methods() -> None:
    _, client = _client()
    for method in ("POST", "GET"):  # no such resource, whatever the method
        assert client.request(method, "/consent-gate/reports/nope").status_code == 404
    wrong = client.get("/consent-gate/reports/test")
    assert (wrong.status_code, wrong.headers["allow"]) == (405, "POST")


def test_an_oversized_report_is_refused() -> None:
    _, client = _client()
    answer = client.post("/consent-gate/reports/test", content=b" " * (65 * 1024))
    assert answer.status_code == 413


def test_one_client_cannot_flood_the_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    # The clock stands still: on a loaded machine the loop took over a second, and the
    # bucket's refill let one more through.
    monkeypatch.setattr(reports, "time", SimpleNamespace(monotonic=lambda: 1000.0))
    gate, client = _client()
    statuses = [
        client.post("/consent-gate/reports/test", content=b'{"host": "h"}').status_code
        for _ in range(gate.policy.reports.per_minute + 5)
    ]
    assert statuses.count(204) == gate.policy.reports.per_minute
    assert statuses[-1] == 429


def test_the_summary_needs_the_owners_token() -> None:
    _, client = _client()
    assert client.get("/consent-gate/reports").status_code == 404  # no token: not served at all
    _, client = _client("s3cret")
    client.post("/consent-gate/reports/test", content=b'{"host": "h"}')
    assert client.get("/consent-gate/reports").status_code == 404
    wrong = client.get("/consent-gate/reports", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 404
    right = client.get("/consent-gate/reports", headers={"authorization": "Bearer s3cret"})
    assert right.json()["test"]["reports"] == [{"host": "h", "count": 1}]
