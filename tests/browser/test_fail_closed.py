"""HTML the gate cannot rewrite is not passed on as it came: the browser is told to hold back
what the rewriter would have.

A UTF-16 page cannot be rewritten as ASCII bytes; it goes out unchanged with an enforced CSP
built from the visitor's consent, whatever the CSP mode, so neither its tracker script nor its
inline loader runs, and its pixel never loads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from consent_gate import ConsentGate, Policy

if TYPE_CHECKING:
    from conftest import LiveServer, VisitorFactory

PAGE = (
    "\ufeff<!doctype html><html lang='en'><head><title>Wide</title>"
    '<script async src="https://www.googletagmanager.com/gtag/js?id=G-WIDE"></script>'
    "<script>window.__inline = true;</script>"
    "</head><body><h1 id='title'>Wide page</h1>"
    '<img src="https://www.facebook.com/tr?id=1&ev=PageView" width="1" height="1">'
    "</body></html>"
)


def wide_app() -> ConsentGate:
    async def home(request: Request) -> Response:
        return Response(PAGE.encode("utf-16-le"), media_type="text/html")

    app = Starlette(routes=[Route("/", home)])
    return ConsentGate(app, secret_key="fail-closed-secret", policy=Policy.default())


@pytest.mark.browser
def test_a_page_that_cannot_be_rewritten_runs_no_tracker(
    live: LiveServer, visit: VisitorFactory
) -> None:
    base_url = live(wide_app())
    visitor = visit(base_url)
    served = visitor.served()

    response = visitor.page.goto("/")
    visitor.page.wait_for_timeout(500)

    assert response is not None
    assert "content-security-policy" in response.headers
    assert visitor.page.text_content("#title") == "Wide page"  # the page itself still shows
    assert visitor.page.evaluate("() => window.__inline") is None
    assert served == []
