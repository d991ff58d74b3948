"""Reports from every process of a site, added up in the consent log's store (SQLite and
PostgreSQL): counts per key, first and last seen, bounded rows, read with `consent-gate reports`."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from pg_cluster import Cluster
from starlette.applications import Starlette

from asgi_client import Client
from consent_gate import ConsentGate, Policy
from consent_gate.cli import main
from consent_gate.storage import open_store
from consent_gate.storage.postgres import PostgresStore
from consent_gate.storage.report_flush import ReportFlusher
from consent_gate.storage.sql import ReportCount, SqlStore

T0 = datetime(2026, 12, 1, tzinfo=UTC)
SECRET = "fleet-reports-test-key-0123456789abcdef"


def _count(host: str, n: int = 1, at: int = 0, kind: str = "csp") -> ReportCount:
    when = T0 + timedelta(minutes=at)
    return ReportCount(kind, {"host": host, "directive": "script-src"}, n, when, when)


def _rows(dsn: str) -> list[ReportCount]:
    store = open_store(dsn)
    try:
        return store.reports()
    finally:
        store.close()


def test_counts_add_up_and_first_and_last_seen_widen(dsn: str) -> None:
    store = open_store(dsn)
    try:
        store.add_reports([_count("a.example", 2, at=5), _count("b.example")], limit=10)
        store.add_reports([_count("a.example", 3, at=1), _count("a.example", 1, at=9)], limit=10)
        a, b = store.reports()
    finally:
        store.close()
    assert (a.fields["host"], a.count, a.first_seen, a.last_seen) == (
        "a.example",
        6,
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=9),
    )
    assert (b.fields["host"], b.count) == ("b.example", 1)


def test_rows_are_bounded_per_kind_and_later_keys_count_as_overflow(dsn: str) -> None:
    store = open_store(dsn)
    try:
        store.add_reports([_count(f"h{n}.example") for n in range(5)], limit=3)
        store.add_reports([_count("h0.example"), _count("new.example", 4)], limit=3)
        store.add_reports([_count("other.example", kind="fingerprint")], limit=3)
        rows = store.reports()
    finally:
        store.close()
    csp = [r for r in rows if r.kind == "csp"]
    assert [r.fields.get("host") for r in csp] == ["h0.example", "h1.example", "h2.example", None]
    assert csp[0].count == 2  # a known key still counts once the table is full
    assert csp[-1].overflow
    assert csp[-1].count == 2 + 4  # h3, h4, then new.example's four
    assert [r.kind for r in rows if not r.overflow].count("fingerprint") == 1  # its own bound


class _Site:
    """A gate whose reports count in `dsn`, taking CSP reports like a browser sends them."""

    def __init__(
        self, build: Callable[..., ConsentGate], dsn: str, policy: Policy | None = None
    ) -> None:
        # `build`: the tests' gate_factory, which closes the gate's log after the test
        self.gate = build(Starlette(), secret_key=SECRET, policy=policy, store=dsn)

    def report(self, blocked: str, page: str = "https://shop.example/") -> None:
        body = {
            "csp-report": {
                "document-uri": page,
                "blocked-uri": blocked,
                "effective-directive": "script-src-elem",
            }
        }

        response = Client(self.gate, base_url="http://t").post(
            "/consent-gate/reports/csp",
            content=json.dumps(body),
            headers={"content-type": "application/csp-report"},
        )
        assert response.status_code == 204

    def flush(self) -> None:
        flusher = self.gate.report_flusher
        assert flusher is not None
        assert flusher.flush()


def test_two_gates_sharing_a_store_add_to_one_view(
    dsn: str, gate_factory: Callable[..., ConsentGate]
) -> None:
    one, two = _Site(gate_factory, dsn), _Site(gate_factory, dsn)
    for _ in range(3):
        one.report("https://tracker.example/t.js")
    two.report("https://tracker.example/t.js")
    two.report("https://other.example/x.js", page="https://shop.example/cart")
    one.flush()
    two.flush()
    rows = _rows(dsn)
    assert [(r.fields, r.count) for r in rows] == [
        ({"host": "tracker.example", "directive": "script-src-elem", "page": "/"}, 4),
        ({"host": "other.example", "directive": "script-src-elem", "page": "/cart"}, 1),
    ]
    assert rows[0].first_seen <= rows[0].last_seen

    table = CliRunner().invoke(main, ["reports", "--dsn", dsn])
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].split() == [
        "kind",
        "count",
        "first",
        "seen",
        "(UTC)",
        "last",
        "seen",
        "(UTC)",
        "key",
    ]
    assert lines[1].startswith("csp                 4  ")
    assert lines[1].endswith("host=tracker.example, directive=script-src-elem, page=/")
    listed = json.loads(CliRunner().invoke(main, ["reports", "--dsn", dsn, "--json"]).output)
    assert [(r["kind"], r["key"]["host"], r["count"]) for r in listed] == [
        ("csp", "tracker.example", 4),
        ("csp", "other.example", 1),
    ]
    assert set(listed[0]) == {"kind", "key", "overflow", "count", "first_seen", "last_seen"}


def test_counts_wait_in_a_bounded_buffer_while_the_store_is_down(dsn: str) -> None:
    attempts: list[int] = []

    def opener() -> SqlStore:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("store down")
        return open_store(dsn)

    flusher = ReportFlusher(opener, interval=3600, limit=2, where="test")
    try:
        for host in ("a", "b", "c", "d", "a"):
            flusher.add("csp", {"host": host}, T0)
        assert flusher.flush() is False  # kept for the next try
        flusher.add("csp", {"host": "a"}, T0 + timedelta(minutes=1))
        assert flusher.flush() is True
    finally:
        flusher.close()
    counts: dict[Any, int] = {r.fields.get("host"): r.count for r in _rows(dsn)}
    assert counts == {"a": 3, "b": 1, None: 2}  # c and d beyond the buffer's bound of 2


def test_no_flusher_without_a_consent_log_or_with_flush_seconds_0() -> None:
    for settings in ({"log": {"enabled": False}}, {"reports": {"flush_seconds": 0}}):
        gate = ConsentGate(Starlette(), SECRET, policy=Policy.from_dict(settings))
        assert gate.report_flusher is None
        assert gate.reports.sink is None


def test_a_writer_role_may_add_reports_but_not_touch_records(cluster: Cluster) -> None:
    owner = cluster.database()
    store = open_store(owner)
    try:
        role = f"reports_{owner.rsplit('_', 1)[1]}"  # roles are the cluster's: one per database
        with psycopg.connect(owner, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {role} LOGIN")
        assert isinstance(store, PostgresStore)
        store.grant_writer(role)
    finally:
        store.close()
    writer = open_store(owner.replace("postgres@", f"{role}@"))
    try:
        assert writer.add_reports([_count("a.example"), _count("a.example", at=1)], 10, "b1")
        assert not writer.add_reports([_count("a.example")], 10, "b1")  # already added
        assert [r.count for r in writer.reports()] == [2]
    finally:
        writer.close()


def test_counts_reach_the_store_every_flush_seconds_and_at_shutdown(
    dsn: str, gate_factory: Callable[..., ConsentGate]
) -> None:
    policy = Policy.from_dict({"reports": {"flush_seconds": 1}})
    site = _Site(gate_factory, dsn, policy)
    site.report("https://tracker.example/t.js")
    deadline = time.monotonic() + 10
    while not _rows(dsn) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [r.count for r in _rows(dsn)] == [1]  # the flusher's thread, unasked

    flusher = site.gate.report_flusher
    assert flusher is not None
    flusher.interval = 3600  # from its next wait on: only shutdown flushes now
    time.sleep(1.5)
    site.report("https://tracker.example/t.js")

    async def shutdown() -> None:
        messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return next(messages)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await site.gate({"type": "lifespan"}, receive, send)

    asyncio.run(shutdown())
    assert [r.count for r in _rows(dsn)] == [2]


def test_a_batch_whose_answer_was_lost_is_not_counted_twice(dsn: str) -> None:
    """The commit went through, the connection broke before it said so: the retry is a no-op."""
    answers_lost = [True]

    class LosesAnAnswer:
        def __init__(self) -> None:
            self.store = open_store(dsn)

        def add_reports(self, counts: Any, limit: int, batch: str | None = None) -> bool:
            added = self.store.add_reports(counts, limit, batch)
            if answers_lost.pop() if answers_lost else False:
                raise OSError("connection lost")
            return added

        def close(self) -> None:
            self.store.close()

    flusher = ReportFlusher(LosesAnAnswer, interval=3600, limit=10, where="test")  # type: ignore[arg-type]
    try:
        flusher.add("csp", {"host": "a"}, T0)
        assert flusher.flush() is False
        flusher.add("csp", {"host": "a"}, T0)
        assert flusher.flush() is True
    finally:
        flusher.close()
    assert [r.count for r in _rows(dsn)] == [2]  # 1 + 1, not 1 + 1 + 1


def test_a_relative_sqlite_store_is_the_one_of_the_directory_the_gate_was_built_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate_factory: Callable[..., ConsentGate]
) -> None:
    """At exit, the last flush runs wherever the process has moved to (pytest moves back)."""
    (tmp_path / "site").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "site")
    site = _Site(gate_factory, "sqlite:///reports.sqlite3")
    site.report("https://tracker.example/t.js")
    monkeypatch.chdir(tmp_path / "elsewhere")
    site.flush()
    assert [r.count for r in _rows(f"sqlite:///{tmp_path / 'site' / 'reports.sqlite3'}")] == [1]
    assert not (tmp_path / "elsewhere" / "reports.sqlite3").exists()
