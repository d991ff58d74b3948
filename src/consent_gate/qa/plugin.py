"""A pytest plugin for testing gated sites (registered as `consent_gate` through `pytest11`).

Fixtures:

- `consent_cookie(analytics=True, ...)`: a signed consent cookie for any choice, made with the
  site's secret (`--consent-gate-secret` or `CONSENT_GATE_SECRET`) and policy
  (`--consent-gate-policy`); start a browser "as if the visitor had already chosen".
- `tracking_context(base_url, consent=None)`: a fresh Chromium context whose third-party requests
  are recorded (and answered by local stubs); returns `(context, recorder)`.
- `consent_gate_browser`: the session's Chromium (Debian's, Playwright's, or
  `CONSENT_GATE_CHROMIUM`).

Pair them with `consent_gate.qa.assert_no_tracking(page)` / `assert_tracked(page, "analytics")`.
Nothing here starts a browser unless a test asks for one of these fixtures.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Playwright

    from ..policy import Policy
    from .recorder import TrackerRecorder


@dataclass(frozen=True)
class ConsentCookie:
    """A signed consent cookie, ready for a request header or a browser context."""

    name: str  # the policy's name; https sites use it with the `__Host-` prefix
    value: str

    def header(self, url: str) -> str:
        """The cookie as a `Cookie` request header for a site at `url`."""
        return f"{self._name(url)}={self.value}"

    def for_url(self, url: str) -> dict[str, Any]:
        """The cookie as Playwright's `context.add_cookies()` takes it."""
        parts = urlsplit(url)
        return {
            "name": self._name(url),
            "value": self.value,
            "url": f"{parts.scheme}://{parts.netloc}/",
            "httpOnly": True,
            "secure": parts.scheme == "https",
            "sameSite": "Lax",
        }

    def _name(self, url: str) -> str:
        from ..cookies import HOST_PREFIX

        return HOST_PREFIX + self.name if urlsplit(url).scheme == "https" else self.name


ConsentCookieFactory = Callable[..., ConsentCookie]
TrackingContextFactory = Callable[..., "tuple[BrowserContext, TrackerRecorder]"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("consent-gate", "consent_gate QA toolkit")
    group.addoption(
        "--consent-gate-secret",
        default=None,
        help="the site's ConsentGate secret_key, to sign consent cookies (or CONSENT_GATE_SECRET)",
    )
    group.addoption(
        "--consent-gate-policy",
        default=None,
        help="the site's policy TOML (default: the built-in policy)",
    )


@pytest.fixture(scope="session")
def consent_gate_policy(pytestconfig: pytest.Config) -> Policy:
    """The site's policy: categories, services and the consent cookie's name."""
    from ..policy import Policy

    path = pytestconfig.getoption("consent_gate_policy")
    return Policy.from_toml(path) if path else Policy.default()


@pytest.fixture
def consent_cookie(
    pytestconfig: pytest.Config, consent_gate_policy: Policy
) -> ConsentCookieFactory:
    """`consent_cookie(analytics=True)`, `consent_cookie(accept_all=True)`, ..."""
    secret = pytestconfig.getoption("consent_gate_secret") or os.environ.get("CONSENT_GATE_SECRET")

    def make(
        *,
        accept_all: bool = False,
        secret_key: str | None = None,
        policy: Policy | None = None,
        **choices: bool,
    ) -> ConsentCookie:
        key = secret_key or secret
        if not key:
            raise pytest.UsageError(
                "consent_cookie needs the site's secret: --consent-gate-secret, "
                "CONSENT_GATE_SECRET, or consent_cookie(secret_key=...)"
            )
        site_policy = policy or consent_gate_policy
        optional = site_policy.optional_categories
        unknown = sorted(set(choices) - set(optional))
        if unknown:
            raise pytest.UsageError(
                f"unknown categories {', '.join(unknown)}; the policy has {', '.join(optional)}"
            )
        accepted = set(optional) if accept_all else {c for c, on in choices.items() if on}
        from ..consent import ConsentCodec

        codec = ConsentCodec(key, site_policy)
        return ConsentCookie(site_policy.cookie_name, codec.dumps(codec.decide(accepted)))

    return make


@pytest.fixture(scope="session")
def consent_gate_playwright(request: pytest.FixtureRequest) -> Iterator[Playwright]:
    """Playwright for the session; pytest-playwright's own when it is installed, since a second
    sync Playwright in one thread fails ("Sync API inside the asyncio loop")."""
    if request.config.pluginmanager.has_plugin("playwright"):
        yield request.getfixturevalue("playwright")
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def consent_gate_browser(consent_gate_playwright: Playwright) -> Iterator[Browser]:
    from .browser import launch_chromium

    browser = launch_chromium(consent_gate_playwright)
    yield browser
    browser.close()


@pytest.fixture
def tracking_context(consent_gate_browser: Browser) -> Iterator[TrackingContextFactory]:
    """`tracking_context(base_url, consent=cookie, javascript_enabled=True)` -> (ctx, recorder)."""
    contexts: list[BrowserContext] = []

    def create(
        base_url: str,
        *,
        consent: ConsentCookie | None = None,
        stub: bool = True,
        **context_options: Any,
    ) -> tuple[BrowserContext, TrackerRecorder]:
        from .recorder import TrackerRecorder

        context = consent_gate_browser.new_context(base_url=base_url, **context_options)
        contexts.append(context)
        recorder = TrackerRecorder([base_url], stub=stub)
        recorder.attach(context)
        if consent is not None:
            context.add_cookies([consent.for_url(base_url)])  # type: ignore[list-item]
        return context, recorder

    yield create
    for context in contexts:
        context.close()
