"""The stores themselves: schema versions, append-only records and roles, streaming, forget and
purge."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from pg_cluster import Cluster

from consent_gate.storage import ConsentRecord, Shown, SqlStore, open_store, sqlite_path
from consent_gate.storage.migrations import MIGRATIONS
from consent_gate.storage.postgres import PostgresStore
from consent_gate.storage.sql import COLUMNS

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def record(number: int, *, replaces: str | None = None, days: int = 0) -> ConsentRecord:
    decided = T0 + timedelta(days=days, seconds=number)
    return ConsentRecord(
        record_id=f"r{number:06d}",
        consent_id=f"c{number}",
        decided_at=decided,
        action="save",
        choices={"necessary": True, "analytics": number % 2 == 0},
        revision=1,
        shown="v1",
        signals={"dnt": "ignored"} if number % 3 == 0 else {},
        page="/p",
        method="banner",
        browser="Firefox",
        os="Linux",
        device="pc",
        bot=False,
        ip=None,
        expires_at=decided + timedelta(days=182),
        replaces=replaces,
    )


def test_schema_is_created_on_first_open_and_reopening_changes_nothing(dsn: str) -> None:
    store = open_store(dsn)
    try:
        assert store.schema_version() == len(MIGRATIONS)
        store.write([record(1)])
    finally:
        store.close()
    again = open_store(dsn)
    try:
        assert again.schema_version() == len(MIGRATIONS)
        assert again.migrate() == len(MIGRATIONS)
        rows = again._execute("SELECT COUNT(*) FROM consent_gate_schema").fetchone()
        assert rows[0] == len(MIGRATIONS)
        assert again.count() == 1
    finally:
        again.close()


def test_sqlite_file_is_in_wal_mode(tmp_path: Path) -> None:
    dsn = f"sqlite:///{tmp_path / 'sub' / 'log.sqlite3'}"
    open_store(dsn).close()
    path = sqlite_path(dsn)
    assert path is not None
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_records_are_append_only(dsn: str) -> None:
    store = open_store(dsn)
    try:
        store.write([record(1)])
        with pytest.raises((sqlite3.DatabaseError, psycopg.Error), match="append-only"):
            _update(store)
        assert next(store.records()).action == "save"
    finally:
        store.close()


def _update(store: SqlStore) -> None:
    store._begin()
    try:
        store._execute("UPDATE consent_records SET action = 'accept_all'")
    finally:
        store._rollback()


def test_writing_a_record_twice_keeps_one(dsn: str) -> None:
    store = open_store(dsn)
    try:
        store.write([record(1), record(2)])
        store.write([record(2), record(3)])  # a retried batch
        assert store.count() == 3
        store.archive(Shown("v1", "<b>", "{}"), T0)
        store.archive(Shown("v1", "<b>", "{}"), T0)
        assert store.shown("v1") == Shown("v1", "<b>", "{}")
        assert store.shown("nope") is None
    finally:
        store.close()


def test_records_round_trip_and_stream_in_time_order(dsn: str) -> None:
    store = open_store(dsn)
    try:
        written = [record(n, days=n % 5) for n in range(2500)]
        for start in range(0, 2500, 500):
            store.write(written[start : start + 500])
        read = list(store.records())
        assert sorted(read, key=lambda r: r.record_id) == written
        assert [r.decided_at for r in read] == sorted(r.decided_at for r in read)
        since, until = T0 + timedelta(days=1), T0 + timedelta(days=3)
        window = list(store.records(since, until))
        assert {r.record_id for r in window} == {
            r.record_id for r in written if since <= r.decided_at < until
        }
    finally:
        store.close()


def test_history_follows_the_chain_both_ways_and_forget_erases_it(dsn: str) -> None:
    store = open_store(dsn)
    try:
        chain = [record(1), record(2, replaces="c1"), record(3, replaces="c2")]
        store.write([*chain, record(4)])
        assert store.history("c2") == chain
        assert store.history("c1") == chain
        assert store.history("unknown") == []
        assert store.forget("c3") == 3
        assert [r.consent_id for r in store.records()] == ["c4"]
        assert store.forget("c3") == 0
    finally:
        store.close()


def test_purge_deletes_only_records_expired_before_the_cutoff(dsn: str) -> None:
    store = open_store(dsn)
    try:
        old = dataclasses.replace(record(1), expires_at=T0 - timedelta(days=6 * 365))
        store.write([old, record(2)])
        assert store.purge(T0 - timedelta(days=5 * 365)) == 1
        assert [r.consent_id for r in store.records()] == ["c2"]
    finally:
        store.close()


def test_a_batch_with_a_refused_record_keeps_none_of_it_and_the_store_goes_on(dsn: str) -> None:
    """One transaction per batch: the SQLite chunk already inserted is rolled back with the one
    that failed, and neither store is left inside a transaction for the next write."""
    store = open_store(dsn)
    try:
        batch = [record(number) for number in range(1, 601)]
        batch[550] = dataclasses.replace(batch[550], page=None)  # type: ignore[arg-type]
        with pytest.raises(store.refused):
            store.write(batch)
        assert store.count() == 0
        store.write([record(1)])
        assert store.count() == 1
    finally:
        store.close()


def test_open_store_rejects_other_schemes() -> None:
    with pytest.raises(ValueError, match="sqlite:///"):
        open_store("mysql://x")


@pytest.mark.parametrize(
    "statement",
    [
        "REPLACE INTO consent_records ({columns}) VALUES ({marks})",
        "INSERT OR REPLACE INTO consent_records ({columns}) VALUES ({marks})",
        "INSERT INTO consent_records ({columns}) VALUES ({marks}) "
        "ON CONFLICT (record_id) DO UPDATE SET action = excluded.action",
    ],
)
def test_sqlite_refuses_to_replace_a_record_under_its_id(tmp_path: Path, statement: str) -> None:
    """REPLACE deletes and re-inserts; with recursive_triggers off no delete trigger sees it."""
    store = open_store(f"sqlite:///{tmp_path / 'log.sqlite3'}")
    try:
        store.write([record(1)])
        forged = store._row(dataclasses.replace(record(1), action="accept_all"))
        sql = statement.format(columns=", ".join(COLUMNS), marks=", ".join("?" * len(COLUMNS)))
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            store.conn.execute(sql, forged)
        assert [r.action for r in store.records()] == ["save"]
        store.write([record(1), record(2)])  # a replay still skips what is there
        assert store.count() == 2
    finally:
        store.close()


def test_a_postgres_writer_role_can_insert_and_read_and_nothing_else(cluster: Cluster) -> None:
    owner = cluster.database()
    store = open_store(owner)
    try:
        store.write([record(1)])
        role = f"writer_{owner.rsplit('_', 1)[1]}"  # roles are the cluster's: one per database
        with psycopg.connect(owner, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {role} LOGIN")
        assert isinstance(store, PostgresStore)
        store.grant_writer(role)
    finally:
        store.close()
    writer_dsn = owner.replace("postgres@", f"{role}@")
    writer = open_store(writer_dsn)  # connects: nothing to migrate, nothing to create
    try:
        writer.write([record(2), record(1)])
        assert writer.count() == 2
    finally:
        writer.close()
    with psycopg.connect(writer_dsn, autocommit=True) as conn:
        for statement in [
            "UPDATE consent_records SET action = 'accept_all'",
            "DELETE FROM consent_records",
            "TRUNCATE consent_records",
            "ALTER TABLE consent_records DISABLE TRIGGER consent_records_append_only",
            "ALTER TABLE consent_records DISABLE TRIGGER ALL",
            "DROP TABLE consent_records",
        ]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    owned = open_store(owner)
    try:
        assert owned.forget("c1") == 1  # purge and forget run as the owner
    finally:
        owned.close()


def test_a_superuser_or_owner_is_no_writer_role(cluster: Cluster) -> None:
    store = open_store(cluster.database())
    try:
        assert isinstance(store, PostgresStore)
        with pytest.raises(ValueError, match="superuser or owns"):
            store.grant_writer("postgres")
        with pytest.raises(ValueError, match="no role"):
            store.grant_writer("nobody_here")
    finally:
        store.close()


def test_sqlite_commits_are_synced_when_the_journal_is(tmp_path: Path) -> None:
    dsn = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    for synced, level in ((False, 1), (True, 2)):  # NORMAL, FULL
        store = open_store(dsn, synced=synced)
        try:
            assert store._execute("PRAGMA synchronous").fetchone() == (level,)
        finally:
            store.close()
