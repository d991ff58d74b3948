"""Benchmark consent_gate against baselines measured in the same run; `make bench` runs it.

Absolute numbers depend on the machine and on whatever else it is doing, so every figure is
reported beside a baseline taken in the same run (a bytes copy, python-lolhtml doing the same
work, a bare Starlette app, Starlette's own GZipMiddleware) and judged by the ratio where the
target is relative. The report's sections:

1. the generated pages (bench/pages.py) and what they contain;
2. rewriter throughput on a ~100 KB and a ~2 MB messy page, fed in 16 KB chunks, per CPU-second
   (the machine is shared; wall-clock rates are printed beside them);
3. requests/s through uvicorn on 127.0.0.1 measured with wrk, bare vs gated, interleaved, with
   paired ratios and requests per server CPU-second;
4. memory while streaming a 50 MB page through the gate vs a 5 MB one, and time to first byte;
5. a summary table: value, baseline, ratio, target, PASS/MISS.

Every contender's output is checked first (the elements held back are counted), so a broken or
no-op path cannot post a good number. The report goes to stdout and, as JSON, to
bench/results/latest.json. What cannot be measured is reported as N/A with the reason.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import http.client
import importlib.util
import json
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pages  # beside this script, so on sys.path when it runs
from contenders import (
    BENCH_NONCE,
    CHUNK,
    LOLHTML_DIFFERENCES,
    SECRET,
    GateSetup,
    Message,
    Rate,
    Receive,
    Send,
    chunked,
    copy_floor,
    gate_accepted,
    gate_pipeline,
    gate_rewriter,
    gate_rewriter_csp,
    gate_setup,
    lolhtml_rewriter,
    measure,
)

from consent_gate import ConsentGate
from consent_gate.policy import Policy

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent

STREAM_CHUNK = 64 * 1024
MARK = b'data-cg-category="'  # every element consent_gate holds back carries this
HTML_HEADERS = ("Accept: text/html,application/xhtml+xml", "Accept-Encoding: gzip, deflate")
SLOW_FIRST = 16 * 1024  # the slow page sends this much at once ...
SLOW_DELAY = 0.25  # ... and the rest this many seconds later
T = TypeVar("T")


@dataclass
class PageThroughput:
    """Throughput of every contender on one page, plus the checks that each did its job."""

    page: str
    size: int
    floor: Rate
    gate: Rate
    pipeline: Rate
    accepted: Rate
    gate_csp: Rate
    lolhtml: Rate | None
    lolhtml_note: str
    expected: int
    neutralised: int
    lolhtml_neutralised: int | None
    accepted_ok: bool
    gate_csp_ok: bool


def bench_page(name: str, page: pages.Page, setup: GateSetup, samples: int) -> PageThroughput:
    """All throughput contenders on one page, after checking each really does its job."""
    chunks = chunked(page.html)
    size = len(page.html)
    rewritten = b"".join(gate_rewriter(chunks, setup)())
    neutralised = rewritten.count(MARK)
    accepted_out = b"".join(gate_accepted(chunks, setup)())
    accepted_ok = MARK not in accepted_out and len(accepted_out) == size + len(
        setup.snippet_accepted
    )
    stamped = b"".join(gate_rewriter_csp(chunks, setup)())
    unstamped = stamped.replace(f' nonce="{BENCH_NONCE}"'.encode(), b"")
    gate_csp_ok = unstamped == rewritten and stamped != rewritten
    lol_rate, lol_count, lol_note = None, None, LOLHTML_DIFFERENCES
    if importlib.util.find_spec("lolhtml") is None:
        lol_note = "python-lolhtml is not installed (the `bench` extra brings it)"
    else:
        lol_count = b"".join(lolhtml_rewriter(chunks, setup)()).count(MARK)
        lol_rate = measure(lolhtml_rewriter(chunks, setup), size, samples=samples)
    return PageThroughput(
        page=name,
        size=size,
        floor=measure(copy_floor(chunks), size, samples=samples),
        gate=measure(gate_rewriter(chunks, setup), size, samples=samples),
        pipeline=measure(gate_pipeline(chunks, setup), size, samples=samples),
        accepted=measure(gate_accepted(chunks, setup), size, samples=samples),
        gate_csp=measure(gate_rewriter_csp(chunks, setup), size, samples=samples),
        lolhtml=lol_rate,
        lolhtml_note=lol_note,
        expected=page.shape.trackers,
        neutralised=neutralised,
        lolhtml_neutralised=lol_count,
        accepted_ok=accepted_ok,
        gate_csp_ok=gate_csp_ok,
    )


# --- the apps served by uvicorn ------------------------------------------------------------------


def build_app(kind: str) -> Any:
    """The same Starlette app, bare, wrapped in ConsentGate, or wrapped in GZipMiddleware."""
    from starlette.applications import Starlette
    from starlette.middleware.gzip import GZipMiddleware
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    page = pages.messy_page().html

    async def small_json(request: Request) -> Response:
        return JSONResponse({"ok": True, "items": [1, 2, 3], "message": "hello"})

    async def messy(request: Request) -> Response:
        return HTMLResponse(page)

    async def slow(request: Request) -> Response:
        return StreamingResponse(slow_body(page), media_type="text/html; charset=utf-8")

    app = Starlette(
        routes=[Route("/json", small_json), Route("/page", messy), Route("/slow", slow)]
    )
    if kind == "gated":
        return ConsentGate(app, secret_key=SECRET, policy=Policy.default())
    if kind == "gzip":
        return GZipMiddleware(app, minimum_size=500)
    return app


async def slow_body(page: bytes, on_rest: Callable[[], None] | None = None) -> AsyncIterator[bytes]:
    """The first SLOW_FIRST bytes at once, the rest SLOW_DELAY seconds later."""
    yield page[:SLOW_FIRST]
    await asyncio.sleep(SLOW_DELAY)
    if on_rest:
        on_rest()
    yield page[SLOW_FIRST:]


def http_impl() -> str:
    return "httptools" if importlib.util.find_spec("httptools") else "h11"


def serve(kind: str, port: int) -> None:
    """Subprocess entry: one uvicorn worker, asyncio loop, no access log."""
    import uvicorn

    uvicorn.run(
        build_app(kind),
        host="127.0.0.1",
        port=port,
        loop="asyncio",
        http=http_impl(),
        access_log=False,
        log_level="warning",
    )


# --- requests/s with wrk -------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpCase:
    name: str
    server: str
    path: str
    headers: tuple[str, ...]


@dataclass
class Server:
    kind: str
    port: int
    process: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(kind: str) -> Server:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--serve", kind, "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    server = Server(kind, port, process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn ({kind}) exited with {process.returncode}")
        try:
            if fetch(server, "/json", ())[0] == 200:
                return server
        except OSError:
            pass  # not listening yet
        time.sleep(0.1)
    stop_server(server)
    raise RuntimeError(f"uvicorn ({kind}) did not answer on 127.0.0.1:{port} within 30 s")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def fetch(server: Server, path: str, headers: tuple[str, ...]) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", path, headers=dict(h.split(": ", 1) for h in headers))
        response = conn.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def check_case(case: HttpCase, server: Server, page: pages.Page) -> str | None:
    """Why this case's response is wrong, or None: wrk must not time a broken response."""
    status, headers, body = fetch(server, case.path, case.headers)
    if status != 200:
        return f"status {status}"
    if case.path == "/json":
        return None if json.loads(body).get("ok") else "unexpected JSON body"
    if case.server == "gzip":
        if headers.get("content-encoding") != "gzip":
            return "not gzip-encoded"
        body = zlib.decompress(body, zlib.MAX_WBITS | 16)
        return None if body == page.html else "gzip body differs from the page"
    count = body.count(MARK)
    if case.server == "bare":
        return None if body == page.html else "bare body differs from the page"
    if any(h.startswith("Cookie:") for h in case.headers):
        ok = count == 0 and len(body) > len(page.html)
        return None if ok else f"accept-all: {count} held back, {len(body)} bytes"
    expected = page.shape.trackers
    return None if count == expected else f"no consent: {count} held back, expected {expected}"


