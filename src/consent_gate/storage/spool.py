"""The spool file of versions before the journal: written to the store once, then removed.

Each line is a record as JSON, with its record id, so writing it twice (a crash before the file
is removed) keeps one. A line that is not a record goes to the journal's quarantine with an
error; it never holds the others up.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path

from .records import ConsentRecord
from .sql import SqlStore

__all__ = ["ship_spool"]

logger = logging.getLogger("consent_gate.log")


def ship_spool(path: Path, store: SqlStore, quarantine: Path) -> int:
    """Write `path`'s records and remove it; how many it held (0 if there is no such file)."""
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        return 0
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(_record(json.loads(line)))
        except (ValueError, TypeError, KeyError):
            quarantine.mkdir(mode=0o700, parents=True, exist_ok=True)
            target = quarantine / f"{path.name}.{number}"
            target.write_bytes(line)
            logger.exception(
                "consent log: line %d of %s is not a record; copied to %s", number, path, target
            )
    store.write(records)
    path.unlink()
    logger.warning("consent log: %d record(s) from %s written to the store", len(records), path)
    return len(records)


def _record(data: dict[str, object]) -> ConsentRecord:
    decided, expires = data.pop("decided_at"), data.pop("expires_at")
    if not isinstance(decided, str) or not isinstance(expires, str):
        raise TypeError("decided_at and expires_at must be ISO times")
    return ConsentRecord(
        decided_at=datetime.fromisoformat(decided),
        expires_at=datetime.fromisoformat(expires),
        **data,  # type: ignore[arg-type]
    )
