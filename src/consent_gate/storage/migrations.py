"""The log's schema, versioned: each step runs once per database, in order, in a transaction.

Append a step to change the schema; never edit one that has shipped.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["MIGRATIONS", "Dialect"]

Dialect = Literal["sqlite", "postgres"]

_RECORDS = """
CREATE TABLE consent_records (
    record_id TEXT PRIMARY KEY,
    consent_id TEXT NOT NULL,
    decided_at {time} NOT NULL,
    action TEXT NOT NULL,
    choices TEXT NOT NULL,
    revision INTEGER NOT NULL,
    shown TEXT NOT NULL,
    signals TEXT NOT NULL,
    page TEXT NOT NULL,
    method TEXT NOT NULL,
    browser TEXT NOT NULL,
    os TEXT NOT NULL,
    device TEXT NOT NULL,
    bot BOOLEAN NOT NULL,
    ip TEXT,
    expires_at {time} NOT NULL,
    replaces TEXT
)
"""
_ARCHIVE = """
CREATE TABLE consent_shown (
    hash TEXT PRIMARY KEY,
    banner TEXT NOT NULL,
    policy TEXT NOT NULL,
    first_seen {time} NOT NULL
)
"""
_INDEXES = [
    "CREATE INDEX consent_records_consent_id ON consent_records (consent_id)",
    "CREATE INDEX consent_records_replaces ON consent_records (replaces)",
    "CREATE INDEX consent_records_decided_at ON consent_records (decided_at)",
    "CREATE INDEX consent_records_expires_at ON consent_records (expires_at)",
]
# Records are evidence: the only way to change one is to delete it (purge, forget).
_APPEND_ONLY: dict[Dialect, list[str]] = {
    "sqlite": [
        """CREATE TRIGGER consent_records_append_only BEFORE UPDATE ON consent_records
        BEGIN SELECT RAISE(ABORT, 'consent records are append-only'); END""",
    ],
    "postgres": [
        """CREATE FUNCTION consent_records_append_only() RETURNS trigger AS $$
        BEGIN RAISE EXCEPTION 'consent records are append-only'; END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER consent_records_append_only BEFORE UPDATE ON consent_records
        FOR EACH ROW EXECUTE FUNCTION consent_records_append_only()""",
    ],
}
_TIME: dict[Dialect, str] = {"sqlite": "TEXT", "postgres": "TIMESTAMPTZ"}


def _v1(dialect: Dialect) -> list[str]:
    time = _TIME[dialect]
    return [
        _RECORDS.format(time=time),
        _ARCHIVE.format(time=time),
        *_INDEXES,
        *_APPEND_ONLY[dialect],
    ]


# SQLite's REPLACE deletes the record it conflicts with (firing no delete trigger unless
# recursive_triggers is on) and inserts another: refuse any insert under an existing id instead.
# PostgreSQL has no REPLACE; its roles keep writers to INSERT and SELECT (`log grant-writer`).
_NO_REPLACE = """CREATE TRIGGER consent_records_no_replace BEFORE INSERT ON consent_records
WHEN EXISTS (SELECT 1 FROM consent_records WHERE record_id = NEW.record_id)
BEGIN SELECT RAISE(ABORT, 'consent records are append-only'); END"""


def _v2(dialect: Dialect) -> list[str]:
    return [_NO_REPLACE] if dialect == "sqlite" else []


# What browsers reported to every process of the site, counted per key (`ReportFlusher`): a
# report kind's key fields as JSON, under their hash so any length fits the primary key.
_REPORTS = """
CREATE TABLE consent_reports (
    kind TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    fields TEXT NOT NULL,
    count BIGINT NOT NULL,
    first_seen {time} NOT NULL,
    last_seen {time} NOT NULL,
    PRIMARY KEY (kind, key_hash)
)
"""


# The batches already added, so one whose commit's answer was lost is not added twice on retry.
_REPORT_BATCHES = """
CREATE TABLE consent_report_batches (
    batch_id TEXT PRIMARY KEY,
    added_at {time} NOT NULL
)
"""


def _v3(dialect: Dialect) -> list[str]:
    return [_REPORTS.format(time=_TIME[dialect]), _REPORT_BATCHES.format(time=_TIME[dialect])]


MIGRATIONS = [_v1, _v2, _v3]  # version n is MIGRATIONS[n - 1]
