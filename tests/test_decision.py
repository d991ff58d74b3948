"""The per-response decision, taken apart from any response: `classify` at the start, `decide`
for an HTML page, `first_bytes` once its first bytes arrive. Each is a function of its inputs."""

from __future__ import annotations

import pytest

from asgi_client import http_scope, make_gate, respond
from consent_gate import ConsentGate
from consent_gate._types import Headers
from consent_gate.decision import (
    NOT_ASCII,
    NOT_HTML,
    PASS,
    Body,
    PageDecision,
    classify,
    decide,
    first_bytes,
)

HTML = [(b"content-type", b"text/html; charset=utf-8")]
NAVIGATION = [(b"host", b"shop.example"), (b"accept", b"text/html,*/*;q=0.8")]


@pytest.fixture
def gate() -> ConsentGate:
    return make_gate(respond(b""))


def decision(
    gate: ConsentGate, request: Headers | None = None, app: Headers | None = None
) -> PageDecision:
    """The decision for GET https://shop.example/shop?q=1, the app's headers HTML's."""
    scope = http_scope(
        "GET", "/shop", [*NAVIGATION, *(request or [])], query=b"q=1", scheme="https"
    )
    consent = gate.read(scope["headers"], secure=True)
    headers = HTML if app is None else app
    return decide(gate.page, scope, consent, headers, classify("GET", 200, headers, []))


@pytest.mark.parametrize(
    ("method", "status", "headers"),
    [
        ("GET", 200, [(b"content-type", b"application/json")]),
        ("GET", 200, [(b"content-type", b"image/png")]),
        ("GET", 200, [(b"content-type", b"text/css")]),
        ("HEAD", 200, HTML),
        ("GET", 206, HTML),
        ("GET", 304, HTML),
        ("GET", 204, HTML),
        ("GET", 101, HTML),
    ],
)
def test_what_is_not_an_html_body_is_passed(method: str, status: int, headers: Headers) -> None:
    assert classify(method, status, headers, []) is PASS


def test_html_is_rewritten_in_the_codings_the_gate_undoes() -> None:
    assert classify("GET", 200, HTML, []) == Body(html=True)
    gzipped = [*HTML, (b"content-encoding", b"gzip")]
    assert classify("GET", 200, gzipped, []) == Body(html=True, coding="gzip")


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ([(b"content-type", b"application/xhtml+xml")], "XHTML"),
        ([(b"content-type", b"text/html; charset=utf-16")], "not ASCII-compatible"),
        ([*HTML, (b"content-encoding", b"br")], "content coding 'br'"),
    ],
)
def test_html_the_gate_cannot_rewrite_fails_closed(headers: Headers, reason: str) -> None:
    body = classify("GET", 200, headers, [])
    assert body.html
    assert body.refusal is not None
    assert reason in body.refusal


@pytest.mark.parametrize(
    "media", [b"text/xml", b"Application/XML; charset=utf-8", b"image/svg+xml", b"text/xsl"]
)
@pytest.mark.parametrize("destination", [None, b"document", b"iframe", b"object", b"embed"])
def test_xml_rendered_as_a_document_fails_closed(media: bytes, destination: bytes | None) -> None:
    """Its XHTML, SVG or XSLT loads what it names, and the gate cannot rewrite XML; a browser
    that does not say where the response goes may be rendering it."""
    request = [] if destination is None else [(b"sec-fetch-dest", destination)]
    body = classify("GET", 200, [(b"content-type", media)], request)
    assert body.html
    assert body.refusal is not None
    assert "it is XML" in body.refusal


@pytest.mark.parametrize("destination", [b"image", b"empty", b"script", b"style", b"font"])
def test_xml_fetched_as_a_subresource_is_passed(destination: bytes) -> None:
    """An SVG `<img>` loads nothing; a script's XML data is data: left alone, cacheable."""
    for media in (b"image/svg+xml", b"application/xml", b"application/rss+xml"):
        headers = [(b"content-type", media)]
        assert classify("GET", 200, headers, [(b"sec-fetch-dest", destination)]) is PASS