@dataclass
class WrkRun:
    rps: float  # requests per wall-clock second, as wrk reports them
    per_cpu: float | None  # requests per CPU-second of the server process
    errors: str


def process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a process, from /proc (None where there is no /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(server: Server, case: HttpCase, duration: float, connections: int = 16) -> WrkRun:
    wrk = shutil.which("wrk") or "wrk"
    command = [wrk, "-t1", f"-c{connections}", f"-d{duration:g}s", "--timeout", "5s"]
    for header in case.headers:
        command += ["-H", header]
    command.append(f"http://127.0.0.1:{server.port}{case.path}")
    cpu_before = process_cpu(server.process.pid)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    cpu_after = process_cpu(server.process.pid)
    found = re.search(r"Requests/sec:\s*([\d.]+)", result.stdout)
    total = re.search(r"(\d+) requests in", result.stdout)
    if result.returncode != 0 or found is None or total is None:
        raise RuntimeError(f"wrk failed: {result.stderr.strip() or result.stdout.strip()}")
    per_cpu = None
    if cpu_before is not None and cpu_after is not None and cpu_after > cpu_before:
        per_cpu = int(total.group(1)) / (cpu_after - cpu_before)
    problems = re.findall(r"(Non-2xx or 3xx responses: \d+|Socket errors: [^\n]+)", result.stdout)
    return WrkRun(float(found.group(1)), per_cpu, "; ".join(problems))


@dataclass
class HttpResults:
    measured: bool
    reason: str = ""
    http: str = ""
    uvicorn: str = ""
    wrk: str = ""
    rps: dict[str, float] = field(default_factory=dict)
    runs: dict[str, list[float]] = field(default_factory=dict)
    ratios: dict[str, list[float]] = field(default_factory=dict)  # per round, vs PAIRS[case]
    per_cpu: dict[str, list[float]] = field(default_factory=dict)  # requests per server CPU-s
    cpu_ratios: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    checks: dict[str, str] = field(default_factory=dict)
    ttfb_ms: dict[str, float] = field(default_factory=dict)
    inprocess_us: dict[str, float] = field(default_factory=dict)  # CPU per request, no server


# Each measured case and the baseline it is divided by, round by round: runs next to each other
# in time share the machine's state, so their ratio is steadier than a ratio of medians.
PAIRS = {
    "json gated": "json bare",
    "page gated, no consent": "page bare",
    "page gated, accept-all": "page bare",
    "page GZipMiddleware": "page bare",
}


def http_cases(setup: GateSetup) -> list[HttpCase]:
    accept = (*HTML_HEADERS, f"Cookie: {setup.accept_cookie}")
    return [
        HttpCase("json bare", "bare", "/json", ()),
        HttpCase("json gated", "gated", "/json", ()),
        HttpCase("page bare", "bare", "/page", HTML_HEADERS),
        HttpCase("page gated, no consent", "gated", "/page", HTML_HEADERS),
        HttpCase("page gated, accept-all", "gated", "/page", accept),
        HttpCase("page GZipMiddleware", "gzip", "/page", HTML_HEADERS),  # defaults: level 9
    ]


def http_unavailable() -> str | None:
    if shutil.which("wrk") is None:
        return "wrk is not installed (make bench installs it with apt-get when run as root)"
    if importlib.util.find_spec("uvicorn") is None:
        return "uvicorn is not installed (the `bench` extra brings it)"
    return None


def bench_http(setup: GateSetup, page: pages.Page, duration: float, rounds: int) -> HttpResults:
    """Requests/s per case after checking every response, plus TTFB of the slow page."""
    reason = http_unavailable()
    if reason:
        return HttpResults(measured=False, reason=reason)
    import uvicorn

    version = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    results = HttpResults(
        measured=True,
        http=http_impl(),
        uvicorn=uvicorn.__version__,
        wrk=(version.stdout or version.stderr).split("Copyright")[0].strip(),
    )
    servers: dict[str, Server] = {}
    try:
        for kind in ("bare", "gated", "gzip"):
            servers[kind] = start_server(kind)
        cases = http_cases(setup)
        results.checks = {c.name: check_case(c, servers[c.server], page) or "ok" for c in cases}
        run_rounds(servers, cases, duration, rounds, results)
        results.ttfb_ms = {kind: uvicorn_ttfb(servers[kind]) for kind in ("bare", "gated")}
    finally:
        for server in servers.values():
            stop_server(server)
    return results


def run_rounds(
    servers: dict[str, Server],
    cases: list[HttpCase],
    duration: float,
    rounds: int,
    results: HttpResults,
) -> None:
    """A warm-up per case, then `rounds` rounds of every case; medians and paired ratios."""
    for case in cases:
        run_wrk(servers[case.server], case, min(2.0, duration))  # warm-up, discarded
    for index in range(rounds):
        # Alternate the order so slow drift (thermal, neighbours) hits every case alike.
        for case in cases if index % 2 == 0 else reversed(cases):
            run = run_wrk(servers[case.server], case, duration)
            results.runs.setdefault(case.name, []).append(run.rps)
            if run.per_cpu is not None:
                results.per_cpu.setdefault(case.name, []).append(run.per_cpu)
            if run.errors:
                results.errors[case.name] = run.errors
    results.rps = {name: statistics.median(runs) for name, runs in results.runs.items()}
    results.ratios = _paired(results.runs, rounds)
    results.cpu_ratios = _paired(results.per_cpu, rounds)


def _paired(runs: dict[str, list[float]], rounds: int) -> dict[str, list[float]]:
    """Each case over its baseline, round by round (cases missing a round are left out)."""
    return {
        case: [a / b for a, b in zip(runs[case], runs[base], strict=True)]
        for case, base in PAIRS.items()
        if len(runs.get(case, ())) == len(runs.get(base, ())) == rounds
    }


def uvicorn_ttfb(server: Server, samples: int = 5) -> float:
    """Median milliseconds to the first body byte of the slow page, after one warm-up."""
    socket_ttfb(server.port, "/slow")
    return statistics.median(socket_ttfb(server.port, "/slow") for _ in range(samples)) * 1000


def socket_ttfb(port: int, path: str) -> float:
    """Seconds from sending a request to the first body byte, read off a raw socket."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\nConnection: close\r\n\r\n"
    ).encode()
    first = None
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        start = time.perf_counter()
        sock.sendall(request)
        received = b""
        while data := sock.recv(65536):
            if first is None:
                received += data
                end = received.find(b"\r\n\r\n")
                if end != -1 and len(received) > end + 4:
                    first = time.perf_counter() - start
    if first is None:
        raise RuntimeError(f"no body from 127.0.0.1:{port}{path}")
    return first


# --- the same requests in-process: CPU per request without a server ---------------------------


async def _discard(message: Message) -> None:
    return None


def asgi_cost(app: Any, case: HttpCase, *, samples: int = 5, min_time: float = 0.1) -> float:
    """Median CPU microseconds per request of `app` driven in-process, no server, no network.

    Where wrk's req/s swing with the neighbours' load, this isolates what the gate itself adds.
    """
    headers = [(b"host", b"bench.local")] + [
        (name.lower().encode(), value.encode())
        for name, value in (h.split(": ", 1) for h in case.headers)
    ]

    async def batch(count: int) -> None:
        for _ in range(count):
            scope = {**_scope(case.path), "headers": list(headers)}
            await app(scope, _receive, _discard)

    asyncio.run(batch(20))  # warm-up
    start = time.process_time()
    asyncio.run(batch(20))
    count = max(1, round(min_time / max((time.process_time() - start) / 20, 1e-7)))
    costs = []
    for _ in range(samples):
        start = time.process_time()
        asyncio.run(batch(count))
        costs.append((time.process_time() - start) / count * 1e6)
    return statistics.median(costs)


def bench_inprocess(setup: GateSetup) -> dict[str, float]:
    """CPU microseconds per request for every HTTP case, apps called directly."""
    apps = {kind: build_app(kind) for kind in ("bare", "gated", "gzip")}
    return {case.name: asgi_cost(apps[case.server], case) for case in http_cases(setup)}


# --- memory and streaming ------------------------------------------------------------------------


def _scope(path: str) -> dict[str, Any]:
    """A browser's GET of a page with no cookies: an undecided visitor."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench.local"), (b"accept", b"text/html")],
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "extensions": {},
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


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
    asyncio.run(warm(_scope("/stream"), _receive, _Sink().send))  # imports, caches, templates
    gc.collect()
    base = rss_bytes()
    peak = base

    def sample() -> None:
        nonlocal peak
        peak = max(peak, rss_bytes())

    sink = _Sink(sample)
    start = time.process_time()
    asyncio.run(gate(_scope("/stream"), _receive, sink.send))
    elapsed = time.process_time() - start
    bytes_in = sum(len(part) for part, _ in source.parts(size))
    gc.collect()
    tracemalloc.start()
    traced = _Sink()
    asyncio.run(gate(_scope("/stream"), _receive, traced.send))
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
        [sys.executable, str(Path(__file__).resolve()), "--memory-probe", str(size)],
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

    await app(_scope("/slow"), _receive, send)
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


# --- report --------------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the summary: a value, its same-run baseline, the ratio and the verdict."""

    metric: str
    value: str
    baseline: str
    ratio: str
    target: str
    result: str  # PASS, MISS, INFO or N/A


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.3f}" if a is not None and b else "-"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def throughput_rows(t: PageThroughput) -> list[Row]:
    """Verdicts on MB/s per CPU-second (see Rate); the wall-clock rates are in the details."""
    label = "100 KB" if t.size < 500_000 else "2 MB"
    lol = t.lolhtml.cpu if t.lolhtml else None
    return [
        Row(
            f"rewrite, no consent, {label} (MB/s)",
            f"{t.gate.cpu:.0f}",
            f"lolhtml {lol:.0f}" if lol else "lolhtml N/A",
            _ratio(t.gate.cpu, lol),
            ">= 100 MB/s",
            _verdict(t.gate.cpu >= 100),
        ),
        Row(
            f"held back, no consent, {label}",
            str(t.neutralised),
            f"expected {t.expected}",
            _ratio(t.neutralised, t.expected),
            "== expected",
            _verdict(t.neutralised == t.expected),
        ),
        Row(
            f"accept-all (injector only), {label} (MB/s)",
            f"{t.accepted.cpu:.0f}",
            f"copy {t.floor.cpu:.0f}",
            _ratio(t.accepted.cpu, t.floor.cpu),
            ">= 1000 MB/s",
            _verdict(t.accepted.cpu >= 1000 and t.accepted_ok),
        ),
        Row(
            f"rewriter, no consent, CSP nonces stamped, {label} (MB/s)",
            f"{t.gate_csp.cpu:.0f}",
            f"without nonces {t.gate.cpu:.0f}",
            _ratio(t.gate_csp.cpu, t.gate.cpu),
            "-",
            "INFO" if t.gate_csp_ok else "WRONG",
        ),
    ]


