"""Memory and time to first byte while the gate streams a page, measured in-process.

bench/run.py's section [4]: a 50 MB page streamed through the gate must take no more memory
than a 5 MB one (peak RSS growth and tracemalloc peak, each size in a process of its own, this
file run as `streaming.py SIZE`, so earlier sections' allocations neither hide nor inflate the
peak), and a page whose app sends its first chunk at once must reach the client before the rest
is sent (bare vs gated).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pages  # beside this script, so on sys.path when it runs
from contenders import MARK, SECRET, Message, Receive, Send
from served import browser_scope, empty_receive, slow_body

from consent_gate import ConsentGate
from consent_gate.policy import Policy

ROOT = Path(__file__).resolve().parents[1]
STREAM_CHUNK = 64 * 1024


def stream_app(source: pages.StreamSource, size: int) -> Any:
    """An app that streams a `size`-byte page in 64 KB chunks without ever holding it."""

    async def app(scope: Any, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/html; charset=utf-8")],
            }
        )
        for chunk in source.chunks(size, STREAM_CHUNK):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


class _Sink:
    """A recording `send` that keeps counts, never bodies, so only the gate holds memory."""

    def __init__(self, on_body: Callable[[], None] | None = None) -> None:
        self.bytes = 0
        self.held_back = 0
        self._tail = b""
        self._on_body = on_body

    async def send(self, message: Message) -> None:
        if message["type"] != "http.response.body":
            return
        body = message.get("body", b"")
        self.bytes += len(body)
        window = self._tail + body  # a mark may straddle two messages
        self.held_back += window.count(MARK) - self._tail.count(MARK)
        self._tail = window[-(len(MARK) - 1) :]
        if self._on_body:
            self._on_body()


def rss_bytes() -> int:
    """Current resident set size (Linux /proc), else the peak from getrusage."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_probe(size: int) -> dict[str, Any]:
    """Stream `size` bytes through the gate (no consent): peak RSS growth and tracemalloc peak.

    Runs in its own process so earlier sections' allocations do not hide or inflate the peak.
    """
    source = pages.StreamSource()
    gate = ConsentGate(stream_app(source, size), secret_key=SECRET, policy=Policy.default())
    warm = ConsentGate(stream_app(source, 2_000_000), secret_key=SECRET, policy=Policy.default())
    asyncio.run(
        warm(browser_scope("/stream"), empty_receive, _Sink().send)
    )  # imports, caches, templates
    gc.collect()
    base = rss_bytes()
    peak = base

    def sample() -> None:
        nonlocal peak
        peak = max(peak, rss_bytes())

    sink = _Sink(sample)
    start = time.process_time()
    asyncio.run(gate(browser_scope("/stream"), empty_receive, sink.send))
    elapsed = time.process_time() - start
    bytes_in = sum(len(part) for part, _ in source.parts(size))
    gc.collect()
    tracemalloc.start()
    traced = _Sink()
    asyncio.run(gate(browser_scope("/stream"), empty_receive, traced.send))
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "size": size,
        "bytes_in": bytes_in,
        "bytes_out": sink.bytes,
        "held_back": sink.held_back,
        "expected": source.shape(size).trackers,
        "rss_growth": peak - base,
        "tracemalloc_peak": traced_peak,
        "cpu_seconds": elapsed,
        "mb_per_s": bytes_in / elapsed / 1e6,  # input MB per CPU-second
    }


def run_memory_probe(size: int) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), str(size)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"memory probe ({size} bytes) failed: {result.stderr.strip()[-400:]}")
    probe: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return probe


class _SlowPage:
    """An app that sends its first chunk at once and the rest later, recording what arrives."""

    def __init__(self, page: bytes) -> None:
        self.page = page
        self.rest_sent = False

    async def __call__(self, scope: Any, receive: Receive, send: Send) -> None:
        self.rest_sent = False
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        async for chunk in slow_body(self.page, self._mark_rest):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _mark_rest(self) -> None:
        self.rest_sent = True


async def _ttfb_once(app: Any, slow: _SlowPage) -> tuple[float, int]:
    """(seconds to the first body bytes, bytes that reached the client before the rest left)."""
    start = time.perf_counter()
    first: float | None = None
    before_rest = 0

    async def send(message: Message) -> None:
        nonlocal first, before_rest
        body = message.get("body", b"") if message["type"] == "http.response.body" else b""
        if body and first is None:
            first = time.perf_counter() - start
        if body and not slow.rest_sent:
            before_rest += len(body)

    await app(browser_scope("/slow"), empty_receive, send)
    if first is None:
        raise RuntimeError("the slow page sent no body")
    return first, before_rest


def bench_ttfb_inprocess(page: bytes, rounds: int = 7) -> dict[str, dict[str, float]]:
    """Bare vs gated (no consent) time to first byte when the app sends its first chunk at once."""
    slow = _SlowPage(page)
    apps = {"bare": slow, "gated": ConsentGate(slow, secret_key=SECRET, policy=Policy.default())}
    out: dict[str, dict[str, float]] = {}
    for name, app in apps.items():
        asyncio.run(_ttfb_once(app, slow))  # warm-up: templates, compiled rules
        runs = [asyncio.run(_ttfb_once(app, slow)) for _ in range(rounds)]
        out[name] = {
            "ttfb_ms": statistics.median(r[0] for r in runs) * 1000,
            "bytes_before_rest": min(r[1] for r in runs),
        }
    return out


if __name__ == "__main__":  # run_memory_probe's subprocess: `streaming.py SIZE`
    print(json.dumps(memory_probe(int(sys.argv[1]))))