def test_repeated_content_type_and_content_encoding_lines_are_read_together() -> None:
    """Chromium reads every line: of two Content-Types the last decides (text/plain first
    went out ungated), and two gzip lines mean gzip twice (undone once, the page inside went
    out unread). Both read as one list, as Fetch combines them."""
    two_types = [(b"content-type", b"text/plain"), (b"content-type", b"text/html")]
    assert classify("GET", 200, two_types, []) == Body(html=True)
    typed_last = [(b"content-type", b"text/html"), (b"content-type", b"text/plain")]
    assert classify("GET", 200, typed_last, []) is PASS
    twice = [*HTML, (b"content-encoding", b"gzip"), (b"content-encoding", b"gzip")]
    body = classify("GET", 200, twice, [])
    assert body.html
    assert body.refusal is not None
    assert "'gzip, gzip'" in body.refusal


@pytest.mark.parametrize(
    "value",
    [b"unknown/unknown", b"Application/Unknown", b"*/*", b" html", b";", b"text /html",
     b"text / html", b";text/html", b"te(xt/html", b"a b/c"],
)  # fmt: skip
def test_a_type_chromium_sniffs_is_sniffed_like_none(value: bytes) -> None:
    """Chromium sniffs under these as under no Content-Type (a page that starts like HTML is
    rendered as HTML); the gate passed them unread, trackers and all."""
    assert classify("GET", 200, [(b"content-type", value)], []) == Body(html=True, sniff=True)


@pytest.mark.parametrize("value", [b"text/html x", b"text/html(x)", b"text/html\tx"])
def test_a_type_ends_where_chromium_ends_it(value: bytes) -> None:
    """At white space, ";" or "(": each of these is HTML to Chromium, and went out unread."""
    assert classify("GET", 200, [(b"content-type", value)], []) == Body(html=True)


@pytest.mark.parametrize("value", [b"text/plain", b"text/ html", b"text/css", b'"text/html"'])
def test_a_type_chromium_does_not_render_as_html_is_passed(value: bytes) -> None:
    assert classify("GET", 200, [(b"content-type", value)], []) is PASS


def test_an_untyped_body_is_sniffed_unless_unreadable_and_not_asked_for_as_a_page() -> None:
    assert classify("GET", 200, [], []) == Body(html=True, sniff=True)
    brotli = [(b"content-encoding", b"br")]
    assert classify("GET", 200, brotli, [(b"accept", b"*/*")]) is PASS
    assert classify("GET", 200, brotli, [(b"accept", b"text/html")]).refusal is not None


def test_the_decision_is_frozen(gate: ConsentGate) -> None:
    made = decision(gate)
    with pytest.raises(AttributeError):
        made.prompt = False  # type: ignore[misc]


def test_an_undecided_visitor_is_asked_and_the_refused_cookies_it_sends_are_expired(
    gate: ConsentGate,
) -> None:
    made = decision(gate, [(b"cookie", b"_ga=GA1.1.1; session=abc")])
    assert made.banner
    assert made.prompt
    assert made.blocker is not None
    assert made.nonce is not None
    assert made.stamp == made.nonce
    assert made.head.startswith(b'<script nonce="' + made.nonce.encode())
    assert [line.split(b"=")[0] for line in made.expire] == [b"_ga"] * len(made.expire)
    assert made.expire  # and not the site's session cookie
    assert (made.next_url, made.page_url) == ("/shop?q=1", "https://shop.example/shop")


def test_accepting_everything_leaves_nothing_held_no_nonce_and_nothing_expired(
    gate: ConsentGate,
) -> None:
    choice = gate.codec.decide(set(gate.policy.optional_categories))
    cookie = f"{gate.codec.cookie_name(secure=True)}={gate.codec.dumps(choice)}; _ga=1"
    made = decision(gate, [(b"cookie", cookie.encode())])
    assert made.consent.decided
    assert not made.prompt
    assert made.banner
    assert made.blocker is None
    assert made.nonce is None
    assert made.stamp is None
    assert made.expire == ()


