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


def wide_app(media: str = "text/html", *, bom: bool = True) -> ConsentGate:
    body = (PAGE if bom else PAGE.lstrip("\ufeff")).encode("utf-16-le")

    async def home(request: Request) -> Response:
        return Response(body, headers={"content-type": media})

    app = Starlette(routes=[Route("/", home)])
    return ConsentGate(app, secret_key="fail-closed-secret", policy=Policy.default())


@pytest.mark.browser
@pytest.mark.parametrize(
    "media",
    [
        "text/html",  # the page's BOM says UTF-16
        # Chromium decodes each as UTF-16 (the BOM dropped): a quoted value ends at its
        # closing quote, escapes undone. The gate read no charset in them and rewrote as ASCII.
        'text/html; charset="utf-16le" x',
        'text/html; charset="utf-16le"x',
        'text/html; charset="utf\\-16le"',
    ],
)
def test_a_page_that_cannot_be_rewritten_runs_no_tracker(
    live: LiveServer, visit: VisitorFactory, media: str
) -> None:
    base_url = live(wide_app(media, bom=media == "text/html"))
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


# XML a browser renders as a document loads what its XHTML, SVG or XSLT names; the gate cannot
# rewrite it. Each holds a pixel and a tag manager's script.
XHTML_IN_XML = (
    b'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>x</title>'
    b'<script src="https://www.googletagmanager.com/gtag/js?id=G-XML"></script></head>'
    b'<body><h1 id="title">XML page</h1>'
    b'<img src="https://www.facebook.com/tr?id=1&amp;ev=Xml" width="1" height="1"/></body></html>'
)
SVG_DOCUMENT = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="60">'
    b'<text id="title" x="10" y="30">XML page</text>'
    b'<image width="1" height="1" href="https://www.facebook.com/tr?id=1&amp;ev=Svg"/>'
    b'<script href="https://www.googletagmanager.com/gtag/js?id=G-SVG"></script></svg>'
)
XML_DOCUMENTS = [
    ("text/xml", XHTML_IN_XML),
    ("application/xml", XHTML_IN_XML),
    ("image/svg+xml", SVG_DOCUMENT),
]


def xml_app(media: str, body: bytes, *, gated: bool) -> Starlette | ConsentGate:
    async def document(request: Request) -> Response:
        return Response(body, media_type=media)

    async def home(request: Request) -> Response:
        page = b'<!doctype html><html><body><img id="logo" src="/doc"></body></html>'
        return Response(page, media_type="text/html")

    app = Starlette(routes=[Route("/doc", document), Route("/", home)])
    return (
        ConsentGate(app, secret_key="fail-closed-secret", policy=Policy.default()) if gated else app
    )


@pytest.mark.browser
@pytest.mark.parametrize(("media", "body"), XML_DOCUMENTS, ids=[m for m, _ in XML_DOCUMENTS])
def test_an_xml_document_opened_as_a_page_runs_no_tracker(
    live: LiveServer, visit: VisitorFactory, media: str, body: bytes
) -> None:
    """Ungated, the document reaches both trackers; through the gate it is sent unchanged under
    an enforced CSP, and its content still shows."""
    for gated in (False, True):
        visitor = visit(live(xml_app(media, body, gated=gated)))
        served = visitor.served()

        visitor.page.goto("/doc")
        visitor.page.wait_for_timeout(500)

        assert visitor.page.text_content("#title") == "XML page"
        hosts = {url.split("/")[2] for url in served}
        if gated:
            assert served == []
        else:  # the trick is real: Chromium does load both
            assert hosts >= {"www.facebook.com", "www.googletagmanager.com"}


@pytest.mark.browser
def test_an_svg_shown_as_an_image_is_left_alone(live: LiveServer, visit: VisitorFactory) -> None:
    """As an `<img>`, an SVG loads nothing; it goes out as the app sent it (cacheable)."""
    visitor = visit(live(xml_app("image/svg+xml", SVG_DOCUMENT, gated=True)))
    with visitor.page.expect_response("**/doc") as logo:
        visitor.page.goto("/")
    assert "content-security-policy" not in logo.value.headers
    assert "cache-control" not in logo.value.headers
    assert visitor.page.evaluate("() => document.getElementById('logo').naturalWidth") == 200


# Content-Type values Chromium reads as HTML though they spell no "text/html": the type ends at
# white space, ";" or "(" (`text/html x`), and a value with no "/" before that names no type,
# so the body is sniffed (`text /html`). The gate took each for a type that is no page.
ODD_TYPES = ["text/html x", "text/html(x)", "text/html\tx", "text /html", "text / html",
             ";text/html", "te(xt/html", "a b/c",
             # A quote opens a quoted string wherever it is: its comma separates no types.
             'text/html; x="a, text/plain"', 'text/html; x=a", text/plain']  # fmt: skip


@pytest.mark.browser
@pytest.mark.parametrize("media", ODD_TYPES)
def test_a_content_type_browsers_read_as_html_is_rewritten(
    live: LiveServer, visit: VisitorFactory, media: str
) -> None:
    async def home(request: Request) -> Response:
        return Response(PAGE.lstrip("\ufeff").encode(), headers={"content-type": media})

    app = Starlette(routes=[Route("/", home)])
    base_url = live(ConsentGate(app, secret_key="fail-closed-secret", policy=Policy.default()))
    visitor = visit(base_url)
    served = visitor.served()

    visitor.page.goto("/")
    visitor.page.wait_for_timeout(500)

    assert visitor.page.evaluate("() => document.contentType") == "text/html"
    assert visitor.page.evaluate("() => window.__inline") is True  # a page, its scripts run
    assert visitor.banner.is_visible()  # rewritten: the banner asks
    assert served == []
