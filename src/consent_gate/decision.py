"""What the gate does to one response, decided once: at `http.response.start` from the request
and the app's headers (`classify`, `decide`), then from the page's first bytes (`first_bytes`).

Nothing here writes, logs or keeps state: the responder acts on what these functions return.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, NamedTuple
from urllib.parse import quote

from . import bots, i18n
from ._types import Headers, Scope
from .banner import Banner
from .charsets import ascii_compatible, encoding, meta_encoding
from .consent import Consent
from .cookies import expire_headers
from .html.prescan import meta_charsets
from .http import combined, content_type, cookie_names, header, whole_path
from .page_gate import PageGate
from .rules import Blocker
from .urls import page_url

__all__ = [
    "WIDE",
    "Body",
    "FirstBytes",
    "PageDecision",
    "classify",
    "decide",
    "first_bytes",
    "page_of",
    "plainly_not_html",
]

_CODINGS = {b"": None, b"identity": None, b"gzip": "gzip", b"x-gzip": "gzip", b"deflate": "deflate"}
_NO_BODY = {204, 206, 304}
_MAX_NEXT = 1024
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xfe\xff", "utf-16be"), (b"\xff\xfe", "utf-16le"))
_DOCUMENT = re.compile(rb"<(?:!doctype|html|head|body)[\s/>]", re.IGNORECASE)
# What makes a browser take a response without a Content-Type for HTML (WHATWG MIME Sniffing,
# "identifying an unknown MIME type"): one of these tags first, after white space.
_SNIFFED_HTML = re.compile(
    rb"[\t\n\x0c\r ]*+(?:<!--|<(?:!doctype html|html|head|script|iframe|h1|div|font|table|a"
    rb"|style|title|b|body|br|p)[ >])",
    re.IGNORECASE,
)
# Types Chromium sniffs as if none were given ("" stands for one it cannot parse, `html`, and
# for `*/*`): a page under one is HTML when its first bytes look like it.
_SNIFFED_TYPES = frozenset({"", "unknown/unknown", "application/unknown"})
# A Content-Type value that plainly names one type (lower-cased): read without parsing.
_TOKEN = rb"[-a-z0-9!#$%&'*+.^_`|~]++"
_PLAIN_TYPE = re.compile(rb"[ \t]*+" + _TOKEN + rb"/" + _TOKEN + rb"(?:[ \t;]|\Z)")
# How a Content-Type value starts when it may be HTML or one of those (lower-cased).
_MAYBE_HTML = (b"text/html", b"application/unknown", b"unknown/", b"*/*")
# XML that a browser renders as a document (Chromium: text/xml, application/xml, text/xsl and
# any "+xml" type): its XHTML, SVG or XSLT loads what it names, and the gate cannot rewrite it.
_XML_TYPES = frozenset({"text/xml", "application/xml", "text/xsl"})
# Where a response is rendered as a document of its own (Fetch's request destinations).
_DOCUMENT_DESTINATIONS = frozenset({b"document", b"iframe", b"frame", b"object", b"embed"})
WIDE = "its first bytes (a BOM or <meta charset>) name a charset that is not ASCII-compatible"


@dataclass(frozen=True, slots=True)
class Body:
    """What a response's start says about its body: HTML to rewrite (undoing `coding` first),
    HTML that cannot be (`refusal` says why: it fails closed), or something else, passed."""

    html: bool
    coding: str | None = None
    refusal: str | None = None
    sniff: bool = False  # no Content-Type: HTML only if its first bytes look like it


PASS = Body(html=False)


def classify(method: str, status: int, headers: Headers, request: Headers) -> Body:
    """The body a response start announces. `headers`: the app's, lower-cased; `request`: the
    request's (its Accept decides for an untyped body in an unknown coding)."""
    if method == "HEAD" or status < 200 or status in _NO_BODY:
        return PASS
    value = combined(headers, b"content-type")
    if value is None or not value.strip():
        return _html(None, combined(headers, b"content-encoding"), request)
    if plainly_not_html(value):
        return PASS  # the common case, decided without parsing
    coding = combined(headers, b"content-encoding")
    typed = _typed_html(value, coding)
    if typed is not None:
        return typed
    media, charset = content_type(value)
    if media == "application/xhtml+xml":
        return Body(True, refusal="it is XHTML (application/xhtml+xml), which is parsed as XML")
    if media in _XML_TYPES or media.endswith("+xml"):
        return _xml(media, request)
    if media in _SNIFFED_TYPES:
        return _html(charset, coding, request)
    return PASS