def http_rows(h: HttpResults) -> list[Row]:
    names = ("JSON gated/bare", "page no consent", "page accept-all", "page GZipMiddleware")
    if not h.measured:
        return [Row(f"req/s {n}", "-", "-", "-", "-", f"N/A: {h.reason}") for n in names]
    bad = {name for name, check in h.checks.items() if check != "ok"}

    def row(metric: str, case: str, minimum: float | None) -> Row:
        base = PAIRS[case]
        ratio = statistics.median(h.ratios[case])
        result = "INFO" if minimum is None else _verdict(ratio >= minimum)
        if case in bad or base in bad:
            result = "MISS (bad response)"
        return Row(
            metric,
            f"{h.rps[case]:.0f}",
            f"bare {h.rps[base]:.0f}",
            f"{ratio:.3f}",
            "-" if minimum is None else f">= {minimum}",
            result,
        )

    cpu = h.cpu_ratios.get("json gated")
    cpu_row = (
        Row(
            "JSON gated/bare, per server CPU-s",
            f"{statistics.median(h.per_cpu['json gated']):.0f}",
            f"bare {statistics.median(h.per_cpu['json bare']):.0f}",
            f"{statistics.median(cpu):.3f}",
            ">= 0.95",
            _verdict(statistics.median(cpu) >= 0.95),
        )
        if cpu
        else Row("JSON gated/bare, per server CPU-s", "-", "-", "-", "-", "N/A (no /proc)")
    )
    return [
        row("req/s small JSON, gated", "json gated", 0.95),
        cpu_row,
        implied_json_row(h),
        row("req/s 100 KB page, no consent", "page gated, no consent", None),
        row("req/s 100 KB page, accept-all", "page gated, accept-all", None),
        row("req/s 100 KB page, GZipMiddleware", "page GZipMiddleware", None),
    ]


