"""`consent-gate log ...`: show, export, purge, forget and count the consent log's records."""

from __future__ import annotations

import csv
import json
import os
import sys
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from .policy import Policy, PolicyError, parse_lifetime
from .storage import ConsentRecord, SqlStore, open_store
from .storage.sql import COLUMNS

__all__ = ["log"]

_F = TypeVar("_F", bound=Callable[..., Any])
_UNPRINTABLE = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}
_DATES = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"])


def _store_options(command: _F) -> _F:
    command = click.option(
        "--policy",
        "policy_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Policy TOML file whose [log] section names the store.",
    )(command)
    return click.option(
        "--dsn", help="sqlite:///path or postgresql://... (default: from the policy)."
    )(command)


def _range_options(command: _F) -> _F:
    command = click.option("--until", type=_DATES, help="Only records before this UTC time.")(
        command
    )
    return click.option("--since", type=_DATES, help="Only records from this UTC time on.")(command)


def _policy(policy_path: Path | None) -> Policy:
    try:
        return Policy.from_toml(policy_path) if policy_path else Policy.default()
    except PolicyError as exc:
        raise click.ClickException(f"invalid policy: {exc}") from None


@contextmanager
def _store(dsn: str | None, policy_path: Path | None) -> Iterator[SqlStore]:
    try:
        store = open_store(dsn or _policy(policy_path).log.dsn)
    except Exception as exc:
        raise click.ClickException(f"cannot open the consent log: {exc}") from None
    try:
        yield store
    finally:
        store.close()


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None else None


@click.group()
def log() -> None:
    """The consent log: proof of every decision (GDPR art. 7(1))."""


@log.command()
@_store_options
@click.option("--shown", is_flag=True, help="Also print the archived banner markup and policy.")
@click.argument("consent_id")
def show(dsn: str | None, policy_path: Path | None, shown: bool, consent_id: str) -> None:
    """The full history of CONSENT_ID (every decision linked to it), with what was shown."""
    with _store(dsn, policy_path) as store:
        history = store.history(consent_id)
        if not history:
            raise click.ClickException(f"no records for consent id {consent_id!r}")
        versions = {}
        for record in history:
            versions[record.shown] = store.shown(record.shown)
            click.echo(_describe(record))
        for digest, version in versions.items():
            if version is None:
                click.echo(f"banner/policy version {_safe(digest)}: NOT ARCHIVED")
                continue
            policy = json.loads(version.policy)
            click.echo(
                f"banner/policy version {_safe(digest)}: policy revision "
                f"{_safe(str(policy.get('revision')))}, banner {len(version.banner)} characters, "
                f"policy {len(version.policy)}"
            )
            if shown:
                click.echo(_safe(version.banner, keep="\n\t"))
                click.echo(json.dumps(policy, indent=2))  # ASCII: json escapes the rest


def _describe(record: ConsentRecord) -> str:
    """Every stored text escaped: a page path or browser name came from a visitor."""
    r = _Escaped(record)
    choices = ", ".join(f"{_safe(c)}={'yes' if v else 'no'}" for c, v in record.choices.items())
    signals = ", ".join(f"{_safe(k)}: {_safe(v)}" for k, v in record.signals.items()) or "none"
    return (
        f"{record.decided_at:%Y-%m-%d %H:%M:%S} UTC  {r.action} via {r.method} on {r.page}\n"
        f"  consent id {r.consent_id}"
        + (f" (replaces {r.replaces})" if record.replaces else "")
        + f"; record {r.record_id}\n"
        f"  choices: {choices}\n"
        f"  revision {record.revision}, banner/policy version {r.shown}; signals: {signals}\n"
        f"  {r.browser} on {r.os} ({r.device}{', bot' if record.bot else ''})"
        + (f", network {r.ip}" if record.ip else "")
        + f"; expires {record.expires_at:%Y-%m-%d}"
    )


class _Escaped:
    """A record's text fields, escaped for a terminal."""

    def __init__(self, record: ConsentRecord) -> None:
        self._record = record

    def __getattr__(self, name: str) -> str:
        return _safe(str(getattr(self._record, name)))


def _safe(text: str, keep: str = "") -> str:
    """Control and format characters (ESC, CR, BEL, bidi overrides...) written as escapes, so
    stored text cannot move the cursor, rewrite a line or recolour the operator's terminal."""
    return "".join(
        c if c in keep or unicodedata.category(c) not in _UNPRINTABLE else ascii(c)[1:-1]
        for c in text
    )


@log.command()
@_store_options
@_range_options
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="jsonl")
@click.option("--output", "-o", type=click.File("w"), default="-", help="File (default: stdout).")
def export(
    dsn: str | None,
    policy_path: Path | None,
    since: datetime | None,
    until: datetime | None,
    fmt: str,
    output: Any,
) -> None:
    """Write records for an audit, oldest first; streamed, so millions are fine."""
    try:
        count = _export(dsn, policy_path, since, until, fmt, output)
    except BrokenPipeError:  # `| head` has read enough: stop quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush
        return
    click.echo(f"exported {count} record(s)", err=True)


