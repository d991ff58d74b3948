"""HTML the gate cannot rewrite is not passed on as it came: the browser is told to hold back
what the rewriter would have.

A UTF-16 page cannot be rewritten as ASCII bytes; it goes out unchanged with an enforced CSP
built from the visitor's consent, whatever the CSP mode, so neither its tracker script nor its
inline loader runs, and its pixel never loads.
"""

from __future__ import annotations

import gzip
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


# "ESC $ B" turns the "<!--" after it into two kanji in ISO-2022-JP: a gate that reads the page
# as ASCII takes the pixel for a comment, and the browser loads it.
HIDDEN = b'\x1b$B<!--\x1b(B<img src="https://www.facebook.com/tr?id=1&ev=Hidden"><p>-->'
WIDE_META = (
    b'<!doctype html><html><head><meta charset="iso-2022-jp"><title>t</title></head>'
    b"<body><h1 id='title'>Hidden</h1>" + HIDDEN + b"</body></html>"
)


@pytest.mark.browser
@pytest.mark.parametrize("label", ["bogus", "mac-roman", "latin-1", "utf-7", ""])
def test_a_header_charset_browsers_do_not_know_leaves_the_meta_in_charge(
    live: LiveServer, visit: VisitorFactory, label: str
) -> None:
    """A Content-Type charset that is no label of the Encoding standard is ignored by browsers,
    which then decode as the page's `<meta>` says. The gate took such a header charset (one
    Python knows, or any) as deciding, rewrote the page as ASCII and let the pixel through."""

    async def home(request: Request) -> Response:
        headers = {"content-type": f"text/html; charset={label}"}
        return Response(WIDE_META, headers=headers)

    app = Starlette(routes=[Route("/", home)])
    base_url = live(ConsentGate(app, secret_key="fail-closed-secret", policy=Policy.default()))
    visitor = visit(base_url)
    served = visitor.served()

    visitor.page.goto("/")
    visitor.page.wait_for_timeout(500)

    assert visitor.page.evaluate("() => document.characterSet") == "ISO-2022-JP"
    assert served == []


@pytest.mark.browser
def test_a_page_gzipped_twice_in_two_header_lines_runs_no_tracker(
    live: LiveServer, visit: VisitorFactory
) -> None:
    """Two `Content-Encoding: gzip` lines: Chromium undoes both. The gate read the first line
    only, undid one layer, found no markup in the gzip bytes left and passed them on with a
    report-only policy: the page's pixel loaded. Read together ("gzip, gzip"), the coding is
    one the gate does not undo, and the page goes out locked."""

    async def home(request: Request) -> Response:
        body = gzip.compress(gzip.compress(PAGE.lstrip("\ufeff").encode()))
        response = Response(body, media_type="text/html")
        response.raw_headers += [(b"content-encoding", b"gzip"), (b"content-encoding", b"gzip")]
        return response

    app = Starlette(routes=[Route("/", home)])
    base_url = live(ConsentGate(app, secret_key="fail-closed-secret", policy=Policy.default()))
    visitor = visit(base_url)
    served = visitor.served()

    visitor.page.goto("/")
    visitor.page.wait_for_timeout(500)

    assert visitor.page.text_content("#title") == "Wide page"  # Chromium did undo both layers
    assert visitor.page.evaluate("() => window.__inline") is None
    assert served == []
