"""Fixtures for tests that drive a real Chromium against a locally served site.

One browser per session keeps the suite fast on small CI machines; each test
gets fresh contexts (cookie jars) so tests cannot leak consent to each other.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import sys
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Cookie,
    Locator,
    Page,
    Playwright,
    Route,
)

from consent_gate import Policy
from consent_gate._types import ASGIApp
from consent_gate.policy import LogSettings
from consent_gate.qa import TrackerRecorder, serve
from consent_gate.storage import ConsentRecord, open_store

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


# The package's pytest plugin owns the session's Playwright and Chromium (a process can run only
# one sync Playwright); these names are the suite's own aliases for them.
@pytest.fixture(scope="session")
def playwright_instance(consent_gate_playwright: Playwright) -> Playwright:
    return consent_gate_playwright


@pytest.fixture(scope="session")
def browser(consent_gate_browser: Browser) -> Browser:
    return consent_gate_browser


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


# -- the gated test site (tests/browser/site.py) ---------------------------------


def _load_site() -> ModuleType:
    """Import site.py under a unique name: ``import site`` would find the stdlib module."""
    name = "consent_gate_browser_site"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, _HERE / "site.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def gate_site() -> ModuleType:
    """The test-site module: ``create_site()``, ``create_evil_site()``, host and URL constants."""
    return _load_site()


@pytest.fixture(scope="module")
def site_url(gate_site: ModuleType) -> Iterator[str]:
    """One gated site per test module; consent lives in each test's own browser context."""
    with serve(gate_site.create_site()) as base_url:
        yield base_url


@dataclass
class Visitor:
    """One visitor: a fresh browser context (cookie jar), its recorder and a page."""

    context: BrowserContext
    recorder: TrackerRecorder
    page: Page
    base_url: str
    errors: list[str] = field(default_factory=list)

    @property
    def banner(self) -> Locator:
        return self.page.locator("#cg-banner")

    @property
    def dialog(self) -> Locator:
        return self.page.get_by_role("dialog")

    @property
    def settings(self) -> Locator:
        """The "Cookie settings" pill: there once a choice is made (hidden while asked)."""
        return self.page.get_by_role("link", name="Cookie settings")

    @property
    def customize(self) -> Locator:
        """The banner's way into the preferences dialog, while the banner asks."""
        return self.banner.get_by_role("link", name="Customize")

    def tracker_hosts(self) -> set[str]:
        """Every third-party host the browser tried to reach since the last ``clear()``."""
        return self.recorder.hosts()

    def served(self) -> list[str]:
        """URLs of third-party requests that reach the (stubbed) network from now on.

        The recorder's hits include requests the browser issued and then refused under a CSP;
        only these went out.
        """
        urls: list[str] = []

        def through(route: Route) -> None:
            urls.append(route.request.url)
            route.fallback()

        self.context.route(self.recorder.is_third_party, through)
        return urls

    def cookies(self) -> dict[str, Cookie]:
        """The context's cookies for the site, by name."""
        return {c["name"]: c for c in self.context.cookies(self.base_url)}

    def cookie_names(self) -> set[str]:
        return set(self.cookies())

    def wait_for_cookies(self, names: Collection[str], timeout: float = 5.0) -> set[str]:
        """The cookie names once they include `names`: a script's `document.cookie` write
        reaches the browser's cookie store a moment after the script has run."""
        deadline = time.monotonic() + timeout
        while not (found := self.cookie_names()) >= set(names) and time.monotonic() < deadline:
            time.sleep(0.05)
        return found

    def tracker_runs(self) -> list[str]:
        """URLs of stubbed tracker scripts that ran in the current page view, in order."""
        runs: list[str] = self.page.evaluate("() => window.__cgTrackerRuns || []")
        return runs

    def mark_page_view(self) -> None:
        """Put a marker in ``window`` that only survives while no navigation happens."""
        self.page.evaluate("() => { window.__samePageView = true; }")

    def assert_same_page_view(self, url: str) -> None:
        assert self.page.url == url
        assert self.page.evaluate("() => window.__samePageView === true")
        assert self.page.evaluate("() => performance.getEntriesByType('navigation').length") == 1

    def consent_id(self) -> str:
        """The consent id the gate's policy page shows this visitor."""
        self.page.goto("/consent-gate/policy")
        return self.page.locator("#cg-consent-id").inner_text()

    def load(self, path: str) -> None:
        """Open ``path`` and wait until the banner script is ready, as a visitor would."""
        self.page.goto(path)
        self.wait_for_banner_script()

    def wait_for_banner_script(self) -> None:
        """Wait until banner.js has started (it is deferred): ``window.consentGate`` exists."""
        self.page.wait_for_function("() => window.consentGate !== undefined")