def _export(
    dsn: str | None,
    policy_path: Path | None,
    since: datetime | None,
    until: datetime | None,
    fmt: str,
    output: Any,
) -> int:
    count = 0
    with (
        _store(dsn, policy_path) as store,
        closing(store.records(_utc(since), _utc(until))) as records,
    ):
        if fmt == "csv":
            writer = csv.writer(output)
            writer.writerow(COLUMNS)
            for record in records:
                data = record.to_json()
                writer.writerow(
                    json.dumps(data[c], separators=(",", ":"))
                    if c in ("choices", "signals")
                    else data[c]
                    for c in COLUMNS
                )
                count += 1
        else:
            for record in records:
                output.write(json.dumps(record.to_json(), separators=(",", ":")) + "\n")
                count += 1
        output.flush()
    return count


@log.command()
@_store_options
@click.option(
    "--older-than",
    metavar="DURATION",
    help="Delete records whose consent expired longer ago than this, e.g. '5 years' "
    "(default: the policy's [log] retention_years).",
)
def purge(dsn: str | None, policy_path: Path | None, older_than: str | None) -> None:
    """Delete records past retention (kept for a while after the consent expired)."""
    if older_than is None:
        seconds = _policy(policy_path).log.retention_years * 365 * 86400
    else:
        try:
            seconds = parse_lifetime(older_than) or 0
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--older-than") from None
    cutoff = datetime.now(UTC) - timedelta(seconds=seconds)
    with _store(dsn, policy_path) as store:
        deleted = store.purge(cutoff)
    click.echo(f"deleted {deleted} record(s) that expired before {cutoff:%Y-%m-%d %H:%M} UTC")


@log.command()
@_store_options
@click.argument("consent_id")
def forget(dsn: str | None, policy_path: Path | None, consent_id: str) -> None:
    """Erase a data subject's records: CONSENT_ID and every decision linked to it."""
    with _store(dsn, policy_path) as store:
        deleted = store.forget(consent_id)
    if not deleted:
        raise click.ClickException(f"no records for consent id {consent_id!r}")
    click.echo(f"erased {deleted} record(s) linked to {consent_id}")


@log.command("grant-writer")
@_store_options
@click.argument("role")
def grant_writer(dsn: str | None, policy_path: Path | None, role: str) -> None:
    """Let ROLE (PostgreSQL) insert and read records and nothing else; run as the owner."""
    with _store(dsn, policy_path) as store:
        if store.dialect != "postgres":
            raise click.ClickException(
                "only PostgreSQL has roles; protect a SQLite log with its file's permissions"
            )
        from .storage.postgres import PostgresStore  # psycopg is there: the store is open

        assert isinstance(store, PostgresStore)
        try:
            store.grant_writer(role)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(
        f"{role} may now INSERT and SELECT the consent log, and nothing else; give the gate a "
        "DSN that connects as it, and run purge and forget as the owner"
    )


@log.command()
@_store_options
@_range_options
def stats(
    dsn: str | None, policy_path: Path | None, since: datetime | None, until: datetime | None
) -> None:
    """Acceptance and rejection rates per banner version and per category."""
    actions: dict[str, Counter[str]] = defaultdict(Counter[str])
    allowed: dict[tuple[str, str], Counter[bool]] = defaultdict(Counter[bool])
    with _store(dsn, policy_path) as store:
        for record in store.records(_utc(since), _utc(until)):
            actions[record.shown][record.action] += 1
            for category, value in record.choices.items():
                allowed[record.shown, category][value] += 1
    if not actions:
        click.echo("no records in this range")
        return
    names = ["accept_all", "reject_all", "save", "allow", "withdraw"]
    names += sorted({a for counts in actions.values() for a in counts} - set(names))
    rows = [["banner version", "decisions", *names]]
    for version, counts in actions.items():
        total = sum(counts.values())
        rows.append([version[:12], str(total), *(_pct(counts[n], total) for n in names)])
    _table(rows)
    click.echo()
    rows = [["category", "banner version", "decisions", "accepted", "refused"]]
    for (version, category), votes in sorted(allowed.items(), key=lambda i: (i[0][1], i[0][0])):
        total = votes[True] + votes[False]
        rows.append(
            [
                category,
                version[:12],
                str(total),
                _pct(votes[True], total),
                _pct(votes[False], total),
            ]
        )
    _table(rows)


def _pct(part: int, total: int) -> str:
    return f"{100 * part / total:.1f}%" if total else "-"


def _table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            click.echo("  ".join("-" * w for w in widths))
