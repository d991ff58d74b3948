"""`consent-gate reports`: what browsers reported to every process of the site, from the store."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import click

from .log_cli import _store, _store_options

__all__ = ["reports"]

_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f]")  # a report's text must not drive the terminal


@click.command()
@_store_options
@click.option("--kind", help="Only this kind of report (csp, fingerprint, unknown).")
@click.option("--limit", default=50, show_default=True, help="Rows to print (0: all).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def reports(
    dsn: str | None, policy_path: Path | None, kind: str | None, limit: int, as_json: bool
) -> None:
    """CSP violations, fingerprinting attempts and unknown third parties counted by every
    process sharing the consent log's store: count, first and last seen per key, most frequent
    first."""
    with _store(dsn, policy_path) as store:
        rows = store.reports(kind)
    shown = rows[:limit] if limit > 0 else rows
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "kind": r.kind,
                        "key": r.fields or None,
                        "overflow": r.overflow,
                        "count": r.count,
                        "first_seen": r.first_seen.isoformat(timespec="seconds"),
                        "last_seen": r.last_seen.isoformat(timespec="seconds"),
                    }
                    for r in shown
                ],
                indent=2,
            )
        )
        return
    if not rows:
        click.echo("no reports stored")
        return
    click.echo(f"{'kind':<12} {'count':>8}  {'first seen (UTC)':<19}  {'last seen (UTC)':<19}  key")
    for r in shown:
        key = (
            ", ".join(f"{k}={v}" for k, v in r.fields.items())
            or "(overflow: keys beyond the bound)"
        )
        click.echo(
            f"{r.kind:<12} {r.count:>8}  {_when(r.first_seen)}  {_when(r.last_seen)}  "
            + _UNPRINTABLE.sub("?", key)
        )
    if len(shown) < len(rows):
        click.echo(f"... {len(rows) - len(shown)} more (--limit 0 shows all)")


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
