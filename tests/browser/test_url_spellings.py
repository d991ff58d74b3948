"""Every spelling of a tracker's address that Chromium fetches is held until consent.

(Also what inline scripts spell with escapes and joined strings, `Link` preload headers and a
page served without a Content-Type.)

The page writes the Meta pixel and the Google tag in the ways the WHATWG URL standard lets a
browser read them (no slashes, tabs and newlines, backslashes, character references, full-width
and ideographic dots, percent-encoded hosts, user info, ports), through every attribute that
loads something, behind a `<base href>` on a tracker and inside frames' own documents. Chromium
must send none of them before a choice, and load the held ones once "Accept all" is clicked.
"""

from __future__ import annotations

import base64
import html
import time
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consent_gate import ConsentGate, Policy

if TYPE_CHECKING:
    from conftest import LiveServer, Visitor, VisitorFactory

# Each spells https://www.facebook.com/tr?id=<n> (n: its place in the list).
PIXELS = [
    "https:www.facebook.com/tr?id={n}",
    "https:///www.facebook.com/tr?id={n}",
    "https:/\t/www.face\nbook.com/tr?id={n}",
    "ht\ttps://www.facebook.com/tr?id={n}",
    "\x01 https://www.facebook.com/tr?id={n} \x02",
    "https:\\\\www.facebook.com\\tr?id={n}",
    "https://www&#46;facebook&period;com/tr?id={n}",
    "https:&sol;&sol;www.facebook.com/tr?id={n}",
    "https&colon;//www.facebook.com/tr?id={n}",
    "https://www.facebook\u3002com/tr?id={n}",
    "https://www\uff0efacebook\uff61com/tr?id={n}",
    "https://\uff57\uff57\uff57.facebook.com/tr?id={n}",
    "https://www.facebook%2ecom/tr?id={n}",
    "HTTPS://WWW.FACEBOOK.COM/tr?id={n}",
    "https://x@www.facebook.com/tr?id={n}",
    "https://www.facebook.com.:443/tr?id={n}",
    "//www.facebook.com/tr?id={n}",
]
GTAG = "https:www.googletagmanager.com/gtag/js?id=G-SPELT"
FRAME_DOC = '<img src="https://www.facebook.com/tr?id=frame">'
LOADS = [
    '<a id="pinged" href="#clicked" ping="https://www.facebook.com/tr?id=ping">Go</a>',
    '<table background="https://www.facebook.com/tr?id=table"><tr><td>cell</td></tr></table>',
    '<svg width="1" height="1"><image href="https://www.facebook.com/tr?id=svg"/></svg>',
    '<video poster="https://www.facebook.com/tr?id=poster"></video>',
    '<input type="image" alt="" src="https://www.facebook.com/tr?id=input">',
    '<link rel="preload" as="image" href="https://www.facebook.com/tr?id=preload">',
    '<link rel="prefetch" href="https://www.facebook.com/tr?id=prefetch">',
    f'<iframe srcdoc="{html.escape(FRAME_DOC)}"></iframe>',
    f'<iframe src="data:text/html;base64,{base64.b64encode(FRAME_DOC.encode()).decode()}">'
    "</iframe>",
    f'<iframe src="data:text/html,{quote(FRAME_DOC)}"></iframe>',
    '<meta http-equiv="refresh" content="0; url=https://www.facebook.com/tr?id=refresh">',
    '<div style="width: 2px; height: 2px; background: u\\72l(https:www.facebook.com/tr?id=style)">'
    "</div>",
]


INLINE = [
    # JSON-style escapes, \x and \u escapes, and a tag split across joined strings.
    "<script>(function(){var s=document.createElement('script');"
    "s.src='https:\\/\\/www.googletagmanager.com\\x2fgtag/js?id=G-ESC';"
    "document.head.appendChild(s)})();</script>",
    "<script>document.body.insertAdjacentHTML('beforeend', '<i'+'mg alt=\"\" "
    "src=\"https://ad.double'+'click.net/ddm/x.gif\">')</script>",
    "<script>var i=new Image();i.src='https://js.hs-analytics.net/analytics/'+Date.now()+'/1.js';"
    "</script>",
]


