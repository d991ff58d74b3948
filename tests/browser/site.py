"""A small gated site for the browser tests: real vendor snippets, first-party code, cookies.

``create_site()`` returns a Starlette app wrapped in ``ConsentGate``. Its pages carry the tracking
code of ``tests/data/snippets/`` exactly as vendors ship it (GA4 gtag, GTM, Meta Pixel, Hotjar,
YouTube embeds), plus first-party code that must keep working whatever the visitor chooses.

``TRACKER_SCRIPTS`` and ``TRACKER_COOKIES`` make the recorder's stubs behave like the real
trackers: the GA library sets ``_ga`` and sends a collect beacon, the Meta library sets ``_fbp``.

This file is loaded by ``conftest.py`` under another module name (``site`` is a stdlib module);
tests reach it through the ``gate_site`` fixture.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
from functools import cache
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from consent_gate import ConsentGate, Policy, consent_of
from consent_gate._types import ASGIApp

SNIPPETS = Path(__file__).resolve().parents[1] / "data" / "snippets"
SECRET = "browser-test-secret--not-a-secret"
PREFIX = "/consent-gate"
CONSENT_COOKIE = "consent_gate"

GTAG_URL = "https://www.googletagmanager.com/gtag/js?id=G-XXXXXXXXXX"
GTM_URL = "https://www.googletagmanager.com/gtm.js?id=GTM-XXXXXXX"
GTM_NOSCRIPT_URL = "https://www.googletagmanager.com/ns.html?id=GTM-XXXXXXX"
GA_COLLECT_URL = "https://www.google-analytics.com/g/collect?v=2&tid=G-XXXXXXXXXX&en=page_view"
FBEVENTS_URL = "https://connect.facebook.net/en_US/fbevents.js"
META_PIXEL_URL = "https://www.facebook.com/tr?id=1234567890&ev=PageView&noscript=1"
HOTJAR_URL = "https://static.hotjar.com/c/hotjar-1234567.js?sv=6"
STATS_LIB_URL = "https://cdn.stats.example/lib.js"
YOUTUBE_EMBED_URL = "https://www.youtube.com/embed/dQw4w9WgXcQ?si=AbCdEfGhIjKlMnOp"
YOUTUBE_API_URL = "https://www.youtube.com/iframe_api"

# Third-party hosts the pages reach once their category is allowed (JavaScript on).
ANALYTICS_HOSTS = frozenset(
    {
        "www.googletagmanager.com",  # gtag.js and gtm.js
        "www.google-analytics.com",  # the collect beacon the GA stub sends
        "static.hotjar.com",
        "cdn.stats.example",  # a library marked data-consent="analytics"
    }
)
MARKETING_HOSTS = frozenset(
    {
        "connect.facebook.net",  # fbevents.js
        "www.youtube.com",  # the embed and the IFrame Player API
        "www.youtube-nocookie.com",
        "i.ytimg.com",  # the video thumbnail
    }
)
# Only requested by <noscript> markup, i.e. with JavaScript off.
NOSCRIPT_HOSTS = frozenset({"www.googletagmanager.com", "www.facebook.com"})

# Cookies the stubbed trackers set: analytics _ga and _hjSessionUser_*, marketing _fbp.
ANALYTICS_COOKIES = frozenset({"_ga", "_hjSessionUser_1234567"})
MARKETING_COOKIES = frozenset({"_fbp"})
TRACKER_COOKIE_NAMES = ANALYTICS_COOKIES | MARKETING_COOKIES

TRACKER_SCRIPTS: dict[str, str] = {
    # googletagmanager.com serves both gtag.js (GA4) and gtm.js; only gtag.js is GA itself.
    "googletagmanager.com": (
        "(function () {\n"
        '  var src = (document.currentScript && document.currentScript.src) || "";\n'
        '  if (src.indexOf("/gtag/js") === -1) return;\n'
        '  document.cookie = "_ga=GA1.1.424242.1700000000; path=/; max-age=63072000";\n'
        f"  navigator.sendBeacon({json.dumps(GA_COLLECT_URL)});\n"
        "})();\n"
    ),
    "cdn.stats.example": 'window.StatsLib = {ready: true}; window.__order.push("lib");',
}
TRACKER_COOKIES: dict[str, list[str]] = {
    "connect.facebook.net": ["_fbp=fb.1.1700000000000.4242; path=/; max-age=7776000"],
    "hotjar.com": ["_hjSessionUser_1234567=eyJpZCI6IjQyIn0; path=/; max-age=31536000"],
}

APP_JS = """\
(function () {
  window.__firstParty = (window.__firstParty || 0) + 1;
  var status = document.getElementById("fp-status");
  if (status) status.textContent = "First-party script ran";
  var ping = document.getElementById("ping");
  if (ping) ping.addEventListener("click", function () {
    fetch("/api/ping", {method: "POST"})
      .then(function (response) { return response.json(); })
      .then(function (data) { document.getElementById("ping-result").textContent = data.answer; });
  });
})();
"""

# First-party inline code at the top of <head>: the gate must leave it alone.
_HEAD_START = """\
<script>window.__order = []; window.__firstPartyInline = true;</script>
"""
# A non-async library and the inline code that needs it, held back by explicit marking.
_MARKED_PAIR = f"""\
<script data-consent="analytics" src="{STATS_LIB_URL}"></script>
<script data-consent="analytics">
  window.__order.push(window.StatsLib ? "config-after-lib" : "config-before-lib");
