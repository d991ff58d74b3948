"""A background writer: decisions go on a bounded queue; one thread writes them in batches.

The event loop only appends to a deque. When the store is down the records go to the spool and
are retried with backoff, and every failure is logged as an error: a decision is never silently
lost. `close()` (lifespan shutdown, or atexit) writes what is queued, or spools it to the file.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from .records import ConsentRecord, Decision, IpMode, Shown
from .spool import Spool
from .sql import SqlStore

__all__ = ["RecordWriter"]

logger = logging.getLogger("consent_gate.log")


class RecordWriter:
    """Owns the store connection; all store calls happen on its thread."""

    def __init__(
        self,
        open_store: Callable[[], SqlStore],
        *,
        shown: Sequence[Shown],
        spool: Spool,
        ip: IpMode = "off",
        where: str = "the consent log",
        queue_size: int = 10_000,
        batch_size: int = 500,
        retry_min: float = 0.5,
        retry_max: float = 30.0,
        linger: float = 0.05,
    ) -> None:
        self._open = open_store
        self._shown = shown
        self.spool = spool
        self._ip = ip
        self._where = where
        self._queue_size = queue_size
        self._batch_size = batch_size
        self._retry_min = retry_min
        self._retry_max = retry_max
        self._linger = linger
        self._pending: deque[Decision] = deque()
        self._in_flight = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._store: SqlStore | None = None
        self._atexit = False
        self.failing = False

    def submit(self, decision: Decision) -> None:
        """Queue a decision; never blocks on the store."""
        with self._cond:
            queued = len(self._pending)
            if queued < self._queue_size:
                self._pending.append(decision)
                if self._thread is None:
                    self._start()
                if not queued or queued + 1 == self._batch_size:
                    self._cond.notify()  # the writer waits for a first record, then a batch
                return
        logger.error(
            "consent log: %d decisions already queued for %s; spooling to %s",
            self._queue_size,
            self._where,
            self.spool.path,
        )
        self.spool.add([decision.record(self._ip)])

    def start(self) -> None:
        """Connect now (at lifespan start-up) rather than on the first decision."""
        with self._cond:
            self._start()

    def _start(self) -> None:
        if self._thread is not None:
            return
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="consent-log-writer", daemon=True)
        self._thread.start()
        if not self._atexit:
            atexit.register(self.close)
            self._atexit = True

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued and spooled is in the store; False on timeout."""
        with self._cond:
            if self._pending or not self.spool.empty():
                self._start()
            self._cond.notify_all()
            return self._cond.wait_for(
                lambda: (
                    not (self._pending or self._in_flight or self.failing) and self.spool.empty()
                ),
                timeout=timeout,
            )

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued and stop; anything the store cannot take goes to the spool file."""
        with self._cond:
            thread = self._thread
            if thread is None:
                return
            self._stopping = True
            self._cond.notify_all()
        thread.join(timeout)
        with self._cond:
            if thread.is_alive():
                logger.error(
                    "consent log: %s did not answer within %.0fs at shutdown; %d decision(s) "
                    "still queued",
                    self._where,
                    timeout,
                    len(self._pending),
                )
                return
            self._thread = None

    def _run(self) -> None:
        retry_in = 0.0
        first = True
        while True:
            with self._cond:
                if retry_in:
                    self._cond.wait_for(lambda: self._stopping, timeout=retry_in)
                elif not first:
                    self._cond.wait_for(lambda: bool(self._pending) or self._stopping)
                    # A moment for more to arrive: one transaction per batch, not per record.
                    self._cond.wait_for(self._batch_ready, timeout=self._linger)
                first = False
                count = min(len(self._pending), self._batch_size)
                batch = [self._pending.popleft() for _ in range(count)]
                self._in_flight = count
                stopping = self._stopping
            records = [decision.record(self._ip) for decision in batch]
            ok = self._write(records, retry_in)
            with self._cond:
                self._in_flight = 0
                self.failing = not ok
                self._cond.notify_all()
                more = bool(self._pending)
            retry_in = 0.0 if ok else min(max(retry_in * 2, self._retry_min), self._retry_max)
            if stopping and not (ok and more):
                if not ok:
                    self._spool_rest()
                self._disconnect()
                return

    def _batch_ready(self) -> bool:
        return len(self._pending) >= self._batch_size or self._stopping

    def _write(self, records: list[ConsentRecord], retry_in: float) -> bool:
        try:
            if self._store is None:
                self._store = self._open()
                now = datetime.now(UTC)
                for version in self._shown:
                    self._store.archive(version, now)
            if not self.spool.empty():
                self.spool.drain(self._store.write, self._batch_size)
            if records:
                self._store.write(records)
        except Exception:
            self.spool.add(records)
            logger.exception(
                "consent log: cannot write to %s; %d record(s) kept in the spool (%s), "
                "retrying in %.1fs",
                self._where,
                len(self.spool),
                self.spool.path,
                min(max(retry_in * 2, self._retry_min), self._retry_max),
            )
            self._disconnect()
            return False
        return True

    def _spool_rest(self) -> None:
        with self._cond:
            rest, self._pending = list(self._pending), deque()
        self.spool.add([decision.record(self._ip) for decision in rest])
        self.spool.persist()
        logger.error(
            "consent log: %s is unavailable at shutdown; %d record(s) saved in %s and written "
            "on the next start",
            self._where,
            len(self.spool),
            self.spool.path,
        )

    def _disconnect(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            try:
                store.close()
            except Exception:
                logger.debug("consent log: closing the store failed", exc_info=True)