def test_a_crawler_gets_every_tracker_held_and_no_banner(gate: ConsentGate) -> None:
    choice = gate.codec.decide(set(gate.policy.optional_categories))
    cookie = f"{gate.codec.cookie_name(secure=True)}={gate.codec.dumps(choice)}"
    bot = (
        b"user-agent",
        b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    )
    made = decision(gate, [bot, (b"cookie", cookie.encode())])
    assert made.consent is gate.codec.undecided
    assert not made.banner
    assert not made.prompt
    assert made.blocker is not None
    assert made.head  # the head scripts still run: they hold what the page's scripts start


def test_a_fragment_request_gets_neither_banner_nor_head_scripts(gate: ConsentGate) -> None:
    made = decision(gate, [(b"hx-request", b"true")])
    assert not made.banner
    assert made.head == b""
    assert made.blocker is not None
    boosted = decision(gate, [(b"hx-request", b"true"), (b"hx-boosted", b"true")])
    assert boosted.banner
    assert boosted.head != b""


def test_the_banner_language_waits_for_the_page_without_accept_language(
    gate: ConsentGate,
) -> None:
    made = decision(gate)
    assert made.lang is None
    page = b'<!doctype html><html lang="de"><head>'
    assert first_bytes(made, HTML, page, gate.banner).lang == "de"
    asked = decision(gate, [(b"accept-language", b"fr")])
    assert asked.lang == "fr"
    assert first_bytes(asked, HTML, page, gate.banner).lang == "fr"


def test_first_bytes_tell_documents_from_fragments_and_the_charset(gate: ConsentGate) -> None:
    made = decision(gate, app=[(b"content-type", b"text/html")])
    untyped = [(b"content-type", b"text/html")]
    page = first_bytes(made, untyped, b'<!DOCTYPE html><meta charset="utf-8">', gate.banner)
    assert (page.kind, page.document, page.utf8) == ("html", True, True)
    fragment = first_bytes(made, untyped, b"<div>swap</div>", gate.banner)
    assert (fragment.kind, fragment.document, fragment.utf8) == ("html", False, False)
    assert first_bytes(made, untyped, b"\xff\xfe<\x00h\x00", gate.banner) is NOT_ASCII
    wide = b'<html><meta charset="iso-2022-jp">'
    assert first_bytes(made, untyped, wide, gate.banner) is NOT_ASCII


def test_a_sniffed_body_is_html_only_if_it_starts_like_html(gate: ConsentGate) -> None:
    made = decision(gate, app=[])
    assert made.sniff
    assert first_bytes(made, [], b'{"html": "<p>"}', gate.banner) is NOT_HTML
    assert first_bytes(made, [], b"\n  <!DOCTYPE html><html>", gate.banner).kind == "html"


def test_deciding_has_no_side_effects_on_its_inputs(gate: ConsentGate) -> None:
    scope = http_scope("GET", "/", [*NAVIGATION, (b"cookie", b"_ga=1")])
    app = [*HTML, (b"content-encoding", b"gzip")]
    before = (list(scope["headers"]), list(app), dict(scope))
    consent = gate.read(scope["headers"], secure=False)
    made = decide(gate.page, scope, consent, app, classify("GET", 200, app, []))
    assert made.coding == "gzip"
    assert first_bytes(made, app, b"<!doctype html>", gate.banner).document
    assert (scope["headers"], app, scope) == before


@pytest.mark.parametrize(
    ("root_path", "path", "whole"),
    [
        ("", "/page", "/page"),
        ("/shop", "/shop/page", "/shop/page"),  # Starlette's Mount, current servers
        ("/shop", "/page", "/shop/page"),  # servers that keep root_path out of path
        ("/shop", "/shop", "/shop"),
        ("/shop", "/shopping", "/shop/shopping"),  # a path that only starts like the mount
    ],
)
def test_a_mounted_gate_returns_the_visitor_to_the_page_they_asked_for(
    gate: ConsentGate, root_path: str, path: str, whole: str
) -> None:
    scope = http_scope("GET", path, NAVIGATION, scheme="https")
    scope["root_path"] = root_path
    consent = gate.read(scope["headers"], secure=True)
    made = decide(gate.page, scope, consent, HTML, classify("GET", 200, HTML, []))
    assert made.next_url == whole
    assert made.page_url == f"https://shop.example{whole}"
