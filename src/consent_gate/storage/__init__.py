"""The consent log: durable, append-only proof of every decision (GDPR art. 7(1)).

`open_store(dsn)` picks the backend: `sqlite:///path` (the embedded default) or
`postgresql://...` (one log for many processes or machines).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes
from ..errors import ConfigError

if TYPE_CHECKING:
    from .records import ConsentRecord, Decision, Shown
    from .sql import SqlStore

__all__ = [
    "ConsentRecord",
    "Decision",
    "Shown",
    "SqlStore",
    "open_store",
    "redacted",
    "sqlite_path",
]


def sqlite_path(dsn: str) -> str | None:
    """The file of a `sqlite:///relative` or `sqlite:////absolute` DSN; None for others."""
    return dsn[len("sqlite:///") :] if dsn.startswith("sqlite:///") else None


def open_store(dsn: str, *, synced: bool = False) -> SqlStore:
    """Connect and bring the schema up to date (created on first use). `synced`: each commit
    is on disk before it returns, as the journal is with `[log] fsync` (PostgreSQL's default)."""
    path = sqlite_path(dsn)
    if path is not None:
        from .sqlite import SqliteStore

        return SqliteStore(path, synced=synced)
    if dsn.startswith(("postgresql://", "postgres://")):
        try:
            from .postgres import PostgresStore
        except ModuleNotFoundError as exc:
            if exc.name != "psycopg":
                raise
            raise ConfigError(
                "a postgresql:// consent log needs psycopg: pip install 'consent-gate[postgres]'"
            ) from None
        return PostgresStore(dsn)
    raise ConfigError(f"{dsn!r}: use sqlite:///path or postgresql://...")


def redacted(dsn: str) -> str:
    """A DSN fit for a log line: no password."""
    scheme, sep, rest = dsn.partition("://")
    if "@" in rest:
        user, _, host = rest.rpartition("@")
        rest = f"{user.partition(':')[0]}:***@{host}" if ":" in user else rest
    return scheme + sep + rest


# Loaded on first use: the gate imports this package for `redacted` and the journal's error,
# and the stores' modules are only needed once a consent log is built.
__getattr__ = lazy_attributes(
    __name__,
    {"ConsentRecord": ".records", "Decision": ".records", "Shown": ".records", "SqlStore": ".sql"},
)
