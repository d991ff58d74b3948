"""Markup that once slipped trackers past the rewriter, loaded in Chromium: the rewriter must read
the tags the browser reads.

Each page hides a Google Analytics pixel where an approximate tokenizer lost track: after a ">"
inside a quoted value, inside SVG's or MathML's <style>, <title> or <script> (no raw text in
foreign content), after an HTML "<script/>" (whose "/" closes nothing). Before a choice the
browser must not even try the tracker; after "Accept all" the same page view loads it. The
head script must run first even when the page arrives cut inside a conditional comment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from consent_gate import ConsentGate
from consent_gate.html.rewriter import MAX_TAG

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import LiveServer, VisitorFactory

PIXEL = "https://www.google-analytics.com/collect?v=1&amp;t=pageview&amp;leak={}"
HEAD = '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Leaks</title></head>'
PAGES = {
    "quoted-gt": f'<img alt="Next >" src="{PIXEL.format("quoted-gt")}">',
    "quoted-gt-single": f"<img alt='>' title=\"a=b\" src={PIXEL.format('single')}>",
    "svg-style": f'<svg><style><img src="{PIXEL.format("svg-style")}"></style></svg>',
    "math-title": f'<math><title><img src="{PIXEL.format("math-title")}"></title></math>',
    "svg-script-text": f'<svg><script><img src="{PIXEL.format("svg-script")}"></script></svg>',
    # In HTML "/>" does not close a script: its text runs to "</script>", not into a <style>.
    "script-slash": f'<script/>/*<style>*/</script><img src="{PIXEL.format("slash")}">',
}
SVG_SCRIPT = (
    '<svg><script href="https://www.googletagmanager.com/gtag/js?id=G-SVG"/><desc>icon</desc></svg>'
)
PAD_CHUNK = 64 * 1024
RECORD = "(window.__order = window.__order || []).push({!r});"
# The page as an app may stream it: the first chunk ends inside a conditional comment.
CUT_IN_COMMENT = (
    '<!doctype html><html lang="en"><head><!--[if lt IE 9]><script src="/html5shiv.js"></script>'
    '\n<link rel="stylesheet" href="/ie.css">\n',
    "<![endif]-->"
    f"<script>{RECORD.format('page')}</script><title>t</title></head><body><p>Hi</p></body>",
)


def _app() -> ConsentGate:
    async def page(request: Request) -> Response:
        name = request.path_params["name"]
        body = SVG_SCRIPT if name == "svg-script" else PAGES[name]
        return HTMLResponse(f"{HEAD}<body><h1>Leaks</h1>{body}<p>end</p></body></html>")

    async def streamed(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            for chunk in CUT_IN_COMMENT:
                yield chunk.encode()

        return StreamingResponse(chunks(), media_type="text/html")

    async def padded(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            yield f"{HEAD}<body><h1>Leaks</h1>".encode()
            yield f'<img src="{PIXEL.format("padded")}" data-pad="'.encode()
            for _ in range(2 * MAX_TAG // PAD_CHUNK):
                yield b"A" * PAD_CHUNK
            yield b'"><p id="after">end</p></body></html>'

        return StreamingResponse(chunks(), media_type="text/html")

    routes = [Route("/streamed", streamed), Route("/padded", padded), Route("/{name}", page)]
    gate = ConsentGate(Starlette(routes=routes), secret_key="tokenizer-leaks-browser-secret")
    gate.head.add(lambda consent: RECORD.format("gate"))
    return gate


@pytest.mark.parametrize("name", list(PAGES))
def test_a_hidden_pixel_waits_for_consent_then_loads(
    live: LiveServer, visit: VisitorFactory, name: str
) -> None:
    visitor = visit(live(_app()))
    visitor.load(f"/{name}")
    visitor.page.wait_for_load_state("load")

    assert visitor.recorder.hits_to("google-analytics.com") == []
    assert visitor.page.locator("img[data-cg-category=analytics]").count() == 1

    visitor.banner.get_by_role("button", name="Accept all").click()
    hit = visitor.recorder.wait_for("www.google-analytics.com")
    assert "leak=" in hit.url


def test_a_self_closed_svg_script_loads_nothing_before_consent(
    live: LiveServer, visit: VisitorFactory
) -> None:
    visitor = visit(live(_app()))
    visitor.load("/svg-script")
    visitor.page.wait_for_load_state("load")
    visitor.page.wait_for_timeout(300)

    assert visitor.recorder.hits == []
    held = visitor.page.locator("svg script[data-cg-category=analytics]")
    assert held.get_attribute("data-cg-href") == "https://www.googletagmanager.com/gtag/js?id=G-SVG"
    # "/>" closed it: the <desc> after it is the SVG's, not script text.
    assert visitor.page.locator("svg > desc").count() == 1


def test_the_head_script_runs_first_when_a_chunk_ends_in_a_comment(
    live: LiveServer, visit: VisitorFactory
) -> None:
    visitor = visit(live(_app()))
    visitor.load("/streamed")

    assert visitor.page.evaluate("() => window.__order") == ["gate", "page"]


def test_a_pixel_padded_past_the_longest_tag_examined_never_loads(
    live: LiveServer, visit: VisitorFactory
) -> None:
    """Streamed, its tag is still unfinished after 1 MiB: it goes on as text, not as a tag the
    rewriter never read (which loaded the pixel)."""
    visitor = visit(live(_app()))
    visitor.load("/padded")
    visitor.page.wait_for_load_state("load")
    visitor.page.wait_for_timeout(300)

    assert visitor.recorder.hits_to("google-analytics.com") == []
    assert visitor.page.locator("img").count() == 0
    assert visitor.page.text_content("#after") == "end"
