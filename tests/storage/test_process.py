"""The writer process: what the server hands it is written, spooled, or reported; never dropped."""

from __future__ import annotations

import logging
import os
import signal
import socket
from pathlib import Path

import pytest
from test_log_endpoints import _site
from test_writer import SHOWN, _count, _row

from consent_gate import ConsentGate, Policy
from consent_gate.storage import open_store
from consent_gate.storage.process import ProcessWriter, WriterConfig
from consent_gate.storage.rows import Rows
from consent_gate.storage.writer import RecordWriter


def _writer(dsn: str, spool: Path, **options: int) -> ProcessWriter:
    rows = Rows({"en": SHOWN}, ("en",), "en", 86400)
    return ProcessWriter(WriterConfig(dsn, rows, spool, "off", dsn), **options)


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"postgresql://postgres@127.0.0.1:{sock.getsockname()[1]}/postgres"


def test_decisions_are_written_by_another_process(dsn: str, tmp_path: Path) -> None:
    writer = _writer(dsn, tmp_path / "spool.jsonl")
    assert writer.start()
    child = writer._child
    assert child is not None
    assert child._process.pid != os.getpid()
    for number in range(1200):  # more than one batch
        writer.submit(_row(number))
    assert writer.flush(10)
    assert _count(dsn) == 1200
    writer.close()
    assert child._process.returncode == 0
    assert writer._child is None


def test_close_writes_what_is_still_queued(dsn: str, tmp_path: Path) -> None:
    writer = _writer(dsn, tmp_path / "spool.jsonl")
    for number in range(700):
        writer.submit(_row(number))
    writer.close()
    assert _count(dsn) == 700


def test_a_store_that_is_down_is_logged_here_and_its_records_spooled_to_the_file(
    tmp_path: Path, dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    spool = tmp_path / "spool.jsonl"
    down = _writer(_closed_port(), spool)
    with caplog.at_level(logging.ERROR, logger="consent_gate.log"):
        for number in range(10):
            down.submit(_row(number))
        assert not down.flush(1)
        down.close()
    assert "cannot write to" in caplog.text  # said in the child, logged by the server
    assert "Connection refused" in caplog.text
    assert len(spool.read_text().splitlines()) == 10
    up = _writer(dsn, spool)
    assert up.flush(10)  # a new writer replays the file
    up.close()
    assert _count(dsn) == 10
    assert spool.read_text() == ""


def test_a_full_queue_spills_to_the_spool_file_the_writer_drains(
    tmp_path: Path, dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    spool = tmp_path / "spool.jsonl"
    writer = _writer(dsn, spool, queue_size=0)
    with caplog.at_level(logging.ERROR, logger="consent_gate.log"):
        writer.submit(_row(1))
    assert "already queued" in caplog.text
    assert len(spool.read_text().splitlines()) == 1
    assert writer.flush(10)
    writer.close()
    assert _count(dsn) == 1


def test_a_writer_that_dies_is_reported_and_replaced(
    tmp_path: Path, dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    writer = _writer(dsn, tmp_path / "spool.jsonl")
    assert writer.start()
    first = writer._child
    assert first is not None
    with caplog.at_level(logging.ERROR, logger="consent_gate.log"):
        os.kill(first._process.pid, signal.SIGKILL)
        first._reader.join(10)
    assert "the writer process exited (code -9)" in caplog.text
    for number in range(5):
        writer.submit(_row(number))
    assert writer.flush(10)
    assert writer._child is not first
    writer.close()
    assert _count(dsn) == 5


def test_interrupts_are_left_to_the_server(dsn: str, tmp_path: Path) -> None:
    writer = _writer(dsn, tmp_path / "spool.jsonl")
    assert writer.start()
    child = writer._child
    assert child is not None
    os.kill(child._process.pid, signal.SIGINT)  # Ctrl-C, or a supervisor's SIGTERM
    os.kill(child._process.pid, signal.SIGTERM)
    writer.submit(_row(1))
    assert writer.flush(10)
    assert writer._child is child
    writer.close()
    assert _count(dsn) == 1


def test_a_dsn_gets_a_process_and_a_store_factory_a_thread(dsn: str) -> None:
    by_dsn = ConsentGate(_site, secret_key="k", policy=Policy.default(), store=dsn)
    assert by_dsn.log is not None
    assert isinstance(by_dsn.log.writer, ProcessWriter)
    factory = ConsentGate(
        _site, secret_key="k", policy=Policy.default(), store=lambda: open_store(dsn)
    )
    assert factory.log is not None
    assert isinstance(factory.log.writer, RecordWriter)


def test_a_writer_whose_server_is_gone_writes_what_it_holds_and_exits(
    dsn: str, tmp_path: Path
) -> None:
    writer = _writer(dsn, tmp_path / "spool.jsonl")
    assert writer.start()
    child = writer._child
    assert child is not None
    with writer._send_lock:
        writer._send([_row(number) for number in range(2000)])
    child._to.close()  # what the child sees when the server is killed
    assert child._process.wait(20) == 0
    assert _count(dsn) == 2000
