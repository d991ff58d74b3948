"""The gate's side of the consent log: turns an endpoint's decision into a queued record."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from .._types import Headers
from ..consent import Consent
from ..http import header
from ..policy import Policy
from . import sqlite_path
from .process import ProcessWriter, WriterConfig
from .records import Decision, Shown
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
        self._default = next(iter(self.shown.values()))
        self._policy = policy
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
        else:
            config = WriterConfig(
                dsn, list(self.shown.values()), spool_path, policy.log.ip, _redacted(dsn)
            )
            self.writer = ProcessWriter(config)

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
        """Queue the record of a decision just made; returns at once."""
        assert consent.id is not None
        self.writer.submit(
            Decision(
                consent_id=consent.id,
                decided_at=datetime.now(UTC),  # the cookie's time, to the microsecond
                action=action,
                choices=consent.choices,
                revision=consent.revision,
                shown=self.shown.get(lang or "", self._default).hash,
                signals=consent.signals,
                page=page,
                method=method,
                user_agent=(header(headers, b"user-agent") or b"").decode("latin-1"),
                client=client if self._policy.log.ip == "truncated" else None,
                max_age=self._policy.max_age,
                replaces=previous.id,
            )
        )

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