@lru_cache(maxsize=256)  # a site's pages send a handful of distinct pairs
def _typed_html(value: bytes, coding: bytes | None) -> Body | None:
    """The body of a response typed `text/html` (None for any other type): no header of the
    request changes it."""
    media, charset = content_type(value)
    return _html(charset, coding) if media == "text/html" else None


def _html(charset: str | None, coding: bytes | None, request: Headers | None = None) -> Body:
    """HTML in `charset` and content `coding`; sniffed (untyped) when `request` is given."""
    sniff = request is not None
    name = encoding(charset) if charset else None  # a label browsers do not know: ignored
    if name is not None and not ascii_compatible(name):
        return Body(True, refusal=f"its charset {charset!r} is not ASCII-compatible", sniff=sniff)
    coding = (coding or b"").strip().lower()
    if coding not in _CODINGS:
        if request is not None and b"text/html" not in (header(request, b"accept") or b""):
            return PASS  # not asked for as a page: left alone unread
        reason = f"its content coding {coding.decode('latin-1')!r} is unknown"
        return Body(True, refusal=reason, sniff=sniff)
    return Body(True, coding=_CODINGS[coding], sniff=sniff)


@lru_cache(maxsize=256)  # an app sends a handful of distinct values
def plainly_not_html(value: bytes) -> bool:
    """Whether a Content-Type value plainly names one type that is neither HTML, one a
    browser sniffs, nor XML (of a list, the last counts: a list is parsed)."""
    lowered = value.lower()
    return (
        b"," not in value
        and _PLAIN_TYPE.match(lowered) is not None
        and not lowered.lstrip().startswith(_MAYBE_HTML)
        and b"xml" not in lowered
        and b"xsl" not in lowered
    )


def _xml(media: str, request: Headers) -> Body:
    """XML fails closed where a browser renders it as a document; fetched as an image, a
    script's data or a style sheet it is left alone (a browser that does not say may be
    rendering it)."""
    destination = header(request, b"sec-fetch-dest")
    if destination is not None and destination not in _DOCUMENT_DESTINATIONS:
        return PASS
    return Body(True, refusal=f"it is XML ({media}), whose markup loads what it names unread")


class PageDecision(NamedTuple):
    """Everything the gate does to one HTML response that a page's bytes do not change (a
    tuple: made on every page, where a frozen dataclass costs three times as much)."""

    consent: Consent  # what gates the page: the visitor's, or undecided for a crawler
    coding: str | None  # the content coding undone before and redone after rewriting
    sniff: bool  # untyped: rewritten only if its first bytes look like HTML
    nonce: str | None  # for the gate's inline scripts (None: the CSP allows inline ones)
    stamp: str | None  # the nonce the rewriter puts on the page's own scripts
    banner: bool  # the banner and settings control go in (not for crawlers or fragments)
    prompt: bool  # the banner asks (the visitor has not decided)
    lang: str | None  # the banner's language; None: the page's <html lang> decides
    accept_language: bytes | None
    head: bytes  # the elements that must run before the page's scripts (b"": none)
    blocker: Blocker | None  # what is held back on this host (None: nothing)
    next_url: str  # where the no-JavaScript form returns to
    page_url: str  # the base the page's relative URLs resolve against
    expire: tuple[bytes, ...]  # Set-Cookie lines expiring cookies of refused categories
    record_opt_out: bool  # the request carries an opt-out no record holds yet


