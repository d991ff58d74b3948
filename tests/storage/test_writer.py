"""The shipper's thread: nothing lost under load, while the store is down, or at shutdown."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from pg_cluster import Cluster
from test_log_endpoints import CONSENT, SITE, _site
from test_store import record

from asgi_client import Client
from consent_gate import ConsentGate, Policy
from consent_gate.storage import SqlStore, open_store, sqlite_path
from consent_gate.storage.journal import SUFFIX, Journal
from consent_gate.storage.log import shown_version
from consent_gate.storage.rows import Row, Rows, dump_row
from consent_gate.storage.shipper import Shipper
from consent_gate.storage.writer import RecordWriter, Shipped

SHOWN = shown_version("<banner>", {"revision": 1})
ROWS = Rows({"en": SHOWN}, ("en",), "en", 86400)


def _row(number: int) -> Row:
    """A decision as the request's thread captures it."""
    choices = {"necessary": True, "analytics": True}
    return (
        f"c{number}",
        time.time_ns(),
        "accept_all",
        choices,
        1,
        None,
        {},
        "/",
        "api",
        b"",
        None,
        None,
    )


def _count(dsn: str) -> int:
    store = open_store(dsn)
    try:
        return store.count()
    finally:
        store.close()


def journaled(directory: Path, count: int, start: int = 0) -> Journal:
    """A journal holding decisions c<start> ... c<start + count - 1>, still open."""
    journal = Journal(directory)
    for number in range(start, start + count):
        journal.append(dump_row(_row(number)))
    return journal


def _writer(opener: Any, journal: Journal, **options: float) -> RecordWriter:
    shipper = Shipper(journal.directory, journal.prefix, ROWS, "off")
    return RecordWriter(opener, shipper, shown=[SHOWN], **options)


def test_twenty_visitors_times_two_hundred_decisions_lose_nothing(dsn: str) -> None:
    default = Policy.default()
    # 200 decisions from each address: far above what one visitor may record in a minute.
    policy = dataclasses.replace(default, log=dataclasses.replace(default.log, per_minute=10_000))
    app = ConsentGate(_site, secret_key="load", policy=policy, store=dsn)

    async def visitor(number: int) -> set[str]:
        http = Client(app, base_url=SITE, client=(f"10.0.0.{number}", 1))
        ids = set()
        for turn in range(200):
            action = ("accept_all", "reject_all", "withdraw", "save")[turn % 4]
            body = {"action": action, "categories": ["analytics"]}
            response = await http.arequest("POST", CONSENT, json=body, headers={"origin": SITE})
            assert response.status_code == 200
            ids.add(response.json()["id"])
        return ids

    async def crowd() -> list[set[str]]:
        return await asyncio.gather(*(visitor(n) for n in range(20)))

    ids = set().union(*asyncio.run(crowd()))
    assert app.log is not None
    assert app.log.flush(30)
    store = open_store(dsn)
    try:
        assert {r.consent_id for r in store.records()} == ids
        assert store.count() == 20 * 200
    finally:
        store.close()
    app.log.close()


