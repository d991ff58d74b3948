"""Shared set-up for all test suites; browser fixtures live in ``tests/browser/conftest.py``."""

from __future__ import annotations

import pytest


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run browser tests last.

    Playwright's sync API keeps an event loop running in the main thread for the rest of the
    session, after which ``asyncio.run()`` in a plain test would fail.
    """
    items.sort(key=lambda item: "browser" in item.path.parts)
