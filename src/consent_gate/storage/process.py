"""The consent log's writer in a process of its own, so writing costs the server almost nothing.

A writer thread in the server competes with the event loop for the GIL: parsing user agents,
building rows and the driver's parameter binding all hold it, and each hand-over can keep the
loop waiting. Here the server only appends a flat row (`rows.Row`) per decision to a list; a
sender thread wakes once per batch, dumps it with one `marshal` call and writes it to a pipe.
The child (a fresh interpreter, not a fork: the server has threads and an event loop) turns
rows into decisions and runs the ordinary `RecordWriter`, with its bounded queue, spool,
retries and shutdown flush. Its log records are forwarded to the server's
`logging`, so failures show up where the site owner looks.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from . import open_store
from .records import IpMode, device_of
from .rows import Row, Rows, dump, load
from .spool import Spool
from .writer import RecordWriter

__all__ = ["ProcessWriter", "WriterConfig"]

logger = logging.getLogger("consent_gate.log")

# When the CPU is short, visitors' responses come first; the queues absorb the backlog, and the
# writer still gets about a tenth of a busy core (some 5,000 records/s).
_NICE = 10

# The child gets the server's sys.path, so it imports this very copy of the package.
_BOOT = "import sys, json; sys.path[:] = json.loads(sys.argv[1]); " + (
    "from consent_gate.storage.process import main; main()"
)


@dataclass(frozen=True)
class WriterConfig:
    """What the child needs to open the store itself: a DSN, never a live connection."""

    dsn: str
    rows: Rows
    spool: Path
    ip: IpMode
    where: str


class ProcessWriter:
    """The server's handle on the writer process; same interface as `RecordWriter`."""

    def __init__(
        self,
        config: WriterConfig,
        *,
        queue_size: int = 10_000,
        batch_size: int = 1000,
        linger: float = 0.2,
    ) -> None:
        """A long linger and large batches: each wake-up of the sender takes the GIL from the
        event loop twice or thrice, whatever the batch's size."""
        self._config = config
        self.spool = Spool(config.spool, memory=0)  # overflow goes straight to the shared file
        self._queue_size = queue_size
        self._batch_size = batch_size
        self._linger = linger
        self._pending: list[Row] = []
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()  # one writer of the pipe; batches stay in order
        self._sender: threading.Thread | None = None
        self._child: _Child | None = None
        self._stopping = False
        self._atexit = False

    def submit(self, row: Row) -> None:
        """Queue a decision; a list append, nothing else on the server's thread."""
        with self._cond:
            queued = len(self._pending)
            if queued < self._queue_size:
                self._pending.append(row)
                if self._sender is None:
                    self._start()
                if not queued or queued + 1 == self._batch_size:
                    self._cond.notify()
                return
        logger.error(
            "consent log: %d decisions already queued for %s; spooling to %s",
            self._queue_size,
            self._config.where,
            self.spool.path,
        )
        self.spool.add([self._config.rows.decision(row).record(self._config.ip)])

    def start(self, timeout: float = 10.0) -> bool:
        """Spawn the writer now (at lifespan start-up) rather than on the first decision, and
        wait until it has imported and compiled what it needs; False if it is not ready."""
        with self._cond:
            self._start()
        with self._send_lock:
            child = self._send([])
        return child is not None and child.ready(timeout)

    def _start(self) -> None:
        if self._sender is not None:
            return
        self._stopping = False
        self._sender = threading.Thread(target=self._run, name="consent-log-sender", daemon=True)
        self._sender.start()
        if not self._atexit:
            atexit.register(self.close)
            self._atexit = True

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued and spooled is in the store; False on timeout."""
        with self._send_lock:
            batch = self._take(None)
            if not batch and self._child is None and self.spool.empty():
                return True
            child = self._send(batch)
            if child is None:
                return False
            ticket = child.ask_flush(timeout)
        return child.answer(ticket, timeout + 5)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued and stop the process; what the store refuses is spooled."""
        with self._cond:
            sender = self._sender
            self._stopping = True
            self._cond.notify_all()
        if sender is not None:
            sender.join(timeout + 5)
        with self._cond:
            self._sender = None
        with self._send_lock:
            if self._pending:  # submitted while the sender was stopping
                self._send(self._take(None))
            child, self._child = self._child, None
            if child is not None:
                child.stop(timeout)

    def _take(self, count: int | None) -> list[Row]:
        with self._cond:
            batch = self._pending[:count]
            del self._pending[:count]
            return batch

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._pending) or self._stopping)
                # A moment for more to arrive: one dump and one pipe write per batch.
                self._cond.wait_for(self._batch_ready, timeout=self._linger)
                stopping = self._stopping
            with self._send_lock:
                if batch := self._take(self._batch_size):
                    self._send(batch)
            if stopping and not self._pending:
                return

    def _batch_ready(self) -> bool:
        return len(self._pending) >= self._batch_size or self._stopping

    def _send(self, batch: list[Row]) -> _Child | None:
        """Hand a batch to the child (spawned if need be); spool it if there is no child."""
        try:
            if self._child is not None and not self._child.alive():
                self._child.stop(0)  # already gone: its reader has said so; close the pipes
                self._child = None
            if self._child is None:
                self._child = _Child(self._config)
            if batch:
                self._child.send(("batch", dump(batch)))
            return self._child
        except OSError:
            logger.exception(
                "consent log: the writer process for %s is not running; %d record(s) spooled to %s",
                self._config.where,
                len(batch),
                self.spool.path,
            )
            self._child = None
            rows, ip = self._config.rows, self._config.ip
            self.spool.add([rows.decision(row).record(ip) for row in batch])
            return None


