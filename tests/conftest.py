"""Shared set-up for all test suites; browser fixtures live in ``tests/browser/conftest.py``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import settings

from asgi_client import Client, make_gate, respond
from consent_gate import ConsentGate
from consent_gate._types import ASGIApp

# A page with one tracker, for tests that need a gated site and nothing particular about it.
TRACKER_PAGE = (
    b"<!doctype html><html><head><title>Shop</title>"
    b'<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
    b"</head><body><p>Hello</p></body></html>"
)


# `make test` (so CI) replays the same examples every run (`--hypothesis-profile=replay`): a
# green main stays green. Run pytest without it to let Hypothesis search anew, as it should
# while the code changes; what it finds becomes an `@example` or a test of its own.
settings.register_profile("replay", derandomize=True, database=None)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run browser tests last.

    Playwright's sync API keeps an event loop running in the main thread for the rest of the
    session, after which ``asyncio.run()`` in a plain test would fail.
    """
    items.sort(key=lambda item: "browser" in item.path.parts)


@pytest.fixture(scope="session", autouse=True)
def _consent_log_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Gates log to `consent-log.sqlite3` in the working directory: keep it out of the checkout."""
    before = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    yield
    os.chdir(before)


@pytest.fixture
def gate_factory() -> Iterator[Callable[..., ConsentGate]]:
    """Builds gates with the tests' key (over `TRACKER_PAGE` unless given an app), and closes
    their consent logs afterwards, so no writer thread or process outlives the test."""
    built: list[ConsentGate] = []

    def build(app: ASGIApp | None = None, **options: Any) -> ConsentGate:
        gate = make_gate(app or respond(TRACKER_PAGE), **options)
        built.append(gate)
        return gate

    yield build
    for gate in built:
        if gate.log is not None:
            gate.log.close()


@pytest.fixture
def gate(gate_factory: Callable[..., ConsentGate]) -> ConsentGate:
    """A gate with the default policy over `TRACKER_PAGE`."""
    return gate_factory()


@pytest.fixture
def client(gate: ConsentGate) -> Client:
    """A browser-like client of `gate` (https, cookies kept)."""
    return Client(gate)
