"""Stores to test against: a SQLite file, and a private PostgreSQL cluster on loopback.

Tests that need PostgreSQL are skipped, with the reason, only when it cannot be started.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pg_cluster import Cluster

from consent_gate import ConsentGate, Policy
from consent_gate._types import Receive, Scope, Send

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


async def _site(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


@pytest.fixture
def log_gate(gate_factory: Callable[..., ConsentGate]) -> Callable[..., ConsentGate]:
    """Gates logging to a DSN, their logs closed after the test (no writer outlives it)."""

    def build(dsn: str, policy: Policy | None = None) -> ConsentGate:
        policy = policy or Policy.default()
        return gate_factory(_site, secret_key="log-test", policy=policy, store=dsn)

    return build
