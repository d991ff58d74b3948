"""`consent-gate log ...` through click's runner, on both stores."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_store import record

from consent_gate.cli import main
from consent_gate.storage import Shown, open_store

COMMANDS = ["show", "export", "purge", "forget", "stats", "grant-writer"]


@pytest.fixture
def filled(dsn: str) -> str:
    now = datetime.now(UTC)
    store = open_store(dsn)
    try:
        store.archive(Shown("v1", "<section>banner</section>", '{"revision": 1}'), now)
        store.write(
            [
                record(1),
                record(2, replaces="c1"),
                record(3),
                dataclasses.replace(record(4), expires_at=now - timedelta(days=6 * 365)),
            ]
        )
    finally:
        store.close()
    return dsn


def run(*args: str) -> str:
    """The command's standard output (counts and notes go to standard error)."""
    result = CliRunner().invoke(main, ["log", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    assert "--dsn" in run(command, "--help")


def test_show_prints_the_history_and_the_version_shown(filled: str) -> None:
    out = run("show", "--dsn", filled, "c2")
    assert out.count(" save via banner on /p") == 2
    assert "consent id c2 (replaces c1)" in out
    assert "analytics=no" in out
    assert "signals: none" in out
    assert "dnt: ignored" in run("show", "--dsn", filled, "c3")
    assert "banner/policy version v1: policy revision 1" in out
    assert "<section>banner</section>" in run("show", "--dsn", filled, "--shown", "c1")
    missing = CliRunner().invoke(main, ["log", "show", "--dsn", filled, "nobody"])
    assert missing.exit_code == 1
    assert "no records for consent id 'nobody'" in missing.output


def test_export_jsonl_and_csv_round_trip(filled: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["log", "export", "--dsn", filled])
    assert result.stderr == "exported 4 record(s)\n"
    exported = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["consent_id"] for r in exported] == ["c1", "c2", "c3", "c4"]
    assert exported[1]["replaces"] == "c1"
    out = tmp_path / "log.csv"
    run("export", "--dsn", filled, "--format", "csv", "-o", str(out), "--since", "2026-01-01",
        "--until", "2026-01-01T00:00:03")  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["consent_id"] for r in rows] == ["c1", "c2"]
    assert json.loads(rows[0]["choices"]) == {"necessary": True, "analytics": False}


def test_forget_erases_the_whole_chain(filled: str) -> None:
    assert "erased 2 record(s) linked to c1" in run("forget", "--dsn", filled, "c1")
    lines = run("export", "--dsn", filled).splitlines()
    assert [json.loads(line)["consent_id"] for line in lines] == ["c3", "c4"]
    again = CliRunner().invoke(main, ["log", "forget", "--dsn", filled, "c1"])
    assert again.exit_code == 1


def test_purge_defaults_to_the_policy_retention(filled: str, tmp_path: Path) -> None:
    policy = tmp_path / "consent.toml"
    policy.write_text(f'[log]\ndsn = "{filled}"\nretention_years = 5\n')
    assert "deleted 1 record(s)" in run("purge", "--policy", str(policy))
    assert "deleted 0 record(s)" in run("purge", "--policy", str(policy))
    assert "deleted 3 record(s)" in run("purge", "--dsn", filled, "--older-than", "1 minute")


def test_stats_prints_rates_per_version_and_category(filled: str) -> None:
    out = run("stats", "--dsn", filled)
    assert "banner version  decisions  accept_all" in out
    assert "v1              4          0.0%        0.0%        100.0%" in out
    assert "analytics  v1              4          50.0%     50.0%" in out
    assert "no records in this range" in run("stats", "--dsn", filled, "--since", "2030-01-01")


def test_a_store_that_cannot_be_opened_is_a_clean_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["log", "stats", "--dsn", "mysql://nope"])
    assert result.exit_code == 1
    assert "cannot open the consent log" in result.output


def test_show_escapes_control_characters_from_stored_text(dsn: str) -> None:
    hostile = dataclasses.replace(
        record(7),
        page="/\x1b]0;pwned\x07\x1b[2J\rfake line\u202e",
        browser="Evil\x1b[31m",
        signals={"gpc\x1b": "honoured\r"},
    )
    store = open_store(dsn)
    try:
        store.write([hostile])
    finally:
        store.close()
    out = run("show", "--dsn", dsn, "c7")
    assert not any(c in out for c in "\x1b\x07\r\u202e")
    assert "on /\\x1b]0;pwned\\x07\\x1b[2J\\rfake line\\u202e" in out
    assert "Evil\\x1b[31m on Linux" in out
    assert "gpc\\x1b: honoured\\r" in out


def test_export_into_a_pipe_closed_early_ends_quietly(dsn: str) -> None:
    store = open_store(dsn)
    try:
        store.write([record(n) for n in range(2000)])  # far more than a pipe buffer holds
    finally:
        store.close()
    command = [sys.executable, "-c", "from consent_gate.cli import main; main()"]
    export = subprocess.Popen(
        [*command, "log", "export", "--dsn", dsn],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert export.stdout is not None
    assert export.stderr is not None
    first = export.stdout.readline()  # as `| head -1` reads, then goes
    export.stdout.close()
    errors = export.stderr.read().decode()
    export.stderr.close()
    assert export.wait(30) == 0
    assert json.loads(first)["consent_id"] == "c0"
    assert errors == ""


def test_grant_writer_is_for_postgresql(tmp_path: Path) -> None:
    sqlite = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    result = CliRunner().invoke(main, ["log", "grant-writer", "--dsn", sqlite, "someone"])
    assert result.exit_code == 1
    assert "only PostgreSQL has roles" in result.output