class VisitorFactory(Protocol):
    """``visitor = visit()``: a new visitor of the module's site (or of ``base_url``)."""

    def __call__(
        self,
        base_url: str | None = None,
        *,
        javascript_enabled: bool = True,
        first_party: Sequence[str] = (),
    ) -> Visitor: ...


@pytest.fixture
def visit(
    make_context: ContextFactory, site_url: str, gate_site: ModuleType
) -> Iterator[VisitorFactory]:
    """Factory of visitors whose tracker stubs behave like the real trackers.

    Uncaught page errors and the banner's own console warnings fail the test at teardown.
    """
    visitors: list[Visitor] = []

    def create(
        base_url: str | None = None,
        *,
        javascript_enabled: bool = True,
        first_party: Sequence[str] = (),
    ) -> Visitor:
        url = base_url or site_url
        context, recorder = make_context(
            url,
            javascript_enabled=javascript_enabled,
            scripts=gate_site.TRACKER_SCRIPTS,
            cookies=gate_site.TRACKER_COOKIES,
            first_party=first_party,
        )
        page = context.new_page()
        visitor = Visitor(context, recorder, page, url)

        def on_console(message: ConsoleMessage) -> None:
            if message.text.startswith("consent-gate:"):
                visitor.errors.append(f"console {message.type}: {message.text}")

        page.on("pageerror", lambda error: visitor.errors.append(f"page error: {error}"))
        page.on("console", on_console)
        visitors.append(visitor)
        return visitor

    yield create
    errors = [error for visitor in visitors for error in visitor.errors]
    assert not errors, errors


# -- the test site with a consent log of its own --------------------------------------


@dataclass
class LoggedSite:
    """The gated test site writing its consent log to a SQLite file of its own."""

    base_url: str
    app: Any
    dsn: str

    def records(self) -> list[ConsentRecord]:
        """Every record so far, once the log's writer has written out its queue."""
        assert self.app.log.flush(10)
        store = open_store(self.dsn)
        try:
            return list(store.records())
        finally:
            store.close()


@pytest.fixture(scope="module")
def logged_site(
    gate_site: ModuleType, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LoggedSite]:
    dsn = f"sqlite:///{tmp_path_factory.mktemp('log') / 'log.sqlite3'}"
    policy = dataclasses.replace(Policy.default(), log=LogSettings(dsn=dsn))
    app = gate_site.create_site(policy)
    with serve(app) as base_url:
        yield LoggedSite(base_url, app, dsn)


# -- the banner's design: a plain page under any policy ----------------------------------

OpenPage = Callable[..., Page]


@pytest.fixture
def open_banner_page(live: LiveServer, make_context: ContextFactory) -> OpenPage:
    """``open_banner_page(policy, viewport=..., lang=..., color_scheme=...)``: the loaded page
    of `banner_pages.design_site`, with motion reduced so what is measured has settled."""
    from banner_pages import LAPTOP, design_site

    def open_(
        policy: dict[str, Any] | None = None,
        *,
        viewport: dict[str, int] = LAPTOP,
        lang: str = "en",
        color_scheme: str = "light",
        extra_body: str = "",
    ) -> Page:
        context, _ = make_context(
            live(design_site(policy or {}, lang, extra_body)),
            viewport=viewport,
            color_scheme=color_scheme,
            reduced_motion="reduce",
            extra_http_headers={"Accept-Language": lang},
        )
        page = context.new_page()
        page.goto("/")
        page.wait_for_function("() => window.consentGate !== undefined")
        return page

    return open_