def implied_json_row(h: HttpResults) -> Row:
    """The gate's own CPU per JSON request (in-process) over uvicorn's CPU per bare request.

    Not a measurement of req/s: the ratio a saturated server core would show if the only
    difference were the gate's measured in-process cost; a check on noisy wrk ratios.
    """
    metric = "JSON gate cost in-process (us/request)"
    us, per_cpu = h.inprocess_us, h.per_cpu.get("json bare")
    if "json gated" not in us or not per_cpu:
        return Row(metric, "-", "-", "-", "-", "N/A (needs in-process and server CPU data)")
    added = us["json gated"] - us["json bare"]
    server = 1e6 / statistics.median(per_cpu)
    return Row(
        metric,
        f"+{added:.1f}",
        f"uvicorn {server:.0f}",
        f"{server / (server + added):.3f}",
        "implied >= 0.95",
        "INFO",
    )


def memory_rows(small: dict[str, Any], large: dict[str, Any]) -> list[Row]:
    mib = 1024 * 1024
    traced_ratio = large["tracemalloc_peak"] / small["tracemalloc_peak"]
    rss_extra = large["rss_growth"] - small["rss_growth"]
    return [
        Row(
            "held back, 50 MB stream",
            str(large["held_back"]),
            f"expected {large['expected']}",
            _ratio(large["held_back"], large["expected"]),
            "== expected",
            _verdict(large["held_back"] == large["expected"]),
        ),
        Row(
            "tracemalloc peak, 50 MB stream (MiB)",
            f"{large['tracemalloc_peak'] / mib:.2f}",
            f"5 MB: {small['tracemalloc_peak'] / mib:.2f}",
            f"{traced_ratio:.2f}",
            "<= 1.5 (flat)",
            _verdict(traced_ratio <= 1.5),
        ),
        Row(
            "peak RSS growth, 50 MB stream (MiB)",
            f"{large['rss_growth'] / mib:.1f}",
            f"5 MB: {small['rss_growth'] / mib:.1f}",
            _ratio(large["rss_growth"], small["rss_growth"]),
            "50MB-5MB < 8 MiB",
            _verdict(rss_extra < 8 * mib),
        ),
    ]


