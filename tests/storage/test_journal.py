"""The journal: written before the answer, synced in groups, and refusing after a failed fsync."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import fcntl
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from test_log_endpoints import decide

from consent_gate import ConsentGate, Policy
from consent_gate.policy import LogSettings
from consent_gate.storage import open_store
from consent_gate.storage.frames import Frame, frames
from consent_gate.storage.journal import SUFFIX, Journal, JournalError


def _locked(path: Path) -> bool:
    """Whether a process holds the file's lock (another descriptor cannot take it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _files(journal: Journal) -> list[Path]:
    return sorted(journal.directory.glob(f"*{SUFFIX}"), key=lambda p: int(p.suffixes[-2][1:]))


def test_a_journal_is_a_locked_file_of_this_process_until_closed(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    journal.append(b"one")
    journal.append(b"two")
    (path,) = _files(journal)
    assert path.name == f"{journal.prefix}.1{SUFFIX}"
    assert journal.prefix.startswith(f"{os.getpid()}-")
    assert _locked(path)
    data = path.read_bytes()
    found = list(frames(data, 0, len(data)))
    assert [f.payload for f in found if isinstance(f, Frame)] == [b"one", b"two"]
    assert len({f.record_id for f in found if isinstance(f, Frame)}) == 2
    journal.close()
    assert not _locked(path)
    with pytest.raises(JournalError, match="shut down"):
        journal.append(b"three")


def test_a_full_journal_rotates_and_the_old_file_is_released(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j", rotate_at=100)
    for number in range(10):
        journal.append(b"x" * 60 + bytes([number]))
    files = _files(journal)
    assert len(files) == 5
    assert [_locked(path) for path in files] == [False] * 4 + [True]
    journal.close()


def test_a_failed_write_is_cut_off_and_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path / "j")
    journal.append(b"kept")
    (path,) = _files(journal)
    size = path.stat().st_size
    real_write = os.write

    def half(fd: int, data: bytes) -> int:  # a disk that fills up mid-frame
        return real_write(fd, data[: len(data) // 2])

    monkeypatch.setattr(os, "write", half)
    with pytest.raises(JournalError, match="short write"):
        journal.append(b"lost")
    assert path.stat().st_size == size  # no torn frame before the next one
    monkeypatch.setattr(os, "write", real_write)
    journal.append(b"next")
    data = path.read_bytes()
    assert [f.payload for f in frames(data, 0, len(data)) if isinstance(f, Frame)] == [
        b"kept",
        b"next",
    ]
    journal.close()


def test_concurrent_requests_share_one_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path / "j", fsync=True)
    journal.open()
    syncs: list[int] = []
    real = os.fdatasync

    def slow(fd: int) -> None:  # a disk's flush takes milliseconds
        syncs.append(fd)
        time.sleep(0.02)
        real(fd)

    monkeypatch.setattr(os, "fdatasync", slow)

    async def request(number: int) -> None:
        journal.append(bytes([number]))
        await journal.durable()

    async def crowd() -> None:
        await asyncio.gather(*(request(n) for n in range(50)))

    asyncio.run(crowd())
    assert 1 <= len(syncs) <= 10  # 50 answers, a handful of fsyncs
    journal.close()


def test_without_fsync_nothing_waits_for_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path / "j")
    monkeypatch.setattr(os, "fdatasync", lambda fd: pytest.fail("synced"))
    journal.append(b"x")
    asyncio.run(journal.durable())
    journal.close()


def test_a_failed_fsync_stops_the_journal_for_good(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path / "j", fsync=True)
    journal.append(b"x")

    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", broken)
    with pytest.raises(JournalError, match="fsync of the journal failed"):
        asyncio.run(journal.durable())
    monkeypatch.undo()  # the disk seems fine again: a retried fsync could lie, so none is tried
    with pytest.raises(JournalError, match="fsync of the journal failed"):
        journal.append(b"y")
    journal.close()


def _fsync_policy(dsn: str) -> Policy:
    return dataclasses.replace(Policy.default(), log=LogSettings(dsn=dsn, fsync=True))


def test_a_decision_the_journal_cannot_sync_is_refused_with_503(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log_gate: Callable[..., ConsentGate]
) -> None:
    dsn = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    app = log_gate(dsn, _fsync_policy(dsn))
    assert [r.status_code for r in decide(app, [{"json": {"action": "accept_all"}}])] == [200]

    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", broken)
    refused = decide(app, [{"json": {"action": "reject_all"}}])
    monkeypatch.undo()
    refused += decide(app, [{"json": {"action": "reject_all"}}])
    assert [r.status_code for r in refused] == [503, 503]
    assert "could not be recorded" in refused[0].text
    assert not any(r.headers.get("set-cookie") for r in refused)
    assert app.log is not None
    assert app.log.flush(10)
    store = open_store(dsn)
    try:  # the first refused one was written, just not synced: stored, though not acknowledged
        assert [r.action for r in store.records()] == ["accept_all", "reject_all"]
    finally:
        store.close()


def test_a_journal_that_cannot_be_created_refuses_decisions(
    tmp_path: Path, log_gate: Callable[..., ConsentGate]
) -> None:
    """After start-up (where a bad location already fails the gate's construction)."""
    dsn = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    app = log_gate(dsn)
    Path(f"{tmp_path / 'log.sqlite3'}.journal").write_text("a file where the directory goes")
    assert [r.status_code for r in decide(app, [{"json": {"action": "accept_all"}}])] == [503]


def test_the_fsync_thread_and_the_event_loop_do_not_deadlock_on_rotation(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j", fsync=True, rotate_at=200)

    async def many() -> None:
        for number in range(200):
            journal.append(bytes([number % 256]) * 50)
            if number % 7 == 0:
                await journal.durable()

    runner = threading.Thread(target=lambda: asyncio.run(many()))
    runner.start()
    runner.join(30)
    assert not runner.is_alive()
    journal.close()
    total = 0
    for path in _files(journal):
        data = path.read_bytes()
        total += sum(isinstance(f, Frame) for f in frames(data, 0, len(data)))
    assert total == 200
