"""The gate's side of the consent log: turns an endpoint's decision into a queued record."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from .._types import Headers
from ..consent import Consent
from ..http import header
from ..policy import Policy
from . import sqlite_path
from .process import ProcessWriter, WriterConfig
from .records import Shown
from .rows import Row, Rows
from .spool import Spool
from .sql import SqlStore
from .writer import RecordWriter

__all__ = ["ConsentLog", "StoreFactory", "shown_version"]

StoreFactory = Callable[[], SqlStore]


def shown_version(banner: str, policy: Mapping[str, object]) -> Shown:
    """The banner markup and policy a visitor is shown, under one hash."""
    policy_text = json.dumps(policy, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(f"{banner}\n{policy_text}".encode()).hexdigest()
    return Shown(digest[:32], banner, policy_text)


class ConsentLog:
    """Records decisions; a DSN's records are written by a process of their own
    (`ProcessWriter`), a store factory's by a background thread (`RecordWriter`)."""

    def __init__(
        self,
        policy: Policy,
        shown: Mapping[str, Shown],
        store: str | StoreFactory | None = None,
        spool: Path | None = None,
    ) -> None:
        dsn = store if isinstance(store, str) else policy.log.dsn
        self.shown = dict(shown)  # by language; the first is the default
        banner = policy.banner
        self._rows = Rows(self.shown, banner.languages, banner.default_language, policy.max_age)
        self._keep_ip = policy.log.ip == "truncated"
        spool_path = spool or _spool_path(dsn)
        self.writer: RecordWriter | ProcessWriter
        if callable(store):  # a live factory cannot cross into another process
            self.writer = RecordWriter(
                store,
                shown=list(self.shown.values()),
                spool=Spool(spool_path),
                ip=policy.log.ip,
                where=repr(store),
            )
            self._submit: Callable[[Row], None] = self._decide_here
        else:
            config = WriterConfig(dsn, self._rows, spool_path, policy.log.ip, _redacted(dsn))
            self.writer = ProcessWriter(config)
            self._submit = self.writer.submit

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
        """Queue the record of a decision just made; returns at once.

        `lang`: the banner's language, if known; else the writer negotiates it from the
        request's Accept-Language, as the banner does. The row holds only what the request
        gives; all else is worked out off the event loop."""
        assert consent.id is not None
        self._submit(
            (
                consent.id,
                time.time_ns(),  # the cookie's time, to the microsecond
                action,
                consent.choices,
                consent.revision,
                header(headers, b"accept-language") if lang is None else lang,
                consent.signals,
                page,
                method,
                header(headers, b"user-agent") or b"",
                client if self._keep_ip else None,
                previous.id,
            )
        )

    def _decide_here(self, row: Row) -> None:
        """For the writer thread (a store factory): a `Decision` made on the request's thread."""
        assert isinstance(self.writer, RecordWriter)
        self.writer.submit(self._rows.decision(row))

    async def startup(self) -> None:
        await asyncio.to_thread(self.writer.start)

    async def shutdown(self) -> None:
        await asyncio.to_thread(self.writer.close)


def _spool_path(dsn: str) -> Path:
    path = sqlite_path(dsn)
    return Path(f"{path}.spool.jsonl") if path else Path("consent-log.spool.jsonl")


def _redacted(dsn: str) -> str:
    """A DSN fit for a log line: no password."""
    scheme, sep, rest = dsn.partition("://")
    if "@" in rest:
        user, _, host = rest.rpartition("@")
        rest = f"{user.partition(':')[0]}:***@{host}" if ":" in user else rest
    return scheme + sep + rest
