"""What SQLite and PostgreSQL stores share: the statements, over DB-API connections.

Only placeholders, timestamps and connecting differ; the subclasses supply those.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .migrations import MIGRATIONS, Dialect
from .records import ConsentRecord, Shown

__all__ = ["COLUMNS", "OVERFLOW", "ReportCount", "SqlStore"]

COLUMNS = (
    "record_id",
    "consent_id",
    "decided_at",
    "action",
    "choices",
    "revision",
    "shown",
    "signals",
    "page",
    "method",
    "browser",
    "os",
    "device",
    "bot",
    "ip",
    "expires_at",
    "replaces",
)
_FETCH = 1000
_SCHEMA_EXISTS: dict[Dialect, str] = {
    "sqlite": "SELECT COUNT(*) FROM sqlite_master WHERE name = 'consent_gate_schema'",
    "postgres": "SELECT COUNT(to_regclass('consent_gate_schema'))",
}
_JSON: dict[tuple[tuple[str, object], ...], str] = {}
OVERFLOW = "overflow"  # the key_hash of a kind's row counting reports of keys beyond the bound


@dataclass(frozen=True)
class ReportCount:
    """How often one key of one kind of report arrived, across every process of the site."""

    kind: str
    fields: dict[str, str]  # empty for the kind's overflow row
    count: int
    first_seen: datetime
    last_seen: datetime

    @property
    def overflow(self) -> bool:
        return not self.fields

    @property
    def key_hash(self) -> str:
        return report_key_hash(self.fields)


def report_key_hash(fields: Mapping[str, str]) -> str:
    if not fields:
        return OVERFLOW
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _json(mapping: Mapping[str, object]) -> str:
    """Choices and signals as JSON; a site has few distinct ones, so they are made once."""
    key = tuple(mapping.items())
    text = _JSON.get(key)
    if text is None:
        text = json.dumps(mapping, separators=(",", ":"))
        if len(_JSON) < 4096:
            _JSON[key] = text
    return text


class SqlStore:
    """A consent log in one SQL database; methods run in the caller's thread."""

    dialect: Dialect
    placeholder = "?"
    conn: Any
    # What the store raises for a record it will never take, as against being unreachable.
    refused: tuple[type[Exception], ...] = ()

    # -- connection-specific hooks ------------------------------------------------------------

    def _begin(self) -> None:
        raise NotImplementedError

    def _lock_schema(self) -> None:
        """Keep two processes from migrating at once (inside the migration transaction)."""

    def _lock_reports(self) -> None:
        """Keep two processes from adding report counts at once (SQLite's BEGIN IMMEDIATE
        already does)."""

    def _time(self, value: datetime) -> Any:
        return value

    def _from_time(self, value: Any) -> datetime:
        assert isinstance(value, datetime)
        return value

    def _stream(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        cursor = self.conn.cursor()
        try:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(_FETCH):
                yield from rows
        finally:
            cursor.close()

    def close(self) -> None:
        self.conn.close()

    # -- shared -------------------------------------------------------------------------------

    def _sql(self, text: str) -> str:
        return text.replace("?", self.placeholder)

    def _execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        cursor = self.conn.cursor()
        if params is None:
            cursor.execute(sql)
        else:
            cursor.execute(self._sql(sql), params)
        return cursor

    def _commit(self) -> None:
        self._execute("COMMIT")

    def _rollback(self) -> None:
        self._execute("ROLLBACK")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """The block in one transaction: committed when it ends, rolled back if anything
        escapes it or the commit fails. BaseException too: a writer stopped by a signal or
        `KeyboardInterrupt` must not leave the connection inside an open transaction."""
        self._begin()
        try:
            yield
            self._commit()
        except BaseException:
            self._rollback()
            raise

    def migrate(self) -> int:
        """Bring the schema to the newest version; returns that version. Up to date, it creates
        nothing, so a role that may only insert and read (`log grant-writer`) can connect."""
        if self._version() >= len(MIGRATIONS):
            return len(MIGRATIONS)
        with self._transaction():
            self._lock_schema()
            self._execute("CREATE TABLE IF NOT EXISTS consent_gate_schema (version INTEGER)")
            row = self._execute("SELECT MAX(version) FROM consent_gate_schema").fetchone()
            current = row[0] or 0
            for version, step in enumerate(MIGRATIONS[current:], start=current + 1):
                for statement in step(self.dialect):
                    self._execute(statement)
                self._execute("INSERT INTO consent_gate_schema (version) VALUES (?)", (version,))
        return len(MIGRATIONS)

    def _version(self) -> int:
        exists = self._execute(_SCHEMA_EXISTS[self.dialect]).fetchone()[0]
        return self.schema_version() if exists else 0

    def schema_version(self) -> int:
        row = self._execute("SELECT MAX(version) FROM consent_gate_schema").fetchone()
        return int(row[0] or 0)

    def archive(self, shown: Shown, now: datetime) -> None:
        """Keep a banner/policy version once, however many records point at it."""
        with self._transaction():
            self._execute(
                "INSERT INTO consent_shown (hash, banner, policy, first_seen) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (hash) DO NOTHING",
                (shown.hash, shown.banner, shown.policy, self._time(now)),
            )

    def write(self, records: Sequence[ConsentRecord]) -> None:
        """Insert records in one transaction; a record written before (a replay) is skipped,
        never rewritten."""
        raise NotImplementedError

    def _row(self, record: ConsentRecord) -> tuple[Any, ...]:
        return (
            record.record_id,
            record.consent_id,
            self._time(record.decided_at),
            record.action,
            _json(record.choices),
            record.revision,
            record.shown,
            _json(record.signals),
            record.page,
            record.method,
            record.browser,
            record.os,
            record.device,
            record.bot,
            record.ip,
            self._time(record.expires_at),
            record.replaces,
        )

    def _record(self, row: Sequence[Any]) -> ConsentRecord:
        data = dict(zip(COLUMNS, row, strict=True))
        data["decided_at"] = self._from_time(data["decided_at"])
        data["expires_at"] = self._from_time(data["expires_at"])
        data["choices"] = json.loads(data["choices"])
        data["signals"] = json.loads(data["signals"])
        data["bot"] = bool(data["bot"])
        return ConsentRecord(**data)

    def records(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> Generator[ConsentRecord, None, None]:
        """Every record decided in [since, until), oldest first, streamed; close it if you stop
        early, before the store."""
        where, params = self._range(since, until)
        columns = ", ".join(COLUMNS)
        sql = f"SELECT {columns} FROM consent_records{where} ORDER BY decided_at, record_id"
        for row in self._stream(self._sql(sql), params):
            yield self._record(row)

    def _range(self, since: datetime | None, until: datetime | None) -> tuple[str, list[Any]]:
        clauses, params = [], []
        if since is not None:
            clauses.append("decided_at >= ?")
            params.append(self._time(since))
        if until is not None:
            clauses.append("decided_at < ?")
            params.append(self._time(until))
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def history(self, consent_id: str) -> list[ConsentRecord]:
        """Every record linked to this consent id through `replaces`, oldest first."""
        found: dict[str, ConsentRecord] = {}
        todo, seen = [consent_id], set()
        columns = ", ".join(COLUMNS)
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            rows = self._execute(
                f"SELECT {columns} FROM consent_records WHERE consent_id = ? OR replaces = ?",
                (current, current),
            ).fetchall()
            for row in rows:
                record = self._record(row)
                found[record.record_id] = record
                todo.append(record.consent_id)
                if record.replaces:
                    todo.append(record.replaces)
        return sorted(found.values(), key=lambda r: (r.decided_at, r.record_id))

    def shown(self, digest: str) -> Shown | None:
        row = self._execute(
            "SELECT hash, banner, policy FROM consent_shown WHERE hash = ?", (digest,)
        ).fetchone()
        return Shown(*row) if row else None

    def forget(self, consent_id: str) -> int:
        """Erase a data subject's records: the whole chain their consent id belongs to."""
        ids = sorted({r.record_id for r in self.history(consent_id)})
        return self._delete("record_id", ids)

    def purge(self, expired_before: datetime) -> int:
        """Delete records whose consent expired before the given time."""
        with self._transaction():
            cursor = self._execute(
                "DELETE FROM consent_records WHERE expires_at < ?", (self._time(expired_before),)
            )
        return int(cursor.rowcount)

    def _delete(self, column: str, values: Sequence[str]) -> int:
        if not values:
            return 0
        deleted = 0
        with self._transaction():
            for start in range(0, len(values), 500):
                chunk = values[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                cursor = self._execute(
                    f"DELETE FROM consent_records WHERE {column} IN ({marks})", chunk
                )
                deleted += cursor.rowcount
        return deleted

    def count(self) -> int:
        return int(self._execute("SELECT COUNT(*) FROM consent_records").fetchone()[0])

    # -- reports: counts per key from every process ---------------------------------------------

    def add_reports(
        self, counts: Sequence[ReportCount], limit: int, batch: str | None = None
    ) -> bool:
        """Add counts in one transaction: to a key's row, else a new row while its kind has
        fewer than `limit`, else to the kind's overflow row. First and last seen widen.
        `batch`: a unique id; a batch already added (a retry after a lost answer) is not added
        again, and False returned. Batch ids are kept for a day."""
        if not counts:
            return True
        with self._transaction():
            self._lock_reports()
            if batch is not None and not self._new_batch(batch):
                return False  # committed: the batch ids' clean-up stands
            rows = dict(
                self._execute(
                    "SELECT kind, COUNT(*) FROM consent_reports WHERE key_hash <> ? GROUP BY kind",
                    (OVERFLOW,),
                ).fetchall()
            )
            for count in counts:
                if self._add_to(count.kind, count.key_hash, count):
                    continue
                if not count.overflow and rows.get(count.kind, 0) < limit:
                    rows[count.kind] = rows.get(count.kind, 0) + 1
                    self._insert_report(count.kind, count.key_hash, count)
                elif not self._add_to(count.kind, OVERFLOW, count):
                    self._insert_report(count.kind, OVERFLOW, dataclasses.replace(count, fields={}))
        return True

    def _new_batch(self, batch: str) -> bool:
        now = datetime.now(UTC)
        self._execute(
            "DELETE FROM consent_report_batches WHERE added_at < ?",
            (self._time(now - timedelta(days=1)),),
        )
        cursor = self._execute(
            "INSERT INTO consent_report_batches (batch_id, added_at) VALUES (?, ?) "
            "ON CONFLICT (batch_id) DO NOTHING",
            (batch, self._time(now)),
        )
        return bool(cursor.rowcount)

    def _add_to(self, kind: str, key_hash: str, count: ReportCount) -> bool:
        first, last = self._time(count.first_seen), self._time(count.last_seen)
        cursor = self._execute(
            "UPDATE consent_reports SET count = count + ?, "
            "first_seen = CASE WHEN first_seen > ? THEN ? ELSE first_seen END, "
            "last_seen = CASE WHEN last_seen < ? THEN ? ELSE last_seen END "
            "WHERE kind = ? AND key_hash = ?",
            (count.count, first, first, last, last, kind, key_hash),
        )
        return bool(cursor.rowcount)

    def _insert_report(self, kind: str, key_hash: str, count: ReportCount) -> None:
        self._execute(
            "INSERT INTO consent_reports (kind, key_hash, fields, count, first_seen, last_seen) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                kind,
                key_hash,
                json.dumps(count.fields),  # in the kind's order, for people to read
                count.count,
                self._time(count.first_seen),
                self._time(count.last_seen),
            ),
        )

    def reports(self, kind: str | None = None) -> list[ReportCount]:
        """Every key's count, most frequent first (overflow rows last)."""
        where, params = (" WHERE kind = ?", (kind,)) if kind else ("", ())
        rows = self._execute(
            "SELECT kind, fields, count, first_seen, last_seen FROM consent_reports" + where,
            params,
        ).fetchall()
        found = [
            ReportCount(k, json.loads(f), int(n), self._from_time(a), self._from_time(b))
            for k, f, n, a, b in rows
        ]
        return sorted(found, key=lambda r: (r.overflow, -r.count, r.kind, sorted(r.fields.items())))
