"""The writer process: it ships the server's journal; killed, it is replaced and loses nothing."""

from __future__ import annotations

import dataclasses
import errno
import logging
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from test_log_endpoints import _site, decide
from test_writer import ROWS, _count, _row, journaled

from consent_gate import ConsentGate, Policy
from consent_gate.policy import LogSettings
from consent_gate.storage import open_store
from consent_gate.storage.journal import SUFFIX, Journal
from consent_gate.storage.process import ProcessWriter, WriterConfig
from consent_gate.storage.rows import dump_row
from consent_gate.storage.writer import RecordWriter, Shipped


def _writer(dsn: str, journal: Journal) -> ProcessWriter:
    spool = journal.directory / "none.spool.jsonl"
    return ProcessWriter(
        WriterConfig(dsn, ROWS, journal.directory, journal.prefix, "off", dsn, spool, False)
    )


def _child_pid(writer: ProcessWriter) -> int:
    child = writer._child
    assert child is not None
    return child.pid


def test_decisions_are_shipped_by_another_process(dsn: str, tmp_path: Path) -> None:
    journal = journaled(tmp_path / "journal", 1200)  # more than one batch
    writer = _writer(dsn, journal)
    assert writer.start()
    assert _child_pid(writer) != os.getpid()
    assert writer.flush(10)
    assert _count(dsn) == 1200
    journal.close()
    assert writer.close() == Shipped(1200, 0)
    assert writer._child is None


def test_a_store_that_is_down_is_logged_here(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    down = f"sqlite:///{tmp_path / 'missing' / 'dir' / 'is' / 'a' / 'file'}"
    (tmp_path / "missing").write_text("not a directory")
    journal = journaled(tmp_path / "journal", 10)
    writer = _writer(down, journal)
    with caplog.at_level(logging.ERROR, logger="consent_gate.log"):
        assert not writer.flush(1)
        journal.close()
        assert writer.close(grace=0.5) == Shipped(0, 10)
    assert "cannot write to" in caplog.text  # said in the child, logged by the server
    assert "the decisions wait in the journal" in caplog.text


def test_a_writer_killed_mid_work_is_replaced_and_nothing_is_lost(
    tmp_path: Path, dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    journal = journaled(tmp_path / "journal", 500)
    writer = _writer(dsn, journal)
    assert writer.start()
    first = _child_pid(writer)
    with caplog.at_level(logging.ERROR, logger="consent_gate.log"):
        os.kill(first, signal.SIGKILL)
        for number in range(500, 1000):  # journaled while no writer runs
            journal.append(dump_row(_row(number)))
        assert writer.flush(15)
    assert "the writer process exited (code -9); starting another" in caplog.text
    assert _child_pid(writer) != first
    assert _count(dsn) == 1000
    journal.close()
    writer.close()


def test_interrupts_are_left_to_the_server(dsn: str, tmp_path: Path) -> None:
    journal = journaled(tmp_path / "journal", 1)
    writer = _writer(dsn, journal)
    assert writer.start()
    child = _child_pid(writer)
    os.kill(child, signal.SIGINT)  # Ctrl-C, or a supervisor's SIGTERM
    os.kill(child, signal.SIGTERM)
    assert writer.flush(10)
    assert _child_pid(writer) == child
    journal.close()
    writer.close()
    assert _count(dsn) == 1


def test_a_dsn_gets_a_process_and_a_store_factory_a_thread(dsn: str) -> None:
    by_dsn = ConsentGate(_site, secret_key="k", policy=Policy.default(), store=dsn)
    assert by_dsn.log is not None
    by_dsn.log.start()
    assert isinstance(by_dsn.log.writer, ProcessWriter)
    by_dsn.log.close()
    factory = ConsentGate(
        _site, secret_key="k", policy=Policy.default(), store=lambda: open_store(dsn)
    )
    assert factory.log is not None
    factory.log.start()
    assert isinstance(factory.log.writer, RecordWriter)
    factory.log.close()


def test_a_writer_whose_server_is_gone_ships_the_journal_and_exits(
    dsn: str, tmp_path: Path
) -> None:
    journal = journaled(tmp_path / "journal", 2000)
    writer = _writer(dsn, journal)
    assert writer.start()
    child = writer._child
    assert child is not None
    journal.close()  # what a killed server leaves: a journal nobody holds...
    child._to.close()  # ...and a pipe that ends
    assert child._process.wait(20) == 0
    assert _count(dsn) == 2000
    assert list(journal.directory.glob(f"*{SUFFIX}")) == []
    writer.close()  # the server, still here after all, had started another


def test_with_fsync_the_writer_process_opens_a_synced_store(tmp_path: Path) -> None:
    dsn = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    policy = dataclasses.replace(Policy.default(), log=LogSettings(dsn=dsn, fsync=True))
    app = ConsentGate(_site, secret_key="k", policy=policy)
    assert app.log is not None
    app.log.start()
    assert isinstance(app.log.writer, ProcessWriter)
    assert app.log.writer._config.synced
    app.log.close()


def test_a_writer_that_cannot_be_started_costs_no_decision(
    dsn: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    log_gate: Callable[..., ConsentGate],
) -> None:
    app = log_gate(dsn)

    def no_process(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(subprocess, "Popen", no_process)
    with caplog.at_level(logging.ERROR, logger="consent_gate.log"):
        first = decide(app, [{"json": {"action": "accept_all"}}])
    assert [r.status_code for r in first] == [200]  # journaled: the writer can come later
    assert "cannot start the writer" in caplog.text
    monkeypatch.undo()
    second = decide(app, [{"json": {"action": "reject_all"}}])
    assert app.log is not None
    assert app.log.flush(10)
    assert _count(dsn) == 2
    assert [r.status_code for r in second] == [200]
    app.log.close()