def ttfb_rows(inproc: dict[str, dict[str, float]], h: HttpResults) -> list[Row]:
    limit = SLOW_DELAY * 1000 / 4
    gated, bare = inproc["gated"], inproc["bare"]
    rows = [
        Row(
            "TTFB in-process, gated (ms)",
            f"{gated['ttfb_ms']:.2f}",
            f"bare {bare['ttfb_ms']:.2f}",
            _ratio(gated["ttfb_ms"], bare["ttfb_ms"]),
            f"< {limit:.0f} ms",
            _verdict(gated["ttfb_ms"] < limit),
        ),
        Row(
            "bytes before app's 2nd chunk, gated",
            f"{gated['bytes_before_rest']:.0f}",
            f"bare {bare['bytes_before_rest']:.0f}",
            _ratio(gated["bytes_before_rest"], bare["bytes_before_rest"]),
            "> 0",
            _verdict(gated["bytes_before_rest"] > 0),
        ),
    ]
    if h.measured and h.ttfb_ms:
        rows.append(
            Row(
                "TTFB over uvicorn, gated (ms)",
                f"{h.ttfb_ms['gated']:.2f}",
                f"bare {h.ttfb_ms['bare']:.2f}",
                _ratio(h.ttfb_ms["gated"], h.ttfb_ms["bare"]),
                f"< {limit:.0f} ms",
                _verdict(h.ttfb_ms["gated"] < limit),
            )
        )
    else:
        rows.append(Row("TTFB over uvicorn", "-", "-", "-", "-", f"N/A: {h.reason}"))
    return rows


