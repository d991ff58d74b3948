"""The one ASGI test client: requests run through an app in this process, to completion.

`Client` sends them as a browser would (httpx: cookies kept, forms and JSON encoded, redirects
left for the test to follow). `exchange` sends raw ASGI messages, for what no HTTP client would
send (bytes in paths and headers, a body that stalls) and for tests that read every message the
app sent. `tests/conftest.py` offers both as fixtures.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from consent_gate import ConsentGate, Policy
from consent_gate._types import ASGIApp, Headers, Message, Receive, Scope, Send

SECRET = "consent-gate-tests-" + "k4Pz9" * 6  # long and varied: no weak-key warning
SITE = "https://testserver"


def make_gate(
    app: ASGIApp,
    *,
    secret_key: str | Sequence[str] = SECRET,
    policy: Policy | None = None,
    **options: Any,
) -> ConsentGate:
    """A gate over `app` with the tests' key and the default policy unless told otherwise."""
    return ConsentGate(app, secret_key=secret_key, policy=policy, **options)


class Client:
    """A browser-like client of one app: same cookie jar throughout, every call synchronous."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        base_url: str = SITE,
        client: tuple[str, int] = ("127.0.0.1", 123),
        headers: dict[str, str] | None = None,
        raise_app_exceptions: bool = True,
    ) -> None:
        self.app = app
        self.base_url = base_url
        self.client = client
        self.headers = headers or {}
        self.raise_app_exceptions = raise_app_exceptions
        self.cookies = httpx.Cookies()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return asyncio.run(self.arequest(method, url, **kwargs))

    async def arequest(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """`request` inside a running event loop (several visitors at once)."""
        transport = httpx.ASGITransport(
            app=self.app, raise_app_exceptions=self.raise_app_exceptions, client=self.client
        )
        async with httpx.AsyncClient(
            transport=transport, base_url=self.base_url, cookies=self.cookies, headers=self.headers
        ) as http:
            response = await http.request(method, url, **kwargs)
            self.cookies = http.cookies
            return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


@dataclass
class Sent:
    """Everything the app sent for one request, message by message."""

    messages: list[Message] = field(default_factory=list)
    bytes_in: int = 0  # the request's header and body bytes, as they would cross the wire

    @property
    def start(self) -> Message:
        starts = [m for m in self.messages if m["type"] == "http.response.start"]
        assert len(starts) == 1, self.messages
        return starts[0]

    @property
    def status(self) -> int:
        status: int = self.start["status"]
        return status

    @property
    def headers(self) -> Headers:
        return list(self.start.get("headers", []))

    def values(self, name: bytes) -> list[bytes]:
        """Every value of a header, its name as sent (the gate sends lower case)."""
        return [v for k, v in self.headers if k == name]

    @property
    def header_bytes(self) -> int:
        return sum(len(k) + len(v) + 4 for k, v in self.headers)

    @property
    def body(self) -> bytes:
        return b"".join(
            m.get("body", b"") for m in self.messages if m["type"] == "http.response.body"
        )

    def assert_length_matches(self) -> None:
        """Exactly one Content-Length, equal to the bytes sent (ASGITransport never checks)."""
        assert self.values(b"content-length") == [str(len(self.body)).encode()]
        bodies = [m for m in self.messages if m["type"] == "http.response.body"]
        assert not bodies[-1].get("more_body", False)


def http_scope(
    method: str = "GET",
    path: str = "/",
    headers: Headers | None = None,
    *,
    query: bytes = b"",
    scheme: str = "http",
    client: str = "192.0.2.1",
    server: tuple[str, int] = ("testserver", 80),
    extensions: dict[str, Any] | None = None,
) -> Scope:
    """An HTTP scope as a server builds it; the path may hold any character (it is sent raw)."""
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": scheme,
        "path": path,
        "raw_path": path.encode("utf-8", "surrogatepass"),
        "query_string": query,
        "root_path": "",
        "headers": list(headers or []),
        "client": (client, 50000),
        "server": server,
    }
    if extensions is not None:
        scope["extensions"] = extensions
    return scope


async def no_body() -> Message:
    """`receive` for a request without a body."""
    return {"type": "http.request", "body": b"", "more_body": False}


async def call(
    app: ASGIApp, scope: Scope, receive: Receive | None = None, body: bytes = b""
) -> Sent:
    """`scope` through `app`; the request body arrives in one message unless `receive` is
    given. Ten seconds at most: a gate that hangs fails the test rather than the run."""
    sent = Sent()

    async def one_body() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.messages.append(message)

    await asyncio.wait_for(app(scope, receive or one_body, send), timeout=10)
    headers = scope["headers"]
    path, query = scope["path"], scope["query_string"]
    sent.bytes_in = sum(len(k) + len(v) + 4 for k, v in headers) + len(body) + len(path)
    sent.bytes_in += len(query)
    return sent


async def exchange(
    app: ASGIApp,
    method: str,
    path: str,
    headers: Headers | None = None,
    body: bytes = b"",
    *,
    receive: Receive | None = None,
    **scope: Any,
) -> Sent:
    """One raw request through the app (`scope`: `http_scope`'s options)."""
    return await call(app, http_scope(method, path, headers, **scope), receive, body)


def run(app: ASGIApp, method: str, path: str, *args: Any, **kwargs: Any) -> Sent:
    """`exchange`, answered synchronously."""
    return asyncio.run(exchange(app, method, path, *args, **kwargs))


def respond(
    body: bytes | Sequence[bytes],
    *,
    status: int = 200,
    content_type: bytes | None = b"text/html; charset=utf-8",
    headers: Sequence[tuple[bytes, bytes]] = (),
    content_length: bool = True,
) -> ASGIApp:
    """A raw ASGI app sending `body` in one message (with Content-Length) or chunk by chunk."""
    chunks = [body] if isinstance(body, bytes) else list(body)
    single = isinstance(body, bytes)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        start_headers = [(b"content-type", content_type)] if content_type else []
        start_headers += list(headers)
        if single and content_length:
            start_headers.append((b"content-length", str(len(chunks[0])).encode()))
        await send({"type": "http.response.start", "status": status, "headers": start_headers})
        for index, chunk in enumerate(chunks):
            more = index < len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})

    return app