</script>
"""
_FIRST_PARTY_BODY = """\
<p id="fp-status">First-party script did not run</p>
<img id="logo" src="/static/logo.gif" width="1" height="1" alt="">
<p><button id="ping" type="button">Ping the site</button> <output id="ping-result"></output></p>
<nav><a id="to-home" href="/">Home</a> <a id="to-next" href="/next">Next page</a>
<a id="to-form" href="/form">Contact form</a></nav>
"""
# Room to scroll any content above the (fixed) banner, as on a real page.
_FOOTER = '<footer style="min-height: 100vh"><p>Footer</p></footer>\n'
_APP_SCRIPT = '<script src="/static/app.js"></script>\n'

_LOGO_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


@cache
def snippet(name: str) -> tuple[str, str]:
    """The (head, body) markup of ``tests/data/snippets/<name>.html``, minus meta and title."""
    text = (SNIPPETS / f"{name}.html").read_text("utf-8")
    head = re.search(r"<head>(.*?)</head>", text, re.S)
    body = re.search(r"<body>(.*?)</body>", text, re.S)
    assert head is not None, name
    assert body is not None, name
    inner = re.sub(r"<meta charset[^>]*>|<title>.*?</title>", "", head.group(1))
    return inner.strip() + "\n", body.group(1).strip() + "\n"


def page(title: str, head: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n{head}</head>\n<body>\n"
        f'<h1 id="page-title">{html.escape(title)}</h1>\n{body}</body>\n</html>\n'
    )


def home_page() -> str:
    heads = [snippet(name)[0] for name in ("gtag", "gtm", "meta-pixel", "hotjar")]
    sections = [
        f'<section id="snippet-{name}">\n{snippet(name)[1]}</section>\n'
        for name in ("gtm", "gtag", "meta-pixel", "youtube-embed")
    ]
    return page(
        "Home",
        _HEAD_START + "".join(heads) + _MARKED_PAIR,
        _FIRST_PARTY_BODY + "".join(sections) + _FOOTER + _APP_SCRIPT,
    )


def next_page() -> str:
    heads = [snippet(name)[0] for name in ("gtag", "gtm", "meta-pixel")]
    embed = re.search(
        r"<iframe[^>]*www\.youtube\.com/embed[^>]*></iframe>", snippet("youtube-embed")[1]
    )
    assert embed is not None
    return page(
        "Next page",
        _HEAD_START + "".join(heads),
        snippet("gtm")[1].split("<h1>")[0]  # GTM's noscript iframe, without its demo content
        + _FIRST_PARTY_BODY
        + f'<section id="video">\n{embed.group(0)}\n</section>\n'
        + _APP_SCRIPT,
    )


def plain_page(title: str, body: str = "") -> str:
    return page(title, _HEAD_START, _FIRST_PARTY_BODY + body + _APP_SCRIPT)


def create_site(
    policy: Policy | None = None, revision: int = 1, secret_key: str = SECRET
) -> ASGIApp:
    """The gated test site; ``revision`` applies to the default policy (``policy=None``)."""
    if policy is None:
        policy = dataclasses.replace(Policy.default(), revision=revision)
    home, next_html = home_page(), next_page()

    async def index(request: Request) -> Response:
        return HTMLResponse(home)

    async def next_(request: Request) -> Response:
        return HTMLResponse(next_html)

    async def set_cookies(request: Request) -> Response:
        response = HTMLResponse(plain_page("Cookies set"))
        response.set_cookie("session", "s3ss10n", httponly=True, samesite="lax")
        response.set_cookie("_ga", "GA1.1.999.1700000000", max_age=63072000, httponly=True)
        return response

    async def form(request: Request) -> Response:
        if request.method == "POST":
            data = await request.form()
            name = str(data.get("name", ""))
            return RedirectResponse(f"/form?thanks={name}", status_code=303)
        thanks = request.query_params.get("thanks")
        message = f'<p id="thanks">Thanks, {html.escape(thanks)}!</p>\n' if thanks else ""
        body = (
            message + '<form id="contact" method="post" action="/form">'
            '<label>Name <input name="name"></label> <button>Send</button></form>\n'
        )
        return HTMLResponse(plain_page("Contact", body))

    async def private(request: Request) -> Response:
        return HTMLResponse(plain_page("Private"), headers={"referrer-policy": "no-referrer"})

    async def ping(request: Request) -> Response:
        consent = consent_of(request)
        return JSONResponse({"answer": "pong", "decided": consent.decided})

    async def app_js(request: Request) -> Response:
        return Response(APP_JS, media_type="application/javascript")

    async def logo(request: Request) -> Response:
        return Response(_LOGO_GIF, media_type="image/gif")

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/next", next_),
            Route("/set-cookies", set_cookies),
            Route("/form", form, methods=["GET", "POST"]),
            Route("/private", private),
            Route("/api/ping", ping, methods=["POST"]),
            Route("/static/app.js", app_js),
            Route("/static/logo.gif", logo),
        ]
    )
    return ConsentGate(app, secret_key=secret_key, policy=policy)


def create_evil_site(target: str) -> ASGIApp:
    """Another origin whose pages try to record consent on ``target``'s gate.

    ``/form`` auto-submits an "Accept all" form (a top-level cross-origin POST);
    ``/form-no-referrer`` does the same from a no-referrer page, so the post carries
    ``Origin: null`` and no Referer; ``/fetch`` fires a no-cors fetch (no preflight).
    """
    endpoint = html.escape(f"{target}{PREFIX}/consent")

    async def form(request: Request) -> Response:
        # /form-no-referrer: no Referer, and "Origin: null" on the cross-origin post.
        no_referrer = request.url.path.endswith("no-referrer")
        return HTMLResponse(
            "<!doctype html><title>Free prizes</title>"
            + ('<meta name="referrer" content="no-referrer">' if no_referrer else "")
            + f'<form id="evil" method="post" action="{endpoint}">'
            '<input type="hidden" name="action" value="accept_all">'
            '<input type="hidden" name="next" value="/"></form>'
            "<script>document.getElementById('evil').submit();</script>"
        )

    async def fetch(request: Request) -> Response:
        return HTMLResponse(
            "<!doctype html><title>Free prizes</title><script>"
            f"window.sent = fetch({json.dumps(f'{target}{PREFIX}/consent')}, "
            "{method: 'POST', mode: 'no-cors', credentials: 'include',"
            " headers: {'Content-Type': 'application/x-www-form-urlencoded'},"
            " body: 'action=accept_all'}).then(() => 'sent', () => 'failed');"
            "</script>"
        )

    return Starlette(
        routes=[Route("/form", form), Route("/form-no-referrer", form), Route("/fetch", fetch)]
    )
