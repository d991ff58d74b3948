"""The responder: what it sends and in which order, for pages and for everything else."""

from __future__ import annotations

import asyncio
import itertools
import re
from typing import Any

import pytest

from asgi_client import Client, exchange, http_scope, make_gate, respond, run
from consent_gate import ConsentGate
from consent_gate._types import Message, Receive, Scope, Send
from consent_gate.consent import Consent

PAGE = b"<!doctype html><html><head><title>t</title></head><body><p>hi</p></body></html>"


def test_a_json_response_goes_out_as_the_app_sent_it() -> None:
    """The lean path: no copy of the start or body messages, no header added."""
    sent_by_app: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in (
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            },
            {"type": "http.response.body", "body": b"{}", "more_body": False},
        ):
            sent_by_app.append(message)
            await send(message)

    sent = asyncio.run(exchange(make_gate(app), "GET", "/api", [(b"accept", b"text/html")]))
    assert len(sent.messages) == 2
    assert all(a is b for a, b in zip(sent.messages, sent_by_app, strict=True))


def test_a_json_response_with_a_tracker_cookie_still_loses_it() -> None:
    app = respond(
        b"{}",
        content_type=b"application/json",
        headers=[(b"set-cookie", b"_ga=GA1.1.1; Path=/"), (b"set-cookie", b"sid=1")],
    )
    sent = asyncio.run(exchange(make_gate(app), "GET", "/api"))
    assert sent.values(b"set-cookie") == [b"sid=1"]
    assert sent.body == b"{}"


def test_the_opt_out_is_recorded_before_the_page_starts_going_out(
    gate_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Set-Cookie remembering the opt-out is only sent once the log has the record."""
    events: list[str] = []
    gate: ConsentGate = gate_factory(respond(PAGE))
    record = gate.signals.record_opt_out

    def spy(consent: Consent, scope: Scope, lang: str | None) -> bytes | None:
        events.append(f"record {lang}")
        return record(consent, scope, lang)

    monkeypatch.setattr(gate.signals, "record_opt_out", spy)

    async def send(message: Message) -> None:
        events.append(message["type"])

    headers = [(b"sec-gpc", b"1"), (b"accept", b"text/html"), (b"accept-language", b"de")]
    asyncio.run(gate(http_scope("GET", "/", headers), _no_body, send))
    assert events == ["record de", "http.response.start", "http.response.body"]


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def test_a_page_is_still_rewritten_with_the_banner() -> None:
    gate = make_gate(respond(PAGE))
    response = Client(gate).get("/", headers={"accept": "text/html"})
    assert b'id="cg-banner"' in response.content
    assert response.headers["cache-control"] == "private"


@pytest.mark.parametrize("media", [b"text/html", b"application/json"])
def test_what_send_returns_can_be_made_a_task(media: bytes) -> None:
    """The gate's `send` is a plain function handing back an awaitable; an app that makes a
    task of each message (the ASGI spec allows it) still works, page or not."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        start = {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", media)],
        }
        await asyncio.create_task(send(start))  # type: ignore[arg-type]
        body = {"type": "http.response.body", "body": PAGE, "more_body": False}
        await asyncio.create_task(send(body))  # type: ignore[arg-type]

    sent = asyncio.run(exchange(make_gate(app), "GET", "/", [(b"accept", b"text/html")]))
    assert sent.status == 200
    assert (b'id="cg-root"' in sent.body) == (media == b"text/html")


# A streamed template may send a lone newline first: what the page is (a document, its charset
# from <meta>, its language) is read from its first KiB, whatever the chunking.
STREAMED = (
    b'\n<!doctype html><html lang="de"><head><meta charset="windows-1252"><title>t</title>'
    b'<script src="https://www.googletagmanager.com/gtag/js?id=G-1"></script></head>'
    b"<body><p>caf\xe9</p></body></html>"
)
_NONCE = re.compile(rb'nonce(?:="|-)[\w+/=-]+')


def _served(chunks: list[bytes], content_type: bytes | None) -> bytes:
    sent = run(make_gate(respond(chunks, content_type=content_type)), "GET", "/")
    return _NONCE.sub(b"nonce", sent.body)


@pytest.mark.parametrize("content_type", [b"text/html", None], ids=["typed", "sniffed"])
@pytest.mark.parametrize(
    "cuts",
    [[1], [1, 3], [1, 40, 90], list(range(1, len(STREAMED)))],
    ids=["newline-first", "three", "four", "byte-by-byte"],
)
def test_a_page_streamed_in_small_pieces_is_gated_as_if_it_came_whole(
    cuts: list[int], content_type: bytes | None
) -> None:
    bounds = [0, *cuts, len(STREAMED)]
    chunks = [STREAMED[a:b] for a, b in itertools.pairwise(bounds)]
    whole = _served([STREAMED], content_type)
    assert b'id="cg-root"' in whole  # a document: the banner, in the page's charset
    assert b"googletagmanager.com/gtag" in whole
    assert b' src="https://www.google' not in whole
    assert b"caf\xe9" in whole
    assert _served(chunks, content_type) == whole
