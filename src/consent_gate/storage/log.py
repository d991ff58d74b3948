"""The gate's side of the consent log: journals an endpoint's decision before it is answered.

`record()` appends the decision to this process's journal (`journal.Journal`); a shipper (in a
process of its own for a DSN, a thread for a store factory) takes it from there to the store.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from .._types import Headers
from ..consent import Consent
from ..http import header
from ..policy import LogSettings, Policy
from . import open_store, redacted, sqlite_path
from .journal import Journal, JournalError
from .location import check_writable
from .process import ProcessWriter, WriterConfig
from .records import Shown
from .rows import Row, Rows, dump_row
from .shipper import Shipper
from .sql import SqlStore
from .writer import RecordWriter, Writer

__all__ = ["ConsentLog", "StoreFactory", "journal_dir", "shown_version"]

logger = logging.getLogger("consent_gate.log")

StoreFactory = Callable[[], SqlStore]

# Seconds to ship at shutdown; what the store has not taken by then waits in the journal.
_GRACE = 5.0


def shown_version(banner: str, policy: Mapping[str, object]) -> Shown:
    """The banner markup and policy a visitor is shown, under one hash."""
    policy_text = json.dumps(policy, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(f"{banner}\n{policy_text}".encode()).hexdigest()
    return Shown(digest[:32], banner, policy_text)


def journal_dir(log: LogSettings, dsn: str) -> Path:
    """`[log] journal`; else next to the SQLite file; else one directory per database under
    `consent-log.journal` here, so no journal is ever replayed into another database."""
    if log.journal:
        return Path(log.journal)
    path = sqlite_path(dsn)
    if path:
        return Path(f"{path}.journal")
    url = urlsplit(dsn)
    database = f"{url.hostname or 'local'}-{url.port or 5432}-{url.path.strip('/') or 'default'}"
    return Path("consent-log.journal") / re.sub(r"[^A-Za-z0-9._-]", "_", database)


class ConsentLog:
    """Journals decisions; a DSN's are shipped by a process of their own (`ProcessWriter`), a
    store factory's by a background thread (`RecordWriter`)."""

    def __init__(
        self,
        policy: Policy,
        shown: Mapping[str, Shown],
        store: str | StoreFactory | None = None,
    ) -> None:
        self._dsn = store if isinstance(store, str) else policy.log.dsn
        self._factory = store if callable(store) else None
        self.shown = dict(shown)  # by language; the first is the default
        banner = policy.banner
        self._rows = Rows(self.shown, banner.languages, banner.default_language, policy.max_age)
        self._ip = policy.log.ip
        self._keep_ip = policy.log.ip == "truncated"
        self.journal = Journal(journal_dir(policy.log, self._dsn), fsync=policy.log.fsync)
        self._check_locations(policy.log, store)
        self.writer: Writer | None = None
        self._lock = threading.Lock()
        self._refused = ""

    @property
    def store(self) -> str:
        """The store, fit for a log line (a DSN's password left out)."""
        return repr(self._factory) if self._factory else redacted(self._dsn)

    @property
    def where(self) -> str:
        """Where decisions go, fit for a log line."""
        return f"{self.store}, journal in {self.journal.directory}"

    def opener(self) -> StoreFactory:
        """How to open the store this log ships to, for others who keep things there."""
        if self._factory is not None:
            return self._factory
        path = sqlite_path(self._dsn)
        # A relative SQLite path names a file in today's working directory, whenever it opens.
        dsn = f"sqlite:///{Path(path).resolve()}" if path else self._dsn
        return lambda: open_store(dsn)

    def _check_locations(self, log: LogSettings, store: str | StoreFactory | None) -> None:
        """Fail now, naming the setting, if the journal or the SQLite file cannot be made."""
        dsn = "store" if isinstance(store, str) else "[log] dsn"
        # By default the journal sits next to the SQLite file, so a bad dsn is the one to fix.
        journal = "[log] journal" if log.journal or not sqlite_path(self._dsn) else dsn
        check_writable(self.journal.directory, journal, directory=True)
        path = sqlite_path(self._dsn)
        if path and self._factory is None:
            check_writable(Path(path), dsn, directory=False)

    def record(
        self,
        consent: Consent,
        *,
        action: str,
        method: str,
        page: str,
        previous: Consent,
        headers: Headers,
        client: str | None,
        lang: str | None = None,
    ) -> None:
        """Journal a decision just made; `JournalError` if it could not be, and then it must
        not be acknowledged. With fsync on, also await `durable()` before answering.

        `lang`: the banner's language, if known; else the shipper negotiates it from the
        request's Accept-Language, as the banner does. The row holds only what the request
        gives; all else is worked out off the event loop."""
        assert consent.id is not None
        row: Row = (
            consent.id,
            time.time_ns(),  # the cookie's time, to the microsecond
            action,
            consent.recorded,
            consent.revision,
            header(headers, b"accept-language") if lang is None else lang,
            consent.signals,
            page,
            method,
            header(headers, b"user-agent") or b"",
            client if self._keep_ip else None,
            previous.id,
        )
        try:
            self.journal.append(dump_row(row))
        except JournalError as exc:
            if str(exc) != self._refused:  # once per cause, not once per visitor
                self._refused = str(exc)
                logger.error("consent log: refusing decisions (503): %s", exc)
            raise
        if self.writer is None:  # no lifespan start-up: now, and without waiting
            try:
                self.start(timeout=0)
            except OSError:  # journaled all the same: the next decision tries again
                logger.exception("consent log: cannot start the writer; decisions wait")

    async def durable(self) -> None:
        """Return once the decisions journaled so far are on disk (with `[log] fsync`)."""
        await self.journal.durable()

    def start(self, timeout: float = 10.0) -> bool:
        """Open the journal and start the shipper (which replays journals left by others);
        wait up to `timeout` for it to be ready."""
        with self._lock:
            if self.writer is None:
                self.journal.open()
                writer = self._writer()
                writer.start(0)  # spawned, or OSError with nothing to undo
                self.writer = writer
                atexit.register(self.close)
            writer = self.writer
        return writer.start(timeout)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything journaled before the call is in the store; False on timeout."""
        self.start(timeout)
        writer = self.writer
        return writer is not None and writer.flush(timeout)

    def close(self) -> None:
        """Take no more decisions; ship what the store takes within a grace period and leave
        the rest in the journal for the next start, never dropping any. Logs the counts."""
        with self._lock:
            writer, self.writer = self.writer, None
        self.journal.close()
        if writer is None:
            return
        atexit.unregister(self.close)
        done = writer.close(_GRACE)
        journaled, where = self.journal.count, self.journal.directory
        if done is None or done.left is None:
            logger.error(
                "consent log: stopped; %d decision(s) journaled by this process; the writer did "
                "not say what it shipped, so %s keeps whatever it had not for the next start",
                journaled,
                where,
            )
            return
        logger.log(
            logging.WARNING if done.left else logging.INFO,
            "consent log: stopped; %d decision(s) journaled by this process, %d shipped to the "
            "store, %d left in %s for the next start",
            journaled,
            done.shipped,
            done.left,
            where,
        )

    async def startup(self) -> None:
        import asyncio  # the server loaded it; importing the gate should not

        await asyncio.to_thread(self.start)

    async def shutdown(self) -> None:
        import asyncio

        await asyncio.to_thread(self.close)

    def _writer(self) -> Writer:
        directory, own = self.journal.directory, self.journal.prefix
        path = sqlite_path(self._dsn)
        spool = Path(f"{path}.spool.jsonl") if path else Path("consent-log.spool.jsonl")
        if self._factory is not None:  # a live factory cannot cross into another process
            return RecordWriter(
                self._factory,
                Shipper(directory, own, self._rows, self._ip, spool=spool),
                shown=list(self.shown.values()),
                where=repr(self._factory),
            )
        where, synced = redacted(self._dsn), self.journal.fsync
        return ProcessWriter(
            WriterConfig(self._dsn, self._rows, directory, own, self._ip, where, spool, synced)
        )
