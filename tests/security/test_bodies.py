"""Slow and stalled bodies against a real uvicorn: each connection is answered 408 and closed
once the body time limit is up, so a client cannot hold connections and tasks open at will.
Before the fix, 200 stalled bodies all stayed open for as long as the clients liked."""

from __future__ import annotations

import selectors
import socket
import time
from urllib.parse import urlsplit

import pytest

from consent_gate import ConsentGate, Policy, endpoints
from consent_gate._types import Receive, Scope, Send
from consent_gate.qa import serve

CLIENTS = 200
LIMIT = 1.0


async def _site(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _stall(host: str, port: int, path: str) -> socket.socket:
    """A POST that announces 1000 bytes of body, sends 10 and then nothing."""
    sock = socket.create_connection((host, port), timeout=10)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nOrigin: http://{host}:{port}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    sock.sendall(head.encode() + b'{"action":')
    sock.setblocking(False)
    return sock


def test_stalled_bodies_are_answered_408_and_closed_within_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(endpoints, "BODY_SECONDS", LIMIT)
    policy = Policy.from_dict({"log": {"enabled": False}, "reports": {"per_minute": 10_000}})
    with serve(ConsentGate(_site, secret_key="s" * 32, policy=policy)) as url:
        parts = urlsplit(url)
        assert parts.hostname is not None
        assert parts.port is not None
        started = time.monotonic()
        paths = ["/consent-gate/consent", "/consent-gate/reports/csp"]
        socks = [_stall(parts.hostname, parts.port, paths[n % 2]) for n in range(CLIENTS)]
        received = {sock: bytearray() for sock in socks}
        closed_at: dict[socket.socket, float] = {}
        with selectors.DefaultSelector() as selector:
            for sock in socks:
                selector.register(sock, selectors.EVENT_READ)
            while len(closed_at) < CLIENTS and time.monotonic() - started < LIMIT + 20:
                for key, _ in selector.select(timeout=1):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    chunk = sock.recv(65536)
                    if chunk:
                        received[sock] += chunk
                    else:
                        closed_at[sock] = time.monotonic() - started
                        selector.unregister(sock)
        for sock in socks:
            sock.close()
    statuses = {bytes(data.split(b"\r\n", 1)[0]) for data in received.values()}
    slowest = max(closed_at.values(), default=float("inf"))
    print(f"\n{len(closed_at)}/{CLIENTS} stalled bodies closed, the last after {slowest:.2f} s")
    assert len(closed_at) == CLIENTS
    assert statuses == {b"HTTP/1.1 408 Request Timeout"}
    assert all(b"did not arrive within 1 seconds" in data for data in received.values())
    assert min(closed_at.values()) >= LIMIT
    assert slowest < LIMIT + 2
