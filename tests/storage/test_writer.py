"""The background writer: nothing lost under load, while the store is down, or at shutdown."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import logging
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pg_cluster import Cluster
from test_log_endpoints import CONSENT, SITE, _site

from consent_gate import ConsentGate, Policy
from consent_gate.storage import Decision, SqlStore, open_store
from consent_gate.storage.log import shown_version
from consent_gate.storage.rows import Row
from consent_gate.storage.spool import Spool
from consent_gate.storage.writer import RecordWriter

SHOWN = shown_version("<banner>", {"revision": 1})


def _decision(number: int) -> Decision:
    return Decision(
        consent_id=f"c{number}",
        decided_at=datetime.now(UTC),
        action="accept_all",
        choices={"necessary": True, "analytics": True},
        revision=1,
        shown=SHOWN.hash,
        signals={},
        page="/",
        method="api",
        user_agent="",
        client=None,
        max_age=86400,
    )


def _row(number: int) -> Row:
    """The same decision as the request's thread captures it."""
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


def test_twenty_visitors_times_two_hundred_decisions_lose_nothing(dsn: str) -> None:
    default = Policy.default()
    # 200 decisions from each address: far above what one visitor may record in a minute.
    policy = dataclasses.replace(default, log=dataclasses.replace(default.log, per_minute=10_000))
    app = ConsentGate(_site, secret_key="load", policy=policy, store=dsn)

    async def visitor(number: int) -> set[str]:
        transport = httpx.ASGITransport(app=app, client=(f"10.0.0.{number}", 1))
        ids = set()
        async with httpx.AsyncClient(transport=transport, base_url=SITE) as http:
            for turn in range(200):
                action = ("accept_all", "reject_all", "withdraw", "save")[turn % 4]
                body = {"action": action, "categories": ["analytics"]}
                response = await http.post(CONSENT, json=body, headers={"origin": SITE})
                assert response.status_code == 200
                ids.add(response.json()["id"])
        return ids

    async def crowd() -> list[set[str]]:
        return await asyncio.gather(*(visitor(n) for n in range(20)))

    ids = set().union(*asyncio.run(crowd()))
    assert app.log is not None
    assert app.log.writer.flush(30)
    store = open_store(dsn)
    try:
        assert {r.consent_id for r in store.records()} == ids
        assert store.count() == 20 * 200
    finally:
        store.close()


def test_records_made_while_the_store_is_down_are_written_once_it_is_back(
    dsn: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    up = False

    def opener() -> SqlStore:
        if not up:
            raise ConnectionError("the database is down")
        return open_store(dsn)

    writer = RecordWriter(
        opener,
        shown=[SHOWN],
        spool=Spool(tmp_path / "spool.jsonl", memory=50),
        retry_min=0.05,
        retry_max=0.2,
    )
    with caplog.at_level(logging.ERROR, logger="consent_gate.log"):
        for number in range(120):  # more than the memory spool holds: the rest go to the file
            writer.submit(_decision(number))
        assert not writer.flush(1)
    assert "cannot write to" in caplog.text
    assert "the database is down" in caplog.text
    assert _count(dsn) == 0
    up = True  # repaired
    assert writer.flush(10)
    writer.close()
    assert _count(dsn) == 120
    assert writer.spool.empty()


def test_a_postgres_server_that_stops_and_comes_back(
    cluster: Cluster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dsn = cluster.database()
    writer = RecordWriter(
        lambda: open_store(dsn),
        shown=[SHOWN],
        spool=Spool(tmp_path / "spool.jsonl"),
        retry_min=0.05,
        retry_max=0.5,
    )
    writer.submit(_decision(0))
    assert writer.flush(10)
    cluster.stop()
    try:
        with caplog.at_level(logging.ERROR, logger="consent_gate.log"):
            for number in range(1, 50):
                writer.submit(_decision(number))
            assert not writer.flush(1)
        assert "cannot write to" in caplog.text
    finally:
        cluster.start()
    assert writer.flush(20)
    writer.close()
    assert _count(dsn) == 50


def test_a_closed_port_is_a_store_that_is_down(tmp_path: Path, dsn: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"postgresql://postgres@127.0.0.1:{sock.getsockname()[1]}/postgres"
    spool = tmp_path / "spool.jsonl"
    down = RecordWriter(lambda: open_store(closed), shown=[SHOWN], spool=Spool(spool, memory=0))
    for number in range(10):
        down.submit(_decision(number))
    assert not down.flush(1)
    down.close(timeout=10)
    assert len(spool.read_text().splitlines()) == 10
    # The next start (here: another process's writer) replays the spool file.
    up = RecordWriter(lambda: open_store(dsn), shown=[SHOWN], spool=Spool(spool))
    up.start()
    assert up.flush(10)
    up.close()
    assert _count(dsn) == 10
    assert spool.read_text() == ""


def test_shutdown_writes_what_is_queued(dsn: str, tmp_path: Path) -> None:
    writer = RecordWriter(lambda: open_store(dsn), shown=[SHOWN], spool=Spool(tmp_path / "s"))
    for number in range(1000):
        writer.submit(_decision(number))
    writer.close()
    assert _count(dsn) == 1000


def test_a_full_queue_spills_to_the_spool_file(tmp_path: Path, dsn: str) -> None:
    spool = Spool(tmp_path / "spool.jsonl", memory=0)
    writer = RecordWriter(lambda: open_store(dsn), shown=[SHOWN], spool=spool, queue_size=0)
    writer.submit(_decision(1))
    assert len(spool) == 1
    assert writer.flush(10)
    writer.close()
    assert _count(dsn) == 1


def test_lifespan_shutdown_flushes_the_log(dsn: str) -> None:
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
            app.log.writer.submit(_row(number))
        await messages.put({"type": "lifespan.shutdown"})
        await task

    asyncio.run(run())
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert _count(dsn) == 300


def test_the_benchmark_counts_every_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "bench"))
    bench = importlib.import_module("consent_log")
    result = bench.measure("sqlite", f"sqlite:///{tmp_path / 'b.sqlite3'}", 1, 0.1)
    assert result["records"] > 200
    assert result["on"] > 0