def table(rows: list[Row]) -> str:
    header = Row("metric", "value", "baseline", "ratio", "target", "result")
    all_rows = [header, *rows]
    widths = [max(len(getattr(r, f)) for r in all_rows) for f in asdict(header)]
    lines = []
    for index, row in enumerate(all_rows):
        cells = [getattr(row, f) for f in asdict(header)]
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def say(text: str = "") -> None:
    print(text, flush=True)


def describe_page(name: str, page: pages.Page) -> None:
    s = page.shape
    say(
        f"  {name}: {len(page.html):,} bytes, {s.scripts} scripts ({s.tracker_scripts} trackers), "
        f"{s.images} images ({s.tracker_images} trackers), {s.iframes} iframes "
        f"({s.tracker_iframes} trackers), {s.trackers} elements to hold back "
        f"({s.in_noscript} inside <noscript>)"
    )


def report_throughput(t: PageThroughput) -> None:
    say(
        f"  {t.page} ({t.size:,} bytes, {CHUNK // 1024} KB chunks), median MB/s "
        "per CPU-second (wall-clock):"
    )
    contenders = (
        ("copy floor (b''.join)", t.floor),
        ("consent_gate rewriter, no consent", t.gate),
        ("consent_gate rewriter + injector", t.pipeline),
        ("python-lolhtml, same handlers", t.lolhtml),
        ("consent_gate accept-all (injector)", t.accepted),
        ("consent_gate rewriter + CSP nonces", t.gate_csp),
    )
    for name, rate in contenders:
        if rate is None:
            say(f"    {name:36s}      N/A  ({t.lolhtml_note})")
            continue
        spread = f"{min(rate.cpu_samples):.0f}-{max(rate.cpu_samples):.0f}"
        say(f"    {name:36s} {rate.cpu:9.1f}  ({rate.wall:.1f} wall; samples {spread})")
    if t.lolhtml:
        say(f"    consent_gate / lolhtml: {t.gate.cpu / t.lolhtml.cpu:.2f}x")
    say(f"    accept-all / copy floor: {t.accepted.cpu / t.floor.cpu:.3f}x")
    lol_count = "N/A" if t.lolhtml_neutralised is None else str(t.lolhtml_neutralised)
    say(
        f"    held back: consent_gate {t.neutralised} of {t.expected} expected; "
        f"lolhtml {lol_count}; accept-all output "
        f"{'= page + banner, nothing held back' if t.accepted_ok else 'WRONG'}"
    )


