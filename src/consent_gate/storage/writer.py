"""The shipper's thread: a pass at start, every `linger` seconds and when asked to flush.

While the store is down every failed pass is logged as an error and retried with backoff; the
decisions wait in the journal, which nothing but a committed store write shortens. `close()`
ships what the store takes within a grace period and leaves the rest for the next start.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from .records import Shown
from .shipper import Shipper
from .sql import SqlStore

__all__ = ["RecordWriter", "Shipped", "Writer"]

logger = logging.getLogger("consent_gate.log")


@dataclass(frozen=True)
class Shipped:
    """What a writer did by the time it stopped: `left` is None if it could not tell."""

    shipped: int
    left: int | None


class Writer(Protocol):
    """What the consent log asks of whatever ships its journal to the store: this module's
    thread (`RecordWriter`, for a store factory) or a process of its own (`ProcessWriter`, for
    a SQLite or PostgreSQL DSN)."""

    def start(self, timeout: float = ...) -> bool:
        """Start shipping; True once ready (waiting up to `timeout` seconds)."""
        ...

    def flush(self, timeout: float = ...) -> bool:
        """Wait until everything journaled before the call is in the store; False on timeout."""
        ...

    def close(self, grace: float = ...) -> Shipped | None:
        """Ship what the store takes within `grace` seconds, then stop; None if the writer
        could not say what it did."""
        ...


class RecordWriter:
    """Owns the store connection; all store calls happen on its thread. A `Writer`."""

    def __init__(
        self,
        open_store: Callable[[], SqlStore],
        shipper: Shipper,
        *,
        shown: Sequence[Shown],
        where: str = "the consent log",
        linger: float = 0.2,
        retry_min: float = 0.5,
        retry_max: float = 30.0,
    ) -> None:
        self._open = open_store
        self._shipper = shipper
        self._shown = shown
        self._where = where
        self._linger = linger
        self._retry_min = retry_min
        self._retry_max = retry_max
        self._cond = threading.Condition()
        self._asked = 0  # flushes asked for
        self._taken = 0  # the last one a pass started after
        self._done = 0  # the last one a complete pass answered
        self._deadline: float | None = None  # set by close()
        self._thread: threading.Thread | None = None
        self._store: SqlStore | None = None

    def start(self, timeout: float = 0.0) -> bool:
        """Start the thread; as ready as it will be at once (`timeout`: as `ProcessWriter`'s)."""
        with self._cond:
            if self._thread is None and self._deadline is None:
                self._thread = threading.Thread(
                    target=self._run, name="consent-log-shipper", daemon=True
                )
                self._thread.start()
        return True

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything journaled before the call is in the store; False on timeout."""
        self.start()
        with self._cond:
            self._asked += 1
            ticket = self._asked
            self._cond.notify_all()
            return self._cond.wait_for(lambda: self._done >= ticket, timeout=timeout)

    def close(self, grace: float = 5.0) -> Shipped:
        """Ship what the store takes within `grace` seconds, then stop."""
        with self._cond:
            thread = self._thread
            self._deadline = time.monotonic() + grace
            self._cond.notify_all()
        if thread is not None:
            thread.join(grace + 5)
            if thread.is_alive():  # stuck in the store: its journal offsets are still right
                logger.error("consent log: %s did not answer within %.0fs", self._where, grace)
                return Shipped(self._shipper.shipped, None)
        return Shipped(self._shipper.shipped, self._shipper.pending())

    def _run(self) -> None:
        retry_in = 0.0
        while True:
            with self._cond:
                self._cond.wait_for(
                    lambda: self._asked > self._taken or self._deadline is not None,
                    timeout=retry_in or self._linger,
                )
                self._taken = asked = self._asked
                deadline = self._deadline
            complete = self._pass(deadline)
            if complete:
                with self._cond:
                    self._done = asked
                    self._cond.notify_all()
            if deadline is not None and (complete or time.monotonic() > deadline):
                self._disconnect()
                return
            retry_in = 0.0 if complete else min(max(retry_in * 2, self._retry_min), self._retry_max)
            if deadline is not None:
                retry_in = min(retry_in, 0.5)

    def _pass(self, deadline: float | None) -> bool:
        try:
            if self._store is None:
                self._store = self._open()
                now = datetime.now(UTC)
                for version in self._shown:
                    self._store.archive(version, now)
            return self._shipper.ship(self._store, deadline)
        except Exception:
            logger.exception(
                "consent log: cannot write to %s; the decisions wait in the journal (%s)",
                self._where,
                self._shipper.directory,
            )
            self._disconnect()
            return False

    def _disconnect(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            try:
                store.close()
            except Exception:
                logger.debug("consent log: closing the store failed", exc_info=True)
