"""Stores to test against: a SQLite file, and a private PostgreSQL cluster on loopback.

Tests that need PostgreSQL are skipped, with the reason, only when it cannot be started.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_cluster import Cluster

STORES = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster | str]:
    """The cluster, or why there is none (a string the tests skip with)."""
    try:
        cluster = Cluster()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        yield f"PostgreSQL could not be started, so PostgreSQL tests are SKIPPED: {exc}"
        return
    yield cluster
    cluster.remove()


@pytest.fixture
def cluster(postgres: Cluster | str) -> Cluster:
    if isinstance(postgres, str):
        pytest.skip(postgres)
    return postgres


@pytest.fixture(params=STORES)
def dsn(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty log of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'log.sqlite3'}"
    cluster: Cluster = request.getfixturevalue("cluster")
    return cluster.database()
