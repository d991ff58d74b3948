"""The gate under a real uvicorn on 127.0.0.1: lengths, streaming, HEAD and files on the wire.

In-process clients join the body and never check Content-Length, so these tests read the raw
bytes a browser would get.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from consent_gate import ConsentGate
from consent_gate._types import ASGIApp, Receive, Scope, Send
from consent_gate.qa import serve

SECRET = "uvicorn-test-secret"
LOADER = b'<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
PIXEL = b'<img src="https://www.facebook.com/tr?id=1&amp;ev=PageView" alt="">'
PAGE = (
    b"<!doctype html><html><head><title>t</title>"
    + LOADER
    + b"</head><body><h1>Hello</h1>"
    + PIXEL
    + b"<p>Body text.</p></body></html>\n"
)
BANNER = b'id="cg-banner"'
TAIL = b"</body></html>\n"


@dataclass
class RawResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes  # de-chunked
    complete: bool  # a chunked body ended with its last-chunk marker

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]


def _dechunk(data: bytes) -> tuple[bytes, bool]:
    out = bytearray()
    while data:
        line, sep, rest = data.partition(b"\r\n")
        if not sep:
            return bytes(out), False
        size = int(line.split(b";")[0], 16)
        if size == 0:
            return bytes(out), True
        out += rest[:size]
        data = rest[size + 2 :]
    return bytes(out), False


def raw_request(
    base_url: str, method: str = "GET", path: str = "/", headers: dict[str, str] | None = None
) -> RawResponse:
    """One HTTP/1.1 request over a plain socket; reads until the server closes."""
    url = urlsplit(base_url)
    assert url.hostname is not None
    assert url.port is not None
    lines = [f"{method} {path} HTTP/1.1", f"Host: {url.netloc}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    with socket.create_connection((url.hostname, url.port), timeout=15) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        data = bytearray()
        while chunk := sock.recv(65536):
            data += chunk
    head, _, payload = bytes(data).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = [
        (k.strip().lower(), v.strip()) for k, _, v in (h.partition(":") for h in header_lines)
    ]
    response = RawResponse(int(status_line.split()[1]), parsed, payload, True)
    if "chunked" in response.values("transfer-encoding"):
        response.body, response.complete = _dechunk(payload)
    return response


def gate(app: ASGIApp) -> ConsentGate:
    return ConsentGate(app, secret_key=SECRET)


async def _page(request: Request) -> Response:
    return HTMLResponse(PAGE.decode())


# The gate's head: its inline script, then guard.js and runtime.js for a visitor who refuses
# something.
HEAD_SCRIPTS = rb"<script[^>]*>.*?</script>"


def test_a_gated_page_has_exactly_one_correct_content_length() -> None:
    with serve(gate(Starlette(routes=[Route("/", _page)]))) as url:
        response = raw_request(url)
    assert response.status == 200
    assert response.values("content-length") == [str(len(response.body))]
    assert response.values("transfer-encoding") == []
    assert BANNER in response.body
    assert LOADER not in response.body
    assert PIXEL not in response.body
    assert response.body.endswith(TAIL)
    page = re.sub(HEAD_SCRIPTS, b"", response.body, count=3, flags=re.DOTALL)
    assert page.startswith(b"<!doctype html><html><head><title>t</title>")  # after the guard


def test_httpx_gets_the_full_gated_page() -> None:
    with serve(gate(Starlette(routes=[Route("/", _page)]))) as url:
        response = httpx.get(url, timeout=15)
    assert response.status_code == 200
    assert response.headers.get_list("content-length") == [str(len(response.content))]
    assert response.content.count(BANNER) == 1


def test_a_streamed_page_goes_out_chunked_and_complete() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        padded = PAGE.replace(b"<h1>Hello</h1>", b"<h1>Hello</h1>" + b"<p>text</p>" * 200)
        for part in (padded[:50], padded[50:120], padded[120:1500], padded[1500:]):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    with serve(gate(app)) as url:
        response = raw_request(url)
    assert response.values("content-length") == []
    assert response.values("transfer-encoding") == ["chunked"]
    assert response.complete
    assert BANNER in response.body
    assert LOADER not in response.body
    assert response.body.endswith(TAIL)


FIVE_MB = 5 * 1024 * 1024


def test_a_5mb_streamed_page_arrives_complete_and_starts_before_the_app_finishes() -> None:
    released = threading.Event()
    finished = threading.Event()
    head = b"<!doctype html><html><head>" + LOADER + b"</head><body>" + b"<p>first</p>" * 2000
    row = b"<p>row of a long streamed table with no trackers in it at all</p>\n"
    chunk = row * (65536 // len(row))
    count = FIVE_MB // len(chunk) + 1

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": head, "more_body": True})
        deadline = time.monotonic() + 10
        while not released.is_set():  # the client has to see the first bytes first
            if time.monotonic() > deadline:
                raise TimeoutError("the client never received the first chunk")
            await asyncio.sleep(0.005)
        for _ in range(count):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": TAIL, "more_body": False})
        finished.set()

    received = bytearray()
    with serve(gate(app)) as url, httpx.stream("GET", url, timeout=15) as response:
        assert response.headers.get("content-length") is None
        for data in response.iter_raw():
            if not received:
                assert not finished.is_set()
                released.set()
            received += data
    assert finished.is_set()
    body = bytes(received)
    assert len(body) > FIVE_MB
    page = re.sub(HEAD_SCRIPTS, b"", body, count=3, flags=re.DOTALL)
    assert page.startswith(b'<!doctype html><html><head><script type="text/plain"')
    assert LOADER not in body
    assert body.count(b"<p>first</p>") == 2000
    assert body.count(row) == count * (65536 // len(row))
    assert body.count(BANNER) == 1
    assert body.endswith(TAIL)


@pytest.fixture
def html_file(tmp_path: Path) -> Path:
    path = tmp_path / "index.html"
    path.write_bytes(PAGE)
    return path


def _file_app(path: Path) -> ConsentGate:
    async def page(request: Request) -> Response:
        return FileResponse(path)

    return gate(Starlette(routes=[Route("/", page, methods=["GET", "HEAD"])]))


def test_head_of_a_file_response_has_no_body_and_no_bogus_length(html_file: Path) -> None:
    with serve(_file_app(html_file)) as url:
        response = raw_request(url, "HEAD")
        get = raw_request(url)
    assert response.status == 200
    assert response.body == b""
    # Either the file's own length (what the app said) or none: never one computed from nothing.
    assert response.values("content-length") in ([str(html_file.stat().st_size)], [])
    assert response.values("content-type") == get.values("content-type")
    assert get.values("content-length") == [str(len(get.body))]


def test_a_file_response_html_page_is_rewritten(html_file: Path) -> None:
    with serve(_file_app(html_file)) as url:
        response = raw_request(url)
    assert response.status == 200
    assert BANNER in response.body
    assert LOADER not in response.body
    assert PIXEL not in response.body
    assert response.values("content-length") == [str(len(response.body))]
    assert response.values("etag") == []
    assert response.values("last-modified") == []
    assert response.values("vary") == ["Cookie, Accept-Language, Sec-GPC"]


def test_a_large_file_response_is_rewritten_and_streamed(tmp_path: Path) -> None:
    path = tmp_path / "big.html"
    rows = b"<p>a long file served in several chunks</p>\n" * 10_000
    path.write_bytes(PAGE.replace(b"<p>Body text.</p>", rows))
    with serve(_file_app(path)) as url:
        response = raw_request(url)
    assert response.values("content-length") == []
    assert response.complete
    assert response.body.count(b"<p>a long file") == 10_000
    assert BANNER in response.body
    assert LOADER not in response.body
    assert response.body.endswith(TAIL)


def test_an_app_that_raises_before_sending_gives_a_500() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("broken app")

    with serve(gate(app)) as url:
        response = raw_request(url)
    assert response.status == 500


def test_an_app_that_raises_mid_stream_ends_the_response_without_hanging() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": PAGE[:100] * 50, "more_body": True})
        raise RuntimeError("broken mid-stream")

    with serve(gate(app)) as url:
        started = time.monotonic()
        response = raw_request(url)
    assert time.monotonic() - started < 10
    assert response.status == 200
    assert not response.complete  # the client can tell the page was cut short
