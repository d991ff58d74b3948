"""What a response's headers and type make the browser load: `Link` preloads to trackers are
dropped before consent, and HTML the browser renders is rewritten whatever its Content-Type
says (sniffed when there is none) or refused through the fail-closed path (XHTML)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from asgi_client import run
from consent_gate import ConsentGate, Policy
from consent_gate._types import ASGIApp, Receive, Scope, Send

PAGE = (
    b"<!doctype html><html><head><title>t</title>"
    b'<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
    b"</head><body><p>hi</p></body></html>"
)
GTAG = b"https://www.googletagmanager.com/gtag/js?id=G-1"
TYPE = b"content-type"


def app_sending(body: bytes, headers: Sequence[tuple[bytes, bytes]]) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return app


def fetch(
    app: ASGIApp, *, accept: bytes = b"text/html,*/*", cookie: bytes | None = None
) -> tuple[dict[bytes, list[bytes]], bytes]:
    gate = ConsentGate(app, secret_key="response-level-test-secret-0123456789", policy=POLICY)
    headers = [(b"host", b"shop.example"), (b"accept", accept)]
    if cookie:
        headers.append((b"cookie", cookie))
    sent = run(gate, "GET", "/", headers, scheme="https")
    out: dict[bytes, list[bytes]] = {}
    for key, value in sent.headers:
        out.setdefault(key.lower(), []).append(value)
    return out, sent.body


POLICY = Policy.default()


def test_link_preloads_to_refused_trackers_are_dropped_and_the_rest_kept() -> None:
    link = (
        b"</app.css>; rel=preload; as=style, <" + GTAG + b">; rel=preload; as=script, "
        b'<HTTPS://CONNECT.FACEBOOK.NET/en_US/fbevents.js>; rel="preload"; as=script'
    )
    headers, _ = fetch(app_sending(PAGE, [(TYPE, b"text/html"), (b"link", link)]))
    assert headers[b"link"] == [b"</app.css>; rel=preload; as=style"]


def test_a_link_header_naming_only_trackers_is_dropped_even_on_other_responses() -> None:
    headers, _ = fetch(
        app_sending(b"{}", [(TYPE, b"application/json"), (b"Link", b"<//www.facebook.com/tr>")])
    )
    assert b"link" not in headers


def test_link_headers_without_trackers_pass_unchanged() -> None:
    link = b'</a.js>; rel=preload; as=script; title="a, <b>"'
    headers, _ = fetch(app_sending(PAGE, [(TYPE, b"text/html"), (b"link", link)]))
    assert headers[b"link"] == [link]


@pytest.mark.parametrize("headers", [[], [(TYPE, b"")]])
def test_html_without_a_content_type_is_sniffed_and_rewritten(
    headers: list[tuple[bytes, bytes]],
) -> None:
    _, body = fetch(app_sending(b"\n  " + PAGE, headers))
    assert b' data-cg-src="' + GTAG in body
    assert b'id="cg-banner"' in body


@pytest.mark.parametrize("body", [b'{"a": "<p>"}', b"\x89PNG\r\n", b"plain text <p>", b""])
def test_other_bodies_without_a_content_type_pass_untouched(body: bytes) -> None:
    headers, out = fetch(app_sending(body, []))
    assert out == body
    assert b"content-security-policy" not in headers


def test_xhtml_fails_closed() -> None:
    headers, body = fetch(app_sending(PAGE, [(TYPE, b"application/xhtml+xml; charset=utf-8")]))
    assert body == PAGE
    (csp,) = headers[b"content-security-policy"]
    assert b"googletagmanager" not in csp


def test_brotli_html_fails_closed() -> None:
    headers, body = fetch(
        app_sending(b"\x1b\x00br", [(TYPE, b"text/html"), (b"content-encoding", b"br")])
    )
    assert body == b"\x1b\x00br"
    assert headers[b"content-security-policy"]


def test_a_refresh_header_to_a_tracker_is_dropped_and_others_kept() -> None:
    held, _ = fetch(app_sending(PAGE, [(TYPE, b"text/html"), (b"refresh", b"0; url=" + GTAG)]))
    kept, _ = fetch(app_sending(PAGE, [(TYPE, b"text/html"), (b"refresh", b"5; url=/next")]))
    assert b"refresh" not in held
    assert kept[b"refresh"] == [b"5; url=/next"]


@pytest.mark.xfail(
    strict=True,
    reason="middleware.py drops only Link and Refresh headers (_LOADING_HEADERS); a "
    "Speculation-Rules header naming a refused tracker's URL must be dropped too (fix: a "
    "held_speculation_rules(value, blocker, base) in links.py, each comma-separated quoted URL "
    "read like a Link's, called from middleware.py's header loop)",
)
def test_a_speculation_rules_header_at_a_tracker_is_dropped() -> None:
    """Chromium fetches the rules file a `Speculation-Rules` header names as the page arrives
    (checked by hand: a request to the tracker before consent)."""
    rules = b'"https://www.googletagmanager.com/rules.json"'
    headers, _ = fetch(app_sending(PAGE, [(TYPE, b"text/html"), (b"speculation-rules", rules)]))
    assert b"speculation-rules" not in headers
