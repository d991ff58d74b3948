"""The store for fleets: PostgreSQL through psycopg 3, shared by every process and machine."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import psycopg

from .sql import SqlStore

__all__ = ["PostgresStore"]

_FETCH = 1000
_LOCK = 0x636F6E73  # pg_advisory_xact_lock key: one migrator at a time


class PostgresStore(SqlStore):
    """Reads stream through a server-side cursor, so an export of millions stays small."""

    dialect = "postgres"
    placeholder = "%s"

    def __init__(self, dsn: str, *, connect_timeout: int = 5) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True, connect_timeout=connect_timeout)
        try:
            self.migrate()
        except BaseException:
            self.conn.close()
            raise

    def _begin(self) -> None:
        self.conn.execute("BEGIN")

    def _lock_schema(self) -> None:
        self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))

    def _stream(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        with self.conn.transaction(), self.conn.cursor(name="consent_gate_export") as cursor:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(_FETCH):
                yield from rows
