"""The gate's head scripts run before any script of the page, whatever shape the page has."""

from __future__ import annotations

import gzip
from typing import TYPE_CHECKING

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consent_gate import ConsentGate

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import ContextFactory, LiveServer

RECORD = "(window.__order = window.__order || []).push({!r});"
PAGES = {
    "full": (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<script>{RECORD.format('head')}</script><title>t</title></head>"
        f"<body><script>{RECORD.format('body')}</script></body></html>"
    ),
    "no-head": f"<!doctype html><html><body><script>{RECORD.format('body')}</script></body></html>",
    "doctype-only": (
        f"<!doctype html><script>{RECORD.format('first')}</script><p>No html, head or body.</p>"
    ),
    "comments": (
        "<!-- <script>not a script</script> --><!DOCTYPE html><!-- build 42 -->"
        f"<html><head ><script>{RECORD.format('head')}</script>"
    ),
}


FRAGMENT = f"<script>{RECORD.format('first')}</script><p>No doctype, html, head or body.</p>"


def _app() -> ConsentGate:
    async def page(request: Request) -> Response:
        html = {**PAGES, "fragment": FRAGMENT}[request.path_params["name"]]
        if request.query_params.get("gzip"):
            return Response(
                gzip.compress(html.encode()),
                media_type="text/html",
                headers={"content-encoding": "gzip"},
            )
        return HTMLResponse(html)

    gate = ConsentGate(Starlette(routes=[Route("/{name}", page)]), "head-test")
    gate.head.add(lambda consent: RECORD.format("gate"))
    return gate


@pytest.mark.parametrize("name", list(PAGES))
@pytest.mark.parametrize("gzipped", [False, True])
def test_the_gate_runs_first(
    live: LiveServer, make_context: ContextFactory, name: str, gzipped: bool
) -> None:
    base = live(_app())
    context, _ = make_context(base)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"/{name}" + ("?gzip=1" if gzipped else ""))
    order = page.evaluate("() => window.__order")
    assert order[0] == "gate"
    assert len(order) > 1  # and the page's own scripts still ran after it
    assert errors == []
    # A doctype stays first, so the page is not in quirks mode.
    if "<!DOCTYPE" in PAGES[name].upper():
        assert page.evaluate("() => document.compatMode") == "CSS1Compat"


def test_a_fragment_gets_no_head_script(live: LiveServer, make_context: ContextFactory) -> None:
    """Markup with no doctype, `<html>`, `<head>` or `<body>` is a part of a page (an htmx swap):
    the page it lands in has the gate's scripts already."""
    context, _ = make_context(live(_app()))
    page = context.new_page()
    page.goto("/fragment")
    assert page.evaluate("() => window.__order") == ["first"]
