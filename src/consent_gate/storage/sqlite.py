"""The embedded store: one SQLite file in WAL mode, created on first use with no setup."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .sql import SqlStore

__all__ = ["SqliteStore"]


class SqliteStore(SqlStore):
    """Several processes may share the file: WAL lets readers run beside the one writer."""

    dialect = "sqlite"
    placeholder = "?"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        try:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")  # durable at each checkpoint in WAL
            self.migrate()
        except BaseException:
            self.conn.close()
            raise

    def _begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")  # take the write lock now, not halfway through

    def _time(self, value: datetime) -> Any:
        # Fixed-width UTC text ("2026-01-01T00:00:00.000000+00:00") sorts as time does.
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        return value.isoformat(timespec="microseconds")

    def _from_time(self, value: Any) -> datetime:
        return datetime.fromisoformat(value)