def test_records_made_while_the_store_is_down_are_written_once_it_is_back(
    dsn: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    up = False

    def opener() -> SqlStore:
        if not up:
            raise ConnectionError("the database is down")
        return open_store(dsn)

    journal = journaled(tmp_path / "journal", 120)
    writer = _writer(opener, journal, retry_min=0.05, retry_max=0.2)
    with caplog.at_level(logging.ERROR, logger="consent_gate.log"):
        assert not writer.flush(1)
    assert "cannot write to" in caplog.text
    assert "the database is down" in caplog.text
    assert "the decisions wait in the journal" in caplog.text
    assert _count(dsn) == 0
    up = True  # repaired
    assert writer.flush(10)
    assert _count(dsn) == 120
    journal.close()
    assert writer.close() == Shipped(120, 0)
    assert list(journal.directory.glob(f"*{SUFFIX}")) == []  # finished, shipped, deleted


def test_a_postgres_server_that_stops_and_comes_back(
    cluster: Cluster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dsn = cluster.database()
    journal = journaled(tmp_path / "journal", 1)
    writer = _writer(lambda: open_store(dsn), journal, retry_min=0.05, retry_max=0.5)
    assert writer.flush(10)
    cluster.stop()
    try:
        with caplog.at_level(logging.ERROR, logger="consent_gate.log"):
            for number in range(1, 50):
                journal.append(dump_row(_row(number)))
            assert not writer.flush(1)
        assert "cannot write to" in caplog.text
    finally:
        cluster.start()
    assert writer.flush(20)
    journal.close()
    writer.close()
    assert _count(dsn) == 50


def test_what_the_store_does_not_take_at_shutdown_waits_for_the_next_start(
    tmp_path: Path, dsn: str
) -> None:
    def down() -> SqlStore:
        raise ConnectionError("the database is down")

    journal = journaled(tmp_path / "journal", 10)
    writer = _writer(down, journal)
    writer.start()
    journal.close()
    assert writer.close(grace=0.5) == Shipped(0, 10)
    assert len(list(journal.directory.glob(f"*{SUFFIX}"))) == 1
    # The next start (here: another process's journal and writer) replays it.
    later = Journal(journal.directory)
    later.open()
    again = _writer(lambda: open_store(dsn), later)
    assert again.flush(10)
    assert _count(dsn) == 10
    later.close()
    assert again.close() == Shipped(10, 0)


def test_lifespan_shutdown_ships_the_journal_and_says_so(
    dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = ConsentGate(_site, secret_key="k", policy=Policy.default(), store=dsn)
    sent: list[Any] = []

    async def lifespan_app(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return

    app.app = lifespan_app

    async def run() -> None:
        messages = asyncio.Queue[dict[str, str]]()
        await messages.put({"type": "lifespan.startup"})

        async def send(message: Any) -> None:
            sent.append(message["type"])

        task = asyncio.create_task(app({"type": "lifespan"}, messages.get, send))
        while not sent:
            await asyncio.sleep(0.01)
        assert app.log is not None
        for number in range(300):
            app.log.journal.append(dump_row(_row(number)))
        await messages.put({"type": "lifespan.shutdown"})
        await task

    with caplog.at_level(logging.INFO, logger="consent_gate.log"):
        asyncio.run(run())
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert _count(dsn) == 300
    assert "300 decision(s) journaled by this process, 300 shipped to the store, 0 left" in (
        caplog.text
    )


def test_the_benchmark_counts_every_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "bench"))
    bench = importlib.import_module("consent_log")
    result = bench.measure("sqlite", f"sqlite:///{tmp_path / 'b.sqlite3'}", 1, 0.1)
    assert result["records"] > 200
    assert result["on"] > 0


def test_an_earlier_version_s_spool_file_is_written_once_and_removed(
    dsn: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = ConsentGate(_site, secret_key="k", policy=Policy.default(), store=dsn)
    path = sqlite_path(dsn)
    spool = Path(f"{path}.spool.jsonl") if path else Path("consent-log.spool.jsonl")
    lines = [json.dumps(record(n).to_json()) for n in (1, 2)]
    spool.write_text(f"{lines[0]}\n{{torn\n{lines[1]}\n")
    assert app.log is not None
    with caplog.at_level(logging.WARNING, logger="consent_gate.log"):
        assert app.log.flush(10)
    store = open_store(dsn)
    try:
        assert sorted(r.record_id for r in store.records()) == ["r000001", "r000002"]
    finally:
        store.close()
    assert not spool.exists()
    assert "line 2 of" in caplog.text
    (kept,) = (app.log.journal.directory / "quarantine").iterdir()
    assert kept.read_bytes() == b"{torn"
    app.log.close()
