"""Pages an app streams in small pieces, in a real Chromium: a template that sends a lone
newline first is gated as the page it is (banner, head scripts, trackers held), whether it
names its type or the browser sniffs it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from consent_gate import ConsentGate

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import LiveServer, VisitorFactory

SECRET = "streamed-pages-browser-test-secret"
PIECES = [
    b"\n",
    b'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Streamed</title>',
    b'<script async src="https://www.googletagmanager.com/gtag/js?id=G-STREAM"></script>',
    b"</head><body><h1>Streamed</h1>",
    # A pixel made at run time: only the head script (the run-time gate) holds it.
    b"<script>new Image().src = 'https://www.facebook.com/tr?id=1&ev=PageView';</script>",
    b"</body></html>",
]


async def _pieces() -> AsyncIterator[bytes]:
    for piece in PIECES:
        yield piece


async def typed(request: Request) -> StreamingResponse:
    return StreamingResponse(_pieces(), media_type="text/html")


async def untyped(request: Request) -> StreamingResponse:
    return StreamingResponse(_pieces())  # no Content-Type: Chromium sniffs it as HTML


@pytest.fixture(scope="module")
def app() -> ConsentGate:
    routes = [Route("/typed", typed), Route("/untyped", untyped)]
    return ConsentGate(Starlette(routes=routes), secret_key=SECRET)


@pytest.mark.parametrize("path", ["/typed", "/untyped"])
def test_a_page_streamed_newline_first_holds_its_trackers_until_accept_all(
    live: LiveServer, visit: VisitorFactory, app: ConsentGate, path: str
) -> None:
    visitor = visit(live(app))
    visitor.load(path)
    expect(visitor.banner).to_be_visible()
    visitor.page.wait_for_timeout(500)
    assert not visitor.recorder.hits_to("googletagmanager.com")
    assert not visitor.recorder.hits_to("facebook.com")

    visitor.banner.get_by_role("button", name="Accept all").click()
    visitor.page.wait_for_function(
        "() => performance.getEntriesByType('resource')"
        ".some((entry) => entry.name.includes('facebook.com/tr'))"
    )
    assert visitor.recorder.hits_to("googletagmanager.com")
    assert visitor.recorder.hits_to("facebook.com")
