"""The README's framework recipes, served as they stand by a real uvicorn and visited in Chromium.

tests/test_recipes.py checks each recipe's responses in-process; this checks what a visitor
sees: the banner, nothing tracking before a choice, "Reject all" kept, "Accept all" loading the
Google tag in the same page view, the gate's pages reachable through the framework's routing, and
the view reading the choice (each recipe's page says "Analytics: on" or "off").
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from playwright.sync_api import expect

from test_recipes import FRAMEWORKS, Recipe, recipes

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import Visitor, VisitorFactory

GTAG_URL = "https://www.googletagmanager.com/gtag/js?id=G-XXXXXXXXXX"
# What `uvicorn MODULE:APP` does, on a socket the test bound (so no other server can take the port).
RUN = (
    "import socket, sys, uvicorn\n"
    "sock = socket.socket(fileno=int(sys.argv[1]))\n"
    "uvicorn.Server(uvicorn.Config(sys.argv[2], log_level='warning')).run(sockets=[sock])\n"
)


@contextlib.contextmanager
def serve_recipe(recipe: Recipe, directory: Path) -> Iterator[str]:
    """Serve the recipe's file under uvicorn in its own interpreter; yield its base URL.

    A process of its own per app: Django's settings are configured once per process.
    """
    (directory / f"{recipe.module}.py").write_text(recipe.code)
    log = directory / "uvicorn.log"
    with socket.socket() as sock, log.open("w") as out:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        env = {**os.environ, "CONSENT_GATE_SECRET": "frameworks-secret-0123456789abcdefghij"}
        server = subprocess.Popen(
            [sys.executable, "-c", RUN, str(sock.fileno()), f"{recipe.module}:{recipe.app}"],
            cwd=directory,
            env=env,
            pass_fds=[sock.fileno()],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_serving(base_url, server, log)
            yield base_url
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_until_serving(base_url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    """The socket accepts at once; the first answer comes once the app has been imported."""
    deadline = time.monotonic() + 30
    while server.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            httpx.get(f"{base_url}/consent-gate/policy", timeout=5)
            return
        time.sleep(0.1)
    pytest.fail(f"uvicorn did not serve the recipe:\n{log.read_text()}")


def analytics_said(visitor: Visitor) -> str:
    """What the app's own view read from `consent_of(request)`."""
    return visitor.page.get_by_text("Analytics:").inner_text()


def open_as_undecided(visitor: Visitor) -> None:
    """Open the home page; the banner asks (checked before waiting on banner.js, which an
    ungated page never loads) and nothing has tracked."""
    visitor.page.goto("/")
    banner = visitor.banner
    expect(banner).to_be_visible()
    visitor.wait_for_banner_script()  # deferred: whatever it does on start-up has happened
    accept = banner.get_by_role("button", name="Accept all", exact=True)
    reject = banner.get_by_role("button", name="Reject all", exact=True)
    expect(accept).to_be_visible()
    expect(reject).to_be_visible()
    expect(visitor.customize).to_be_visible()
    accept_box, reject_box = accept.bounding_box(), reject.bounding_box()
    assert accept_box is not None
    assert reject_box is not None
    assert (accept_box["width"], accept_box["height"]) == (
        reject_box["width"],
        reject_box["height"],
    )
    assert visitor.recorder.hits == []
    assert visitor.tracker_runs() == []
    assert visitor.page.locator(f'script[data-cg-src="{GTAG_URL}"]').count() == 1  # held back
    assert analytics_said(visitor) == "Analytics: off"


def open_gate_page(visitor: Visitor, path: str) -> str:
    """The gate's page, not the framework's 404; returns the consent id it shows the visitor."""
    response = visitor.page.goto(path)
    assert response is not None
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    ids = visitor.page.locator("#cg-consent-id")
    return ids.inner_text() if ids.count() else ""


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_the_recipe_gates_its_page_in_the_browser(
    framework: str, tmp_path: Path, visit: VisitorFactory
) -> None:
    with serve_recipe(recipes()[framework], tmp_path) as base_url:
        visitor = visit(base_url)
        page = visitor.page
        # The gate's pages answer through the framework's routing (its assets live there too).
        assert open_gate_page(visitor, "/consent-gate/policy") == ""
        assert open_gate_page(visitor, "/consent-gate/preferences") == ""

        open_as_undecided(visitor)

        # "Reject all" is kept: no banner on the next page view, nothing loaded, the view knows.
        visitor.banner.get_by_role("button", name="Reject all", exact=True).click()
        expect(visitor.banner).to_have_count(0)
        visitor.load("/")
        expect(visitor.banner).to_have_count(0)
        assert analytics_said(visitor) == "Analytics: off"
        consent_id = open_gate_page(visitor, "/consent-gate/policy")  # they read the cookie
        assert consent_id
        assert open_gate_page(visitor, "/consent-gate/preferences") == consent_id
        assert visitor.recorder.hits == []

        # A new visitor in the same browser: "Accept all" loads the tag in this page view.
        visitor.context.clear_cookies()
        open_as_undecided(visitor)
        visitor.mark_page_view()
        visitor.banner.get_by_role("button", name="Accept all", exact=True).click()
        assert visitor.recorder.wait_for("www.googletagmanager.com").url == GTAG_URL
        page.wait_for_function("(u) => (window.__cgTrackerRuns || []).includes(u)", arg=GTAG_URL)
        visitor.assert_same_page_view(f"{base_url}/")
        expect(visitor.banner).to_have_count(0)
        visitor.recorder.wait_for("www.google-analytics.com")  # the tag's own beacon

        visitor.load("/")
        assert analytics_said(visitor) == "Analytics: on"
        expect(visitor.banner).to_have_count(0)
        assert page.locator(f'script[src="{GTAG_URL}"]').count() == 1  # straight from the server
