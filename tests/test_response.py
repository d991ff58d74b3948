"""The responder: what it sends and in which order, for pages and for everything else."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from asgi_client import Client, exchange, http_scope, make_gate, respond
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
