"""Requests as raw ASGI messages, so headers, paths and bodies can hold bytes no HTTP client
library would send; what the gate answered, with the sizes that went in and came out."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from consent_gate._types import ASGIApp, Headers, Message, Receive


@dataclass
class Exchange:
    """What the gate sent back for one request."""

    status: int
    headers: Headers
    body: bytes
    bytes_in: int  # the request's header and body bytes, as they would cross the wire

    def values(self, name: bytes) -> list[bytes]:
        return [v for k, v in self.headers if k.lower() == name]

    @property
    def header_bytes(self) -> int:
        return sum(len(k) + len(v) + 4 for k, v in self.headers)


async def exchange(
    app: ASGIApp,
    method: str,
    path: str,
    headers: Headers | None = None,
    body: bytes = b"",
    *,
    query: bytes = b"",
    client: str = "192.0.2.1",
    receive: Receive | None = None,
) -> Exchange:
    """One request through the app; its body arrives in one message unless `receive` is given."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogatepass"),
        "query_string": query,
        "root_path": "",
        "headers": list(headers or []),
        "client": (client, 50000),
        "server": ("testserver", 80),
    }
    sent: list[Message] = []

    async def one_body() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive or one_body, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    size = sum(len(k) + len(v) + 4 for k, v in headers or []) + len(body) + len(path) + len(query)
    return Exchange(start["status"], list(start.get("headers", [])), content, size)


def call(app: ASGIApp, method: str, path: str, *args: object, **kwargs: object) -> Exchange:
    """`exchange`, answered synchronously."""
    return asyncio.run(exchange(app, method, path, *args, **kwargs))  # type: ignore[arg-type]