def report_http(h: HttpResults) -> None:
    if not h.measured:
        say(f"  not measured: {h.reason}")
        return
    say(
        f"  uvicorn {h.uvicorn}, 1 worker, loop asyncio, http {h.http} "
        f"({'httptools installed' if h.http == 'httptools' else 'httptools not installed'}), "
        f"access log off; {h.wrk}, -t1 -c16; GZipMiddleware with its defaults "
        "(compresslevel 9, minimum_size 500)"
    )
    for name, check in h.checks.items():
        if check != "ok":
            say(f"  RESPONSE CHECK FAILED for {name}: {check}")
    for name, runs in h.runs.items():
        runs_text = ", ".join(f"{v:.0f}" for v in runs)
        cpu = h.per_cpu.get(name)
        per_cpu = f"; {statistics.median(cpu):.0f} per server CPU-s" if cpu else ""
        err = f"   errors: {h.errors[name]}" if name in h.errors else ""
        say(f"  {name:24s} {h.rps[name]:7.0f} req/s  (runs {runs_text}{per_cpu}){err}")
    say("  paired ratios (each round's run over the baseline run next to it), median:")
    for case, base in PAIRS.items():
        ratios = h.ratios[case]
        cpu_ratios = h.cpu_ratios.get(case)
        cpu_text = f"; per server CPU-s {statistics.median(cpu_ratios):.3f}" if cpu_ratios else ""
        say(
            f"    {case} / {base}: {statistics.median(ratios):.3f} "
            f"(rounds {', '.join(f'{v:.3f}' for v in ratios)}{cpu_text})"
        )


def guarded(what: str, fn: Callable[[], T]) -> tuple[T | None, str]:
    """Run one measurement; on failure return the reason, so the report says why, not a guess."""
    try:
        return fn(), ""
    except Exception as exc:  # any failure is reported as N/A with its reason
        reason = f"{what} failed: {type(exc).__name__}: {exc}"
        say(f"  NOT MEASURED: {reason}")
        return None, reason


def na_rows(metrics: tuple[str, ...], reason: str) -> list[Row]:
    return [Row(m, "-", "-", "-", "-", f"N/A ({reason[:60]})") for m in metrics]


def section_throughput(
    setup: GateSetup, named: list[tuple[str, pages.Page]], samples: int
) -> tuple[list[PageThroughput], list[Row]]:
    say("\n[2] rewriter throughput")
    results, rows = [], []
    for name, page in named:
        result, reason = guarded(name, partial(bench_page, name, page, setup, samples))
        if result is None:
            rows += na_rows((f"rewrite {name}", f"accept-all {name}"), reason)
            continue
        results.append(result)
        report_throughput(result)
        rows += throughput_rows(result)
    say(f"  lolhtml differences: {LOLHTML_DIFFERENCES}")
    return results, rows


def section_http(setup: GateSetup, page: pages.Page, args: argparse.Namespace) -> HttpResults:
    say(
        f"\n[3] requests/s through uvicorn (wrk, {args.rounds} interleaved rounds of "
        f"{args.duration:g} s after a warm-up, median; load average {load_average()})"
    )
    results, reason = guarded(
        "HTTP benchmark", lambda: bench_http(setup, page, args.duration, args.rounds)
    )
    if results is None:
        results = HttpResults(measured=False, reason=reason)
    report_http(results)
    costs, reason = guarded("in-process requests", partial(bench_inprocess, setup))
    if costs:
        results.inprocess_us = costs
        say("  the same requests in-process (no server), CPU per request, median:")
        for name, cost in costs.items():
            say(f"    {name:24s} {cost:8.1f} us")
    return results


