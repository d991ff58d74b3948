"""Report counts from every process of a site, added up in the consent log's store.

Each process counts what browsers report in memory (`reports.Reports`); this adds each new
count to a bounded buffer that a thread of its own flushes to the store every few seconds, in
one transaction (`SqlStore.add_reports`). Reports are hints, not evidence, so nothing is
journaled: a crash loses at most one interval's counts. A batch the store did not take is
retried under the same id, so one whose commit went through but whose answer was lost is not
counted twice; new counts meanwhile wait in the buffer (still bounded).
"""

from __future__ import annotations

import atexit
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .sql import ReportCount, SqlStore

__all__ = ["ReportFlusher"]

logger = logging.getLogger("consent_gate")

Open = Callable[[], SqlStore]


class ReportFlusher:
    """A bounded buffer of report counts and the thread that adds them to the store."""

    def __init__(self, open_store: Open, *, interval: float, limit: int, where: str) -> None:
        """`limit`: distinct keys per kind, in the buffer and in the store's table."""
        self._open = open_store
        self.interval = interval
        self.limit = limit
        self.where = where
        self._lock = threading.Lock()
        # (kind, field values or None for overflow) -> [fields, count, first seen, last seen]
        self._pending: dict[tuple[str, tuple[str, ...] | None], list[Any]] = {}
        self._keys: dict[str, int] = {}  # distinct keys per kind in the buffer
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._store: SqlStore | None = None
        self._failing = ""
        self._flushing = threading.Lock()  # the thread's flush and close()'s, one at a time
        self._retry: tuple[str, list[ReportCount]] | None = None  # a batch whose add failed

    def add(self, kind: str, fields: dict[str, str], when: datetime | None = None) -> None:
        """Count one report (on the event loop: no I/O, one short lock). A kind's keys beyond
        `limit` count as its overflow."""
        when = when or datetime.now(UTC)
        # Fields come in their kind's order, so the values alone tell keys of a kind apart.
        key: tuple[str, tuple[str, ...] | None] = (kind, tuple(fields.values()))
        with self._lock:
            if self._thread is None and not self._stop:
                self._start()
            tally = self._pending.get(key)
            if tally is None:
                if self._keys.get(kind, 0) >= self.limit:
                    key, fields = (kind, None), {}
                    tally = self._pending.get(key)
                else:
                    self._keys[kind] = self._keys.get(kind, 0) + 1
                if tally is None:
                    tally = self._pending[key] = [fields, 0, when, when]
            tally[1] += 1
            if when > tally[3]:
                tally[3] = when

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="consent-gate-reports", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def _run(self) -> None:
        while not self._stop:
            self._wake.wait(self.interval)
            self._wake.clear()
            self.flush()

    def flush(self) -> bool:
        """Add what the buffer holds to the store now; False (and kept) if it could not be."""
        with self._flushing:
            return self._flush()

    def _flush(self) -> bool:
        """The batch that failed last (under its id, in case it was added after all), then
        what the buffer holds, each in a transaction of its own."""
        if self._retry is not None and not self._add(*self._retry):
            return False
        self._retry = None
        with self._lock:
            pending, self._pending, self._keys = self._pending, {}, {}
        counts = [ReportCount(kind, *tally) for (kind, _), tally in pending.items()]
        if not counts:
            return True
        batch = (uuid.uuid4().hex, counts)
        if not self._add(*batch):
            self._retry = batch  # bounded: it was the buffer
            return False
        return True

    def _add(self, batch: str, counts: list[ReportCount]) -> bool:
        try:
            if self._store is None:
                self._store = self._open()
            self._store.add_reports(counts, self.limit, batch)
        except Exception as exc:
            if str(exc) != self._failing:  # once per cause
                self._failing = str(exc)
                logger.error("consent_gate: cannot add reports to %s: %s", self.where, exc)
            self._drop_store()
            return False
        self._failing = ""
        return True

    def close(self) -> None:
        """Stop the thread and flush one last time."""
        with self._lock:
            self._stop = True
            thread, self._thread = self._thread, None
        if thread is not None:
            atexit.unregister(self.close)
            self._wake.set()
            thread.join(10)
        with self._flushing:
            self._flush()
            self._drop_store()

    def _drop_store(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            try:
                store.close()
            except Exception:  # a broken connection may fail to close too
                logger.debug("consent_gate: closing the reports store failed", exc_info=True)