SHEET = (
    '.sheet { width: 2px; height: 2px; background: url("HTTPS://www.facebook.com/tr?a&id=sheet") }'
    " .sheet::after { content: '<b>&amp;</b>' }"
)
"""Held whole, and put back byte for byte ("&" and quotes included) on consent."""


def page() -> str:
    pixels = "".join(
        f'<img alt="" width="1" height="1" src="{spelling.format(n=n)}">'
        for n, spelling in enumerate(PIXELS)
    )
    return (
        "<!doctype html><html lang='en'><head><title>Spellings</title>"
        # On a tracker: the page's own relative URLs (the gate's banner.js) would go there.
        '<base href="https://www.googletagmanager.com/">'
        f'<script async src="{GTAG}"></script>'
        f"<style id='sheet'>{SHEET}</style>"
        "</head><body><h1 id='title'>Spellings</h1><div class='sheet'></div>"
        f"{pixels}{''.join(LOADS)}{''.join(INLINE)}</body></html>"
    )


def spellings_app() -> ConsentGate:
    async def home(request: Request) -> HTMLResponse:
        link = "<https://connect.facebook.net/en_US/fbevents.js>; rel=preload; as=script"
        return HTMLResponse(page(), headers={"Link": link})

    async def untyped(request: Request) -> Response:
        # No Content-Type: Chromium sniffs it as HTML and renders it.
        return Response(page().encode(), headers={"Content-Type": ""})

    app = Starlette(routes=[Route("/", home), Route("/untyped", untyped)])
    return ConsentGate(app, secret_key="url-spellings-browser-secret", policy=Policy.default())


def pixel_ids(visitor: Visitor) -> set[str]:
    """Which pixels Chromium requested (a host with a trailing dot is the same host)."""
    return {
        hit.url.partition("id=")[2]
        for hit in visitor.recorder.hits
        if hit.host.rstrip(".") == "www.facebook.com" and "/tr?" in hit.url
    }


@pytest.mark.browser
@pytest.mark.parametrize(("javascript", "path"), [(True, "/"), (False, "/"), (True, "/untyped")])
def test_no_spelling_of_a_tracker_loads_before_a_choice(
    live: LiveServer, visit: VisitorFactory, javascript: bool, path: str
) -> None:
    visitor = visit(live(spellings_app()), javascript_enabled=javascript)

    visitor.page.goto(path)
    if javascript:
        visitor.wait_for_banner_script()  # its relative URL stayed on the site
    visitor.page.locator("#pinged").click()
    visitor.page.wait_for_timeout(500)

    assert visitor.recorder.hits == []
    assert visitor.page.url.endswith(f"{path}#clicked")  # the refresh did not leave the page
    assert visitor.banner.is_visible()


@pytest.mark.browser
def test_accept_all_loads_every_held_spelling(live: LiveServer, visit: VisitorFactory) -> None:
    visitor = visit(live(spellings_app()))
    visitor.load("/")
    assert visitor.recorder.hits == []

    visitor.banner.get_by_role("button", name="Accept all").click()

    for host in ("www.googletagmanager.com", "ad.doubleclick.net", "js.hs-analytics.net"):
        visitor.recorder.wait_for(host)
    expected = {str(n) for n in range(len(PIXELS))}
    expected |= {"svg", "poster", "input", "preload", "style", "sheet"}
    deadline = time.monotonic() + 10
    while not expected <= pixel_ids(visitor) and time.monotonic() < deadline:
        visitor.page.wait_for_timeout(100)
    assert sorted(expected - pixel_ids(visitor)) == []
    assert visitor.page.text_content("#title") == "Spellings"
    assert visitor.page.text_content("style#sheet") == SHEET
    # Read only while the page is parsed: served whole after a reload, never set mid-page.
    assert visitor.page.locator("base[data-cg-category]").count() == 1
