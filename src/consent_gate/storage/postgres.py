"""The store for fleets: PostgreSQL through psycopg 3, shared by every process and machine."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg import sql

from ..errors import ConfigError
from .records import ConsentRecord
from .sql import COLUMNS, SqlStore

__all__ = ["PostgresStore"]

_FETCH = 1000
_LOCK = 0x636F6E73  # pg_advisory_xact_lock key: one migrator at a time
_COLUMNS = ", ".join(COLUMNS)
# Records arrive through COPY into a per-session table, then move over in one statement.
_STAGE = "CREATE TEMP TABLE consent_records_in (LIKE consent_records) ON COMMIT DELETE ROWS"
_COPY = f"COPY consent_records_in ({_COLUMNS}) FROM STDIN"
_MOVE = (
    f"INSERT INTO consent_records ({_COLUMNS}) SELECT {_COLUMNS} FROM consent_records_in "
    "ON CONFLICT (record_id) DO NOTHING"
)


_TABLES = (
    "consent_records, consent_shown, consent_gate_schema, consent_reports, consent_report_batches"
)
_GRANTS = [
    f"REVOKE ALL ON {_TABLES} FROM {{}}",
    "GRANT SELECT, INSERT ON consent_records, consent_shown TO {}",
    "GRANT SELECT ON consent_gate_schema TO {}",
    "GRANT SELECT, INSERT, UPDATE ON consent_reports TO {}",  # counts, not evidence
    "GRANT SELECT, INSERT, DELETE ON consent_report_batches TO {}",
]
_REPORTS_LOCK = 0x636F6E74  # one process at a time adds report counts: the row bound holds


class PostgresStore(SqlStore):
    """Reads stream through a server-side cursor, so an export of millions stays small."""

    dialect = "postgres"
    placeholder = "%s"
    refused = (psycopg.DataError, psycopg.IntegrityError)

    def __init__(self, dsn: str, *, connect_timeout: int = 5) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True, connect_timeout=connect_timeout)
        try:
            self.migrate()
            self.conn.execute(_STAGE)
        except BaseException:
            self.conn.close()
            raise

    def _begin(self) -> None:
        self.conn.execute("BEGIN")

    def write(self, records: Sequence[ConsentRecord]) -> None:
        """COPY, not a multi-row INSERT: psycopg parses a statement with thousands of
        placeholders in Python every time (it caches only short ones), which cost ~40 us a row;
        COPY costs ~6. A record written before (a retry) is still skipped."""
        if not records:
            return
        with self._transaction(), self.conn.cursor() as cursor:
            with cursor.copy(_COPY) as copy:
                for record in records:
                    copy.write_row(self._row(record))
            cursor.execute(_MOVE)

    def grant_writer(self, role: str) -> None:
        """Let `role` insert and read records and nothing else. It does not own the tables, so
        it cannot UPDATE, DELETE, TRUNCATE, ALTER them or disable their trigger: purge and
        forget need the owner."""
        with self.conn.transaction():
            row = self.conn.execute(
                "SELECT rolsuper OR pg_has_role(rolname, tableowner, 'MEMBER') FROM pg_roles, "
                "pg_tables WHERE rolname = %s AND tablename = 'consent_records' "
                "AND schemaname = current_schema()",
                (role,),
            ).fetchone()
            if row is None:
                raise ConfigError(f"no role {role!r} (create it first: CREATE ROLE ... LOGIN)")
            if row[0]:
                raise ConfigError(
                    f"{role!r} is a superuser or owns the log's tables: no grant binds it"
                )
            name = sql.Identifier(role)
            for statement in _GRANTS:
                self.conn.execute(sql.SQL(statement).format(name))

    def _lock_schema(self) -> None:
        self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))

    def _lock_reports(self) -> None:
        self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_REPORTS_LOCK,))

    def _stream(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        with self.conn.transaction(), self.conn.cursor(name="consent_gate_export") as cursor:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(_FETCH):
                yield from rows
