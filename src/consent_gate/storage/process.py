"""The consent log's shipper in a process of its own, so storing costs the server almost nothing.

A shipper thread in the server would compete with the event loop for the GIL: parsing user agents,
building records and the driver's parameter binding all hold it, and each hand-over can keep the
loop waiting. Here the server only journals each decision (`journal.Journal`); the child (a fresh
interpreter, not a fork: the server has threads and an event loop) reads the journal and ships it
with the ordinary `RecordWriter`. The pipe between them carries only requests (flush, close) and
the child's log records, which are forwarded to the server's `logging`, so failures show up where
the site owner looks. A child that dies is replaced; the journal keeps what it had not shipped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from . import open_store
from .records import IpMode, device_of
from .rows import Rows
from .shipper import Shipper
from .writer import RecordWriter, Shipped

__all__ = ["ProcessWriter", "WriterConfig"]

logger = logging.getLogger("consent_gate.log")

# When the CPU is short, visitors' responses come first; the journal absorbs the backlog, and the
# writer still gets about a tenth of a busy core (some 5,000 records/s).
_NICE = 10

# The child gets the server's sys.path, so it imports this very copy of the package.
_BOOT = "import sys, json; sys.path[:] = json.loads(sys.argv[1]); " + (
    "from consent_gate.storage.process import main; main()"
)
_RESTART_MAX = 30.0  # seconds between restarts of a child that keeps dying


@dataclass(frozen=True)
class WriterConfig:
    """What the child needs to open the store and find the journals itself: no live objects."""

    dsn: str
    rows: Rows
    journals: Path
    own: str  # `Journal.prefix` of the server's journals
    ip: IpMode
    where: str
    spool: Path  # an earlier version's spool file, if one is left
    synced: bool  # `[log] fsync`: the store's commits must be on disk too


class ProcessWriter:
    """The server's handle on the writer process; a `Writer`, as `RecordWriter` is."""

    def __init__(self, config: WriterConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._child: _Child | None = None
        self._stopping = False
        self._restart_in = 0.0

    def start(self, timeout: float = 10.0) -> bool:
        """Spawn the writer and wait until it has imported and compiled what it needs; False if
        it is not ready."""
        child = self._ensure()
        return child is not None and child.ready(timeout)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything journaled before the call is in the store; False on timeout."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0 and (child := self._ensure()):
            try:
                answered = child.answer(child.ask_flush(left), left + 5)
            except OSError:
                answered = None  # it died before it heard us
            if answered is not None:
                return answered  # False: the store did not take everything in time
            # It died (or is dying: a killed process is alive a moment longer than its pipes):
            # once its reader has seen it go, `_ensure` starts a successor to ship the journal.
            child.wait_gone(min(left, 1.0))
        return False

    def close(self, grace: float = 5.0) -> Shipped | None:
        """Let the child ship what the store takes within `grace`, then stop it; None if it
        could not say what it did."""
        with self._lock:
            self._stopping = True
            child, self._child = self._child, None
        return child.stop(grace) if child is not None else None

    def _ensure(self) -> _Child | None:
        with self._lock:
            if self._stopping:
                return None
            if self._child is None or not self._child.alive():
                self._child = _Child(self._config, self._exited)
            return self._child

    def _exited(self, child: _Child, code: int) -> None:
        """On the dead child's reader thread: start another, at once unless it keeps dying."""
        with self._lock:
            if self._stopping:
                return
            lived = time.monotonic() - child.started
            self._restart_in = 0.0 if lived > _RESTART_MAX else max(self._restart_in * 2, 0.5)
            self._restart_in = min(self._restart_in, _RESTART_MAX)
            delay = self._restart_in if child is self._child else 0.0  # else: already replaced
        logger.error(
            "consent log: the writer process exited (code %s); starting another. The journal "
            "keeps every decision it had not shipped",
            code,
        )
        while True:
            time.sleep(delay)
            try:
                self._ensure()
                return
            except OSError:  # out of processes or memory, say: the journal waits meanwhile
                delay = min(max(delay * 2, 1.0), _RESTART_MAX)
                logger.exception(
                    "consent log: cannot start a writer process; again in %.0fs", delay
                )


class _Child:
    """One writer process: its pipes, and a thread that reads what it says."""

    def __init__(self, config: WriterConfig, exited: Callable[[_Child, int], None]) -> None:
        self.started = time.monotonic()
        self._process = subprocess.Popen(
            [sys.executable, "-c", _BOOT, json.dumps(sys.path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # a terminal's Ctrl-C goes to the server, which stops us
        )
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self.pid = self._process.pid
        self._to, self._from = self._process.stdin, self._process.stdout
        self._exited = exited
        self._cond = threading.Condition()
        self._answers: dict[int, Any] = {}
        self._ready = False
        self._gone = False  # its output ended: it exited or is about to
        self._tickets = 0
        self._stopping = False
        self.send(("config", config))
        self._reader = threading.Thread(target=self._read, name="consent-log-reader", daemon=True)
        self._reader.start()

    def alive(self) -> bool:
        return not self._gone and self._process.poll() is None

    def wait_gone(self, timeout: float) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._gone, timeout)

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

    def answer(self, ticket: int, timeout: float) -> bool | None:
        """The child's answer to a flush: None if it gave none (it died, or took too long)."""
        with self._cond:
            self._cond.wait_for(lambda: ticket in self._answers or not self.alive(), timeout)
            return bool(self._answers.pop(ticket)) if ticket in self._answers else None

    def stop(self, grace: float) -> Shipped | None:
        """Ask the child to ship what it can within `grace` and exit; kill it if it does not."""
        self._stopping = True
        with contextlib.suppress(OSError, ValueError):  # already gone: its pipe broken or closed
            self.send(("close", grace))
        with contextlib.suppress(OSError):
            self._to.close()
        try:
            self._process.wait(grace + 10)
        except subprocess.TimeoutExpired:
            logger.error("consent log: the writer process did not stop within %.0fs", grace + 10)
            self._process.kill()
            self._process.wait()
        self._reader.join(5)
        shipped = self._answers.get(0)
        return shipped if isinstance(shipped, Shipped) else None

    def _read(self) -> None:
        while (message := _read(self._from)) is not None:
            kind, body = message
            if kind == "log":
                level, text = body
                logger.log(level, "%s", text)
            elif kind in ("ready", "flushed", "closed"):
                with self._cond:
                    if kind == "ready":
                        self._ready = True
                    elif kind == "flushed":
                        self._answers[body[0]] = body[1]
                    else:
                        self._answers[0] = body  # tickets start at 1
                    self._cond.notify_all()
        self._from.close()
        with self._cond:
            self._gone = True
            self._cond.notify_all()
        code = self._process.wait()
        if not self._stopping:
            with contextlib.suppress(OSError):  # what it was still sent cannot be flushed
                self._to.close()
        with self._cond:
            self._cond.notify_all()
        if not self._stopping:
            self._exited(self, code)


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
    """The child: ship the journals until told to stop or orphaned."""
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
        lambda: open_store(config.dsn, synced=config.synced),
        Shipper(config.journals, config.own, config.rows, config.ip, spool=config.spool),
        shown=list(config.rows.shown.values()),
        where=config.where,
    )
    writer.start()
    device_of("")  # compiles the user-agent patterns now, not while the first visitors wait
    with lock:
        _write(sink, ("ready", None))
    grace = 10.0
    while (message := _read(source)) is not None:
        kind, body = message
        if kind == "flush":
            ticket, wait = body
            ok = writer.flush(wait)
            with lock:
                _write(sink, ("flushed", (ticket, ok)))
        elif kind == "close":
            grace = body
            break
    shipped = writer.close(grace)  # told to stop, or the server is gone: its journal is finished
    try:
        with lock:
            _write(sink, ("closed", shipped))
    except OSError:
        pass  # the server is gone
