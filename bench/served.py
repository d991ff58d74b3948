"""The report's requests: the same Starlette app served bare, gated and gzipped, and their costs.

bench/run.py's section [3] and bench/json_http.py both time these apps: under uvicorn on
127.0.0.1 with wrk (every response checked first, interleaved rounds, paired ratios, requests
per server CPU-second, time to first byte of a slow page), and called in-process with no server
(CPU per request), which isolates what the gate adds where wrk's figures swing with the
machine's load. Each server runs in its own process: this file, run as `served.py KIND PORT`.
"""

from __future__ import annotations

import asyncio
import http.client
import importlib.util
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pages  # beside this script, so on sys.path when it runs
from contenders import MARK, SECRET, GateSetup, Message

from consent_gate import ConsentGate
from consent_gate.policy import Policy

ROOT = Path(__file__).resolve().parents[1]
HTML_HEADERS = ("Accept: text/html,application/xhtml+xml", "Accept-Encoding: gzip, deflate")
SLOW_FIRST = 16 * 1024  # the slow page sends this much at once ...
SLOW_DELAY = 0.25  # ... and the rest this many seconds later


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
        [sys.executable, str(Path(__file__).resolve()), kind, str(port)],
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


def browser_scope(path: str) -> dict[str, Any]:
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


async def empty_receive() -> dict[str, Any]:
    """A GET's empty body: the `receive` of every in-process request here and in streaming.py."""
    return {"type": "http.request", "body": b"", "more_body": False}


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
            scope = {**browser_scope(case.path), "headers": list(headers)}
            await app(scope, empty_receive, _discard)

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


if __name__ == "__main__":  # start_server's subprocess: `served.py KIND PORT`
    serve(sys.argv[1], int(sys.argv[2]))