def decide(
    gate: PageGate, scope: Scope, consent: Consent, app_headers: Headers, body: Body
) -> PageDecision:
    """The decision for an HTML response (`body.html`, no refusal), at its start."""
    headers: Headers = scope["headers"]
    fragment = _fragment_request(headers)
    bot = gate.hide_from_bots and bots.is_bot(header(headers, b"user-agent"))
    if bot:
        consent = gate.undecided  # a crawler: every tracker held back, no banner
    banner = not (bot or fragment)
    nonce = stamp = None
    if gate.csp.enabled:
        # Refusing nothing, no inline script is a tracker to stop: unless the app enforces a
        # nonce of its own, the policy allows inline scripts and the page is left unscanned.
        nonce, stamps = gate.csp.nonce(app_headers, needed=bool(consent.held))
        stamp = nonce if stamps else None
    accept = header(headers, b"accept-language")
    prompt = banner and (
        not consent.decided
        and consent.signals.get("dnt") != "honoured"
        and not consent.locked.issuperset(gate.asked)
    )
    # Without the header (or when the site says so) the page's <html lang> decides, once its
    # first bytes arrive.
    lang = gate.banner.language(accept) if banner and accept else None
    host = (header(headers, b"host") or b"").decode("latin-1")
    refused = consent.held
    blocker = gate.rules.blocking(refused)
    expire: tuple[bytes, ...] = ()
    if refused:
        names = gate.cookie_rules.refused(cookie_names(headers), refused)
        expire = tuple(expire_headers(names, host, gate.site_domains))
    return PageDecision(
        consent=consent,
        coding=body.coding,
        sniff=body.sniff,
        nonce=nonce,
        stamp=stamp,
        banner=banner,
        prompt=prompt,
        lang=lang,
        accept_language=accept,
        head=b"" if fragment else gate.head.render(consent, nonce),
        blocker=None if blocker is None else blocker.for_host(host),
        next_url=_next_url(scope),
        page_url=page_of(scope),
        expire=expire,
        record_opt_out=consent.unrecorded,
    )


class FirstBytes(NamedTuple):
    """What the page's first bytes add to the decision."""

    kind: Literal["html", "not-html", "wide"]  # wide: a charset the gate cannot rewrite
    document: bool = False  # a whole document, not a fragment (an htmx swap, a partial)
    utf8: bool = False  # the page says it is UTF-8: the gate's text goes in as it is
    lang: str | None = None


NOT_HTML = FirstBytes("not-html")
NOT_ASCII = FirstBytes("wide")


def first_bytes(
    decision: PageDecision, app_headers: Headers, head: bytes, banner: Banner
) -> FirstBytes:
    """The rest of the decision, from the page's first (decoded) bytes: what a sniffed body
    is, its charset, whether it is a document, and the banner's language."""
    if decision.sniff and not _SNIFFED_HTML.match(head):
        return NOT_HTML
    names = _encodings(app_headers, head)
    if not all(ascii_compatible(name) for name in names):
        return NOT_ASCII
    # A fragment is neutralised, but a banner or head script would pile up in the page it
    # lands in.
    document = _DOCUMENT.search(head) is not None
    lang = decision.lang
    if document and decision.banner and (lang is None or banner.page_language):
        lang = banner.language(decision.accept_language, i18n.html_lang(head))
    return FirstBytes("html", document, names[:1] == ["utf-8"], lang)


def page_of(scope: Scope) -> str:
    """The request's URL, as the page's relative URLs resolve against it."""
    host = (header(scope["headers"], b"host") or b"").decode("latin-1")
    return page_url(scope.get("scheme", "http"), host, _quoted_path(whole_path(scope)))


@lru_cache(maxsize=1024)  # a page's path, on each of its requests
def _quoted_path(path: str) -> str:
    return quote(path, safe="/%:@!$&'()*+,;=")


def _next_url(scope: Scope) -> str:
    """Where the no-JavaScript form returns to. It is repeated in the banner and in every
    placeholder, so a long one is cut (query first, then to "/"): what a request makes the
    gate write stays bounded by a constant, not by the request's length."""
    query = scope.get("query_string", b"")
    path = whole_path(scope)
    next_url = f"{path}?{query.decode('latin-1')}" if query else path
    if len(next_url) <= _MAX_NEXT:
        return next_url
    return path if len(path) <= _MAX_NEXT else "/"


def _fragment_request(headers: Headers) -> bool:
    """A request for part of a page: htmx (not a boosted navigation, which swaps the whole
    body) or a Turbo frame. Its response lands inside a page that has the banner already."""
    if header(headers, b"turbo-frame") is not None:
        return True
    return header(headers, b"hx-request") is not None and header(headers, b"hx-boosted") is None


def _encodings(headers: Headers, head: bytes) -> list[str]:
    """What a browser may decode the page with, where it looks (HTML, "encoding sniffing"): a
    BOM; else the header's charset; else each `<meta>` charset of the first bytes (the first
    decides; a later one the parser meets makes the browser decode the page again). Labels
    browsers do not know are skipped; none left: undeclared, a guess that is ASCII-compatible.
    """
    for bom, name in _BOMS:
        if head.startswith(bom):
            return [name]
    label = content_type(combined(headers, b"content-type"))[1]
    if label and (declared := encoding(label)) is not None:
        return [declared]
    metas = [meta_encoding(label) for label in meta_charsets(head)]
    return [name for name in metas if name is not None]
