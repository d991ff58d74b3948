"""The durability contract under real faults: a 2xx for a decision means it reaches the store.

A real uvicorn server (fault_server.py) with its real writer process takes decisions from 20
concurrent clients, which note the consent id of every 2xx. Then a fault: SIGTERM or SIGKILL of
the server, SIGKILL of the writer or of a worker, the store stopped, a journal damaged. After a
restart (or the writer's replacement) every acknowledged decision must be stored, none twice.
Each test prints its figures (`pytest -s`): acknowledged, stored, lost, duplicated.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pg_cluster import Cluster

from consent_gate.storage import open_store
from consent_gate.storage.frames import HEAD, Frame, encode, frames
from consent_gate.storage.journal import SUFFIX
from consent_gate.storage.rows import load_row

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "src"
TOTAL = 600  # decisions attempted per load
FAULT_AT = 200  # acknowledged before the fault
GRACEFUL = (0, -signal.SIGTERM)  # uvicorn shuts down, then exits by the signal it was sent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _is_writer(pid: int) -> bool:
    try:
        return b"consent_gate.storage.process" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _is_worker(pid: int) -> bool:
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


class Server:
    """fault_server.py in a process of its own; every process it started is remembered."""

    def __init__(self, dsn: str, directory: Path, workers: int = 1, fsync: bool = False) -> None:
        self.dsn = dsn
        self.fsync = fsync
        self.journal = directory / "journal"
        self.log = directory / "server.log"
        self.workers = workers
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.seen: set[int] = set()  # to be sure none outlives the test

    def start(self) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(SRC), str(HERE)]),
            "CONSENT_DSN": self.dsn,
            "CONSENT_JOURNAL": str(self.journal),
            "CONSENT_FSYNC": "1" if self.fsync else "0",
        }
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(HERE / "fault_server.py"), str(self.port), str(self.workers)],
                env=env,
                stderr=log,
                cwd=self.journal.parent,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.url}/consent-gate/policy.json", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        else:
            raise TimeoutError(self.log.read_text())
        self.writers()  # started at lifespan start-up: remember them now

    def descendants(self) -> list[int]:
        assert self.process is not None
        found, todo = [], [self.process.pid]
        while todo:
            children = _children(todo.pop())
            found += children
            todo += children
        self.seen.update(found)
        return found

    def worker_pids(self) -> list[int]:
        """uvicorn's worker processes (with --workers)."""
        assert self.process is not None
        return [pid for pid in _children(self.process.pid) if _is_worker(pid)]

    def writers(self) -> list[int]:
        return [pid for pid in self.descendants() if _is_writer(pid)]

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.process is not None
        self.descendants()
        self.process.send_signal(sig)
        return self.process.wait(timeout)

    def reap(self) -> None:
        """Kill whatever is left of ours, one by one: the server, its workers and writers, and
        writers orphaned by a SIGKILL."""
        if self.process is not None and self.process.poll() is None:
            self.descendants()
            self.process.kill()
            self.process.wait()
        for pid in self.seen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


class Load:
    """`total` decisions from `concurrency` clients; the consent id of every 2xx is kept."""

    def __init__(self, url: str, total: int = TOTAL, concurrency: int = 20) -> None:
        self.url = url
        self.total = total
        self.concurrency = concurrency
        self.acknowledged: list[str] = []
        self.refused = 0
        self.failed = 0
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join(60)
        assert not self._thread.is_alive(), "the load did not finish"

    def wait(self, acknowledged: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acknowledged) < acknowledged:
            assert time.monotonic() < deadline, f"only {len(self.acknowledged)} acknowledged"
            time.sleep(0.005)

    async def _run(self) -> None:
        turns = iter(range(self.total))
        limits = httpx.Limits(max_connections=self.concurrency)
        async with httpx.AsyncClient(base_url=self.url, timeout=10, limits=limits) as http:

            async def client() -> None:
                for _ in turns:
                    http.cookies.clear()  # each decision a new visitor's
                    try:
                        response = await http.post(
                            "/consent-gate/consent",
                            json={"action": "accept_all"},
                            headers={"origin": self.url},
                        )
                    except httpx.HTTPError:
                        self.failed += 1  # no answer: not acknowledged
                        continue
                    if response.is_success:
                        self.acknowledged.append(response.json()["id"])
                    else:
                        self.refused += 1

            await asyncio.gather(*(client() for _ in range(self.concurrency)))


def _stored(dsn: str) -> list[str]:
    store = open_store(dsn)
    try:
        return [record.consent_id for record in store.records()]
    finally:
        store.close()


def _verify(
    name: str, load: Load, dsn: str, *, lost_on_purpose: frozenset[str] = frozenset()
) -> None:
    """Wait (for a replay) until every acknowledged decision is stored; none may be stored twice."""
    acknowledged = set(load.acknowledged)
    deadline = time.monotonic() + 40
    while True:
        stored = _stored(dsn)
        missing = acknowledged - set(stored) - lost_on_purpose
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    duplicated = len(stored) - len(set(stored))
    print(
        f"\nFAULT {name}: acknowledged {len(acknowledged)}, in the store {len(set(stored))}, "
        f"lost {len(missing)}, duplicated {duplicated}, refused (non-2xx) {load.refused}, "
        f"unanswered {load.failed}, destroyed on purpose {len(lost_on_purpose)}"
    )
    assert len(load.acknowledged) == len(acknowledged)  # the server never reused an id
    assert not missing, f"{len(missing)} acknowledged decisions lost"
    assert duplicated == 0


def _journals(server: Server) -> list[Path]:
    return sorted(server.journal.glob(f"*{SUFFIX}"))


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'log.sqlite3'}"
    cluster: Cluster = request.getfixturevalue("cluster")
    return cluster.database()


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.reap()


