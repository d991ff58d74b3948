"""Shared set-up for all test suites; browser fixtures live in ``tests/browser/conftest.py``."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


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
