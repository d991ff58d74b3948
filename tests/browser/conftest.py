"""Fixtures for tests that drive a real Chromium against a locally served site.

One browser per session keeps the suite fast on small CI machines; each test
gets fresh contexts (cookie jars) so tests cannot leak consent to each other.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright, sync_playwright

from consent_gate._types import ASGIApp
from consent_gate.qa import TrackerRecorder, launch_chromium, serve

_HERE = Path(__file__).parent


class LiveServer(Protocol):
    """Serve an ASGI app for the rest of the test; returns its base URL."""

    def __call__(self, app: ASGIApp, **serve_kwargs: Any) -> str: ...


class ContextFactory(Protocol):
    """Open a browser context whose third-party traffic is stubbed and recorded."""

    def __call__(
        self,
        base_url: str,
        *,
        javascript_enabled: bool = True,
        scripts: Mapping[str, str] | None = None,
        cookies: Mapping[str, Sequence[str]] | None = None,
        first_party: Sequence[str] = (),
        **context_kwargs: Any,
    ) -> tuple[BrowserContext, TrackerRecorder]: ...


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tag everything under tests/browser so ``-m "not browser"`` skips Chromium."""
    for item in items:
        if _HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = launch_chromium(playwright_instance)
    yield browser
    browser.close()


@pytest.fixture
def live() -> Iterator[LiveServer]:
    """Factory: ``base_url = live(app)``; every server stops when the test ends."""
    with contextlib.ExitStack() as stack:

        def start(app: ASGIApp, **serve_kwargs: Any) -> str:
            return stack.enter_context(serve(app, **serve_kwargs))

        yield start


@pytest.fixture
def make_context(browser: Browser) -> Iterator[ContextFactory]:
    """Factory: ``context, recorder = make_context(base_url)``; closed at teardown.

    ``base_url`` becomes the context's base URL (so ``page.goto("/")`` works) and
    its origin, plus any ``first_party`` origins, counts as first-party.
    """
    contexts: list[BrowserContext] = []

    def create(
        base_url: str,
        *,
        javascript_enabled: bool = True,
        scripts: Mapping[str, str] | None = None,
        cookies: Mapping[str, Sequence[str]] | None = None,
        first_party: Sequence[str] = (),
        **context_kwargs: Any,
    ) -> tuple[BrowserContext, TrackerRecorder]:
        context = browser.new_context(
            base_url=base_url, java_script_enabled=javascript_enabled, **context_kwargs
        )
        contexts.append(context)
        recorder = TrackerRecorder([base_url, *first_party], scripts=scripts, cookies=cookies)
        recorder.attach(context)
        return context, recorder

    yield create
    for context in contexts:
        context.close()
