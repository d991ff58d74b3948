"""The embedded store: one SQLite file in WAL mode, created on first use with no setup."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from .records import ConsentRecord
from .sql import COLUMNS, SqlStore

__all__ = ["SqliteStore"]

_CHUNK = 500  # rows per INSERT: 17 x 500 parameters stay under SQLite's limit


@lru_cache(maxsize=64)
def _insert(rows: int) -> str:
    """Only ids the table lacks: its trigger refuses any insert under an existing id, even one
    that would be ignored, since `REPLACE` would otherwise delete the record and write another."""
    marks = "(" + ", ".join(["?"] * len(COLUMNS)) + ")"
    return (
        f"INSERT INTO consent_records ({', '.join(COLUMNS)}) SELECT * FROM (VALUES "
        + ", ".join([marks] * rows)
        + ") WHERE column1 NOT IN (SELECT record_id FROM consent_records)"
    )


class SqliteStore(SqlStore):
    """Several processes may share the file: WAL lets readers run beside the one writer."""

    dialect = "sqlite"
    placeholder = "?"
    refused = (sqlite3.DataError, sqlite3.IntegrityError)

    def __init__(self, path: str | Path, *, synced: bool = False) -> None:
        """`synced`: FULL, each commit on disk before the shipper deletes the journal it came
        from; else NORMAL, on disk at WAL checkpoints (a commit survives a crash of the process,
        not of the machine, like the journal without fsync)."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        try:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute(f"PRAGMA synchronous={'FULL' if synced else 'NORMAL'}")
            self.migrate()
        except BaseException:
            self.conn.close()
            raise

    def _begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")  # take the write lock now, not halfway through

    def write(self, records: Sequence[ConsentRecord]) -> None:
        """One multi-row INSERT per chunk, not executemany: the driver releases the GIL around
        every statement, and each time it wants it back a busy event loop may keep it up to the
        switch interval (5 ms), so per-row statements would starve a shipper thread."""
        if not records:
            return
        with self._transaction():
            for start in range(0, len(records), _CHUNK):
                chunk = records[start : start + _CHUNK]
                params = [value for record in chunk for value in self._row(record)]
                self.conn.execute(_insert(len(chunk)), params)

    def _time(self, value: datetime) -> Any:
        # Fixed-width UTC text ("2026-01-01T00:00:00.000000+00:00") sorts as time does.
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        return value.isoformat(timespec="microseconds")

    def _from_time(self, value: Any) -> datetime:
        return datetime.fromisoformat(value)