class _Child:
    """One writer process: its pipes, and a thread that reads what it says."""

    def __init__(self, config: WriterConfig) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", _BOOT, json.dumps(sys.path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # a terminal's Ctrl-C goes to the server, which stops us
        )
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._to, self._from = self._process.stdin, self._process.stdout
        self._cond = threading.Condition()
        self._answers: dict[int, bool] = {}
        self._ready = False
        self._tickets = 0
        self._stopping = False
        self.send(("config", config))
        self._reader = threading.Thread(target=self._read, name="consent-log-reader", daemon=True)
        self._reader.start()

    def alive(self) -> bool:
        return self._process.poll() is None

    def send(self, message: tuple[str, Any]) -> None:
        _write(self._to, message)

    def ask_flush(self, timeout: float) -> int:
        with self._cond:
            self._tickets += 1
            ticket = self._tickets
        self.send(("flush", (ticket, timeout)))
        return ticket

    def ready(self, timeout: float) -> bool:
        with self._cond:
            self._cond.wait_for(lambda: self._ready or not self.alive(), timeout)
            return self._ready

    def answer(self, ticket: int, timeout: float) -> bool:
        with self._cond:
            self._cond.wait_for(lambda: ticket in self._answers or not self.alive(), timeout)
            return self._answers.pop(ticket, False)

    def stop(self, timeout: float) -> None:
        """Ask the child to write out its queue and exit; kill it if it does not."""
        self._stopping = True
        try:
            if self.alive():
                self.send(("close", timeout))
            self._to.close()
            self._process.wait(timeout + 5)
        except (OSError, subprocess.TimeoutExpired):
            logger.error("consent log: the writer process did not stop within %.0fs", timeout)
            self._process.kill()
            self._process.wait()
        self._reader.join(5)

    def _read(self) -> None:
        while (message := _read(self._from)) is not None:
            kind, body = message
            if kind == "log":
                level, text = body
                logger.log(level, "%s", text)
            elif kind == "ready":
                with self._cond:
                    self._ready = True
                    self._cond.notify_all()
            elif kind == "flushed":
                ticket, ok = body
                with self._cond:
                    self._answers[ticket] = ok
                    self._cond.notify_all()
        self._from.close()
        code = self._process.wait()
        with self._cond:
            self._cond.notify_all()
        if not self._stopping:
            logger.error(
                "consent log: the writer process exited (code %s); decisions it still held "
                "are lost, later ones go to a new process",
                code,
            )


def _write(stream: IO[bytes], message: tuple[str, Any]) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(len(data).to_bytes(4, "big") + data)
    stream.flush()


def _read(stream: IO[bytes]) -> tuple[str, Any] | None:
    """The next message, or None at end of stream."""
    head = stream.read(4)
    if len(head) < 4:
        return None
    data = stream.read(int.from_bytes(head, "big"))
    message: tuple[str, Any] = pickle.loads(data)  # our own child or parent: trusted
    return message


class _Forward(logging.Handler):
    """In the child: send each log record to the server, which logs it as its own."""

    def __init__(self, stream: IO[bytes], lock: threading.Lock) -> None:
        super().__init__(logging.DEBUG)
        self._stream = stream
        self._lock = lock

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        try:
            with self._lock:
                _write(self._stream, ("log", (record.levelno, text)))
        except OSError:  # the server is gone; stderr is all that is left
            self.handleError(record)


def main() -> None:
    """The child: feed the pipe's batches to a `RecordWriter` until told to stop or orphaned."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when we stop
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.nice(_NICE)
    # The pipe to the server gets a descriptor of its own; stray prints go to stderr instead.
    source, sink, lock = sys.stdin.buffer, os.fdopen(os.dup(1), "wb"), threading.Lock()
    os.dup2(2, 1)
    log = logging.getLogger("consent_gate.log")
    log.addHandler(_Forward(sink, lock))
    log.setLevel(logging.INFO)
    log.propagate = False
    first = _read(source)
    assert first is not None
    assert first[0] == "config"
    config: WriterConfig = first[1]

    writer = RecordWriter(
        lambda: open_store(config.dsn),
        shown=list(config.rows.shown.values()),
        spool=Spool(config.spool, memory=0),  # on disk at once: safe if this process is killed
        ip=config.ip,
        where=config.where,
    )
    writer.start()
    device_of("")  # compiles the user-agent patterns now, not while the first visitors wait
    with lock:
        _write(sink, ("ready", None))
    timeout = 10.0
    while (message := _read(source)) is not None:
        kind, body = message
        if kind == "batch":
            for row in load(body):
                writer.submit(config.rows.decision(row))
        elif kind == "flush":
            ticket, wait = body
            ok = writer.flush(wait)
            with lock:
                _write(sink, ("flushed", (ticket, ok)))
        elif kind == "close":
            timeout = body
            break
    writer.close(timeout)  # told to stop, or the server is gone: write out what is queued