def _server(
    servers: list[Server], dsn: str, tmp_path: Path, workers: int = 1, fsync: bool = False
) -> Server:
    server = Server(dsn, tmp_path, workers, fsync)
    servers.append(server)
    server.start()
    return server


def test_sigterm_mid_load_ships_or_journals_everything(
    store: str, tmp_path: Path, servers: list[Server]
) -> None:
    server = _server(servers, store, tmp_path)
    with Load(server.url) as load:
        load.wait(FAULT_AT)
        assert server.stop(signal.SIGTERM) in GRACEFUL
    log = server.log.read_text()
    assert "decision(s) journaled by this process" in log, log
    restarted = _server(servers, store, tmp_path)
    _verify(f"SIGTERM of the server mid-load ({store.split(':')[0]})", load, store)
    assert restarted.stop(signal.SIGTERM) in GRACEFUL
    assert _journals(restarted) == []  # shipped and deleted: a drained stop leaves nothing


def test_sigkill_of_the_server_loses_nothing_acknowledged(
    store: str, tmp_path: Path, servers: list[Server]
) -> None:
    server = _server(servers, store, tmp_path)
    with Load(server.url) as load:
        load.wait(FAULT_AT)
        server.stop(signal.SIGKILL)
    _server(servers, store, tmp_path)  # replays what its orphaned writer had not shipped
    _verify(f"SIGKILL of the server mid-load ({store.split(':')[0]})", load, store)


def test_with_fsync_sigkill_of_the_server_loses_nothing_acknowledged(
    tmp_path: Path, servers: list[Server]
) -> None:
    dsn = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    server = _server(servers, dsn, tmp_path, fsync=True)
    with Load(server.url) as load:
        load.wait(FAULT_AT)
        server.stop(signal.SIGKILL)
    _server(servers, dsn, tmp_path, fsync=True)
    _verify("SIGKILL of the server mid-load, fsync on (sqlite)", load, dsn)


def test_sigkill_of_the_writer_loses_nothing_acknowledged(
    store: str, tmp_path: Path, servers: list[Server]
) -> None:
    server = _server(servers, store, tmp_path)
    (writer,) = server.writers()
    with Load(server.url) as load:
        load.wait(FAULT_AT)
        os.kill(writer, signal.SIGKILL)
    _verify(f"SIGKILL of the writer mid-load ({store.split(':')[0]})", load, store)
    (replacement,) = server.writers()
    assert replacement != writer
    assert "the writer process exited (code -9)" in server.log.read_text()


def test_sigkill_of_a_worker_loses_nothing_acknowledged(
    tmp_path: Path, servers: list[Server]
) -> None:
    dsn = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    server = _server(servers, dsn, tmp_path, workers=2)
    workers = server.worker_pids()
    assert len(workers) == 2
    with Load(server.url) as load:
        load.wait(FAULT_AT)
        os.kill(workers[0], signal.SIGKILL)
    _verify("SIGKILL of one of two uvicorn workers mid-load (sqlite)", load, dsn)


def test_the_store_down_for_seconds_mid_load_and_at_shutdown(
    cluster: Cluster, tmp_path: Path, servers: list[Server]
) -> None:
    dsn = cluster.database()
    server = _server(servers, dsn, tmp_path)
    with Load(server.url, total=400) as load:
        load.wait(150)
        cluster.stop()
        try:
            time.sleep(3)  # decisions are still acknowledged: the journal takes them
        finally:
            cluster.start()
    assert load.refused == 0
    _verify("PostgreSQL stopped for 3 s mid-load", load, dsn)
    cluster.stop()
    try:
        with Load(server.url, total=300) as down:
            pass
        assert server.stop(signal.SIGTERM) in GRACEFUL  # nothing can be shipped in the grace period
    finally:
        cluster.start()
    assert "left in" in server.log.read_text()
    _server(servers, dsn, tmp_path)
    _verify("PostgreSQL down through a SIGTERM, replayed at the next start", down, dsn)


def test_a_torn_tail_and_a_corrupt_middle_record_in_a_journal(
    tmp_path: Path, servers: list[Server]
) -> None:
    dsn = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    server = _server(servers, dsn, tmp_path)
    (writer,) = server.writers()
    os.kill(writer, signal.SIGSTOP)  # nothing is shipped: the journal keeps it all
    with Load(server.url, total=300) as load:
        pass
    server.stop(signal.SIGKILL)
    os.kill(writer, signal.SIGKILL)
    (journal,) = _journals(server)
    data = journal.read_bytes()
    found = [f for f in frames(data, 0, len(data)) if isinstance(f, Frame)]
    assert len(found) == len(load.acknowledged) == 300
    middle = found[150]
    with journal.open("r+b") as file:  # a rotten byte in the middle, a crash mid-write at the end
        file.seek(middle.start + HEAD + 3)
        file.write(bytes([data[middle.start + HEAD + 3] ^ 0xFF]))
        file.seek(0, os.SEEK_END)
        file.write(encode(b"\x07" * 12, middle.payload)[:-10])
    _server(servers, dsn, tmp_path)
    destroyed = frozenset([load_row(middle.payload)[0]])
    _verify("a corrupt middle record and a torn tail", load, dsn, lost_on_purpose=destroyed)
    assert _stored(dsn).count(next(iter(destroyed))) == 0
    quarantined = sorted((server.journal / "quarantine").iterdir())
    assert [p.name for p in quarantined] == sorted(
        [f"{journal.name}.{middle.start}", f"{journal.name}.{len(data)}"]
    )
    log = server.log.read_text()
    assert f"corrupt byte(s) at offset {middle.start}" in log
    assert "a write cut short" in log