def section_streaming(page: pages.Page, http: HttpResults) -> tuple[dict[str, Any], list[Row]]:
    say(f"\n[4] memory and streaming (no consent, {STREAM_CHUNK // 1024} KB chunks)")
    probes: dict[str, Any] = {}
    for size in (5_000_000, 50_000_000):
        probe, reason = guarded(f"{size // 10**6} MB stream", partial(run_memory_probe, size))
        probes[f"{size // 10**6}MB"] = probe
        if probe:
            say(
                f"  {size / 1e6:4.0f} MB page: {probe['bytes_in']:,} bytes in, "
                f"{probe['bytes_out']:,} out, "
                f"{probe['held_back']} held back (expected {probe['expected']}), peak RSS growth "
                f"{probe['rss_growth'] / 2**20:.1f} MiB, tracemalloc peak "
                f"{probe['tracemalloc_peak'] / 2**20:.2f} MiB, "
                f"{probe['mb_per_s']:.0f} MB/s per CPU-s through the whole middleware"
            )
    small, large = probes["5MB"], probes["50MB"]
    rows = (
        memory_rows(small, large)
        if small and large
        else na_rows(("memory, 50 MB vs 5 MB stream",), "a memory probe failed, see above")
    )
    say(f"  slow page: {SLOW_FIRST // 1024} KB at once, the rest {SLOW_DELAY * 1000:.0f} ms later")
    ttfb, reason = guarded("in-process TTFB", lambda: bench_ttfb_inprocess(page.html))
    for name, values in (ttfb or {}).items():
        say(
            f"  in-process {name:5s}: first body bytes after {values['ttfb_ms']:.3f} ms, "
            f"{values['bytes_before_rest']:.0f} bytes out before the rest "
            "(held-back tags grow when rewritten)"
        )
    for name, value in http.ttfb_ms.items():
        say(f"  over uvicorn {name:5s}: first body byte after {value:.2f} ms (median of 5)")
    rows += ttfb_rows(ttfb, http) if ttfb else na_rows(("TTFB in-process",), reason)
    return {"memory": probes, "ttfb_inprocess": ttfb}, rows


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    """Every section in order; returns what goes into the JSON file."""
    started = time.perf_counter()
    say("consent_gate benchmark")
    say(
        f"  python {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}, "
        f"git {git_revision()}, load average {load_average()} (other work skews timings)"
    )
    setup = gate_setup()
    messy, long = pages.messy_page(), pages.long_page()
    say("\n[1] pages (generated, seeded)")
    describe_page("messy", messy)
    describe_page("long", long)
    named = [("messy 100 KB", messy), ("long 2 MB", long)]
    page_results, rows = section_throughput(setup, named, args.samples)
    http_results = section_http(setup, messy, args)
    rows += http_rows(http_results)
    streaming, streaming_rows = section_streaming(messy, http_results)
    rows += streaming_rows
    say("\n[5] summary")
    say(table(rows))
    say(
        "  MB/s are per CPU-second of the benchmark process (wall-clock beside them in [2]); "
        "req/s are wall-clock wrk medians, ratios paired per round."
    )
    elapsed = time.perf_counter() - started
    say(
        f"\n  total {elapsed:.0f} s, load average now {load_average()}; "
        f"JSON in {shown_path(args.output)}"
    )
    return {
        "meta": {
            "python": platform.python_version(),
            "cores": os.cpu_count(),
            "git": git_revision(),
            "seconds": elapsed,
            "load_average_end": load_average(),
            "chunk": CHUNK,
        },
        "pages": {"messy": asdict(messy.shape), "long": asdict(long.shape)},
        "throughput": [asdict(t) for t in page_results],
        "lolhtml_differences": LOLHTML_DIFFERENCES,
        "http": asdict(http_results),
        **streaming,
        "summary": [asdict(r) for r in rows],
    }


def shown_path(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def git_revision() -> str:
    result = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or "unknown"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved wrk rounds")
    parser.add_argument("--samples", type=int, default=7, help="timed batches per throughput")
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "results" / "latest.json")
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # subprocess: run one server
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--memory-probe", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        serve(args.serve, args.port)
        return 0
    if args.memory_probe:
        print(json.dumps(memory_probe(args.memory_probe)))
        return 0
    args.output = args.output.resolve()
    results = run_all(args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
