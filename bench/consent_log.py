"""Benchmark the decision endpoint with the consent log off and on, per store, in one run.

The request is `POST /consent-gate/consent` (JSON "accept all" from a browser user agent).

1. HTTP: uvicorn in its own process, loaded by wrk (16 connections); the server is stopped with
   SIGINT, so the lifespan shutdown flushes the log, and the records are counted: a log that
   drops records cannot post a good number. This is the figure the >= 0.9x target is for.
2. In-process: full ASGI calls on one event loop without any HTTP parsing: a request is only
   ~50 us, so the log's share of it is the largest here.

Each row also gives the server process's CPU time per request (all its threads; the consent
log's writer process is not the server's): unlike requests/s, it hardly moves when other work
shares the machine.

Rounds alternate off/on so drift on a shared machine hits both alike; the medians are compared,
and the load average before and after is printed (the machine may be shared).
PostgreSQL is a throwaway cluster (tests/storage/pg_cluster.py) unless --postgres DSN is given;
what cannot run (no wrk, no PostgreSQL) is reported as N/A with the reason.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from consent_gate import ConsentGate, Policy
from consent_gate.policy import LogSettings
from consent_gate.storage import open_store

ROOT = Path(__file__).resolve().parents[1]
UA = (
    b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/131.0.0.0 Safari/537.36"
)
BODY = b'{"action": "accept_all", "via": "banner"}'
SCOPE = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/consent-gate/consent",
    "raw_path": b"/consent-gate/consent",
    "query_string": b"",
    "root_path": "",
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
    "headers": [
        (b"host", b"127.0.0.1:8000"),
        (b"origin", b"http://127.0.0.1:8000"),
        (b"content-type", b"application/json"),
        (b"accept", b"application/json"),
        (b"user-agent", UA),
        (b"content-length", str(len(BODY)).encode()),
    ],
}


async def _site(scope: Any, receive: Any, send: Any) -> None:
    """Only lifespan reaches it: the decision endpoint is the gate's own."""
    assert scope["type"] == "lifespan", scope
    while True:
        message = await receive()
        await send({"type": message["type"] + ".complete"})
        if message["type"] == "lifespan.shutdown":
            return


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": BODY, "more_body": False}


def rate(gate: ConsentGate, seconds: float) -> tuple[float, int, float]:
    """Decisions per second over about `seconds`, how many were made, and this process's CPU
    time per decision in microseconds (all its threads; a writer process is not counted)."""
    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def run() -> tuple[float, int, float]:
        for _ in range(200):  # warm-up: caches, the writer thread, the store connection
            await gate(dict(SCOPE), _receive, send)
        if gate.log is not None:
            gate.log.flush(30)
        count, start, cpu = 0, time.perf_counter(), time.process_time()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            for _ in range(100):
                await gate(dict(SCOPE), _receive, send)
            count += 100
        cpu_us = (time.process_time() - cpu) / count * 1e6
        return count / (time.perf_counter() - start), count + 200, cpu_us

    result = asyncio.run(run())
    assert set(statuses) == {200}, statuses
    return result


# One client sends every decision here: the per-client budget would answer most with 429.
_UNLIMITED = LogSettings(per_minute=1_000_000)


def measure(name: str, dsn: str, rounds: int, seconds: float) -> dict[str, Any]:
    off_policy = dataclasses.replace(Policy.default(), log=LogSettings(enabled=False))
    on_policy = dataclasses.replace(Policy.default(), log=_UNLIMITED)
    offs: list[tuple[float, float]] = []
    ons: list[tuple[float, float]] = []
    made = 0
    before = _count(dsn)
    on = ConsentGate(_site, secret_key="bench", policy=on_policy, store=dsn)
    assert on.log is not None
    on.log.start()  # as lifespan start-up does
    for _ in range(rounds):
        off = ConsentGate(_site, secret_key="bench", policy=off_policy)
        off_rate, _, off_cpu = rate(off, seconds)
        offs.append((off_rate, off_cpu))
        on_rate, count, on_cpu = rate(on, seconds)
        ons.append((on_rate, on_cpu))
        made += count
    flushed = on.log.flush(120)
    on.log.close()
    stored = _count(dsn) - before
    assert flushed, f"{name}: the writer did not drain"
    assert stored == made, f"{name}: {made} decisions, {stored} records"
    return _result(name, offs, ons, stored)


def _result(
    name: str, offs: list[tuple[float, float]], ons: list[tuple[float, float]], records: int
) -> dict[str, Any]:
    """Medians of (requests/s, server CPU us per request) over the rounds."""
    off, on = statistics.median(r for r, _ in offs), statistics.median(r for r, _ in ons)
    return {
        "store": name,
        "off": off,
        "on": on,
        "ratio": on / off,
        "cpu_off": statistics.median(c for _, c in offs),
        "cpu_on": statistics.median(c for _, c in ons),
        "records": records,
        "rounds": [round(b[0] / a[0], 2) for a, b in zip(offs, ons, strict=True)],
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve(dsn: str | None, port: int) -> None:
    """The server process: the gate alone, logging to `dsn` (None: log off)."""
    import uvicorn

    policy = Policy.default()
    log = dataclasses.replace(_UNLIMITED, dsn=dsn) if dsn else LogSettings(enabled=False)
    app = ConsentGate(_site, secret_key="bench", policy=dataclasses.replace(policy, log=log))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")


_LUA = """wrk.method = "POST"
wrk.body = '{"action": "accept_all", "via": "banner"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Origin"] = "http://127.0.0.1:%d"
wrk.headers["User-Agent"] = "%s"
"""


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk_rate(dsn: str | None, seconds: float, tmp: Path) -> tuple[float, int, float]:
    """(requests/s, requests answered, the server process's CPU us per request) of one run."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", dsn or "off", "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        script = tmp / "post.lua"
        script.write_text(_LUA % (port, UA.decode()))
        url = f"http://127.0.0.1:{port}/consent-gate/consent"
        command = ["wrk", "-t1", "-c16", f"-d{max(1, round(seconds))}s", "-s", str(script), url]
        cpu = _cpu_seconds(server.pid)
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        cpu = _cpu_seconds(server.pid) - cpu
    finally:
        server.send_signal(signal.SIGINT)  # lifespan shutdown: the log is flushed
        server.wait(60)
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return rate, total, cpu / total * 1e6


def measure_http(name: str, dsn: str, rounds: int, seconds: float) -> dict[str, Any]:
    offs: list[tuple[float, float]] = []
    ons: list[tuple[float, float]] = []
    answered = 0
    before = _count(dsn)
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            off_rate, _, off_cpu = wrk_rate(None, seconds, Path(tmp))
            offs.append((off_rate, off_cpu))
            rate, total, cpu = wrk_rate(dsn, seconds, Path(tmp))
            ons.append((rate, cpu))
            answered += total
    stored = _count(dsn) - before
    assert stored >= answered, f"{name}: {answered} decisions answered, {stored} records"
    return _result(name, offs, ons, stored)


def _count(dsn: str) -> int:
    store = open_store(dsn)
    try:
        return store.count()
    finally:
        store.close()


def _postgres(given: str | None) -> tuple[str | None, Callable[[], None], str]:
    if given:
        return given, lambda: None, ""
    sys.path.insert(0, str(ROOT / "tests" / "storage"))
    try:
        from pg_cluster import Cluster

        cluster = Cluster()
    except Exception as exc:
        return None, lambda: None, f"PostgreSQL could not be started: {exc}"
    return cluster.database(), cluster.remove, ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--postgres", metavar="DSN", help="an existing, empty database")
    parser.add_argument("--http-only", action="store_true", help="skip the in-process part")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(None if args.serve == "off" else args.serve, args.port)
        return
    http: list[dict[str, Any]] = []
    inprocess: list[dict[str, Any]] = []
    no_wrk = None if shutil.which("wrk") else "wrk is not installed (make bench installs it)"
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        dsn, stop, why = _postgres(args.postgres)
        stores = {
            "sqlite": (f"sqlite:///{Path(tmp) / 'http.sqlite3'}", ""),
            "postgres": (dsn, why),
        }
        try:
            for name, (store, reason) in stores.items():
                if store is None or no_wrk:
                    http.append({"store": name, "why": reason or no_wrk})
                else:
                    http.append(measure_http(name, store, args.rounds, args.seconds))
            for name, (store, reason) in stores.items():
                if args.http_only:
                    continue
                if store is None:
                    inprocess.append({"store": name, "why": reason})
                else:
                    inprocess.append(measure(name, store, args.rounds, args.seconds / 2))
        finally:
            stop()
    report("HTTP (uvicorn, wrk -c16)", http, args.rounds)
    if inprocess:
        report("in-process ASGI, no HTTP parsing", inprocess, args.rounds)
    print(f"\nload average (1 min) before: {load[0]:.2f}, after: {os.getloadavg()[0]:.2f}")


def report(title: str, results: list[dict[str, Any]], rounds: int) -> None:
    print(f"\nConsent log: decision endpoint, {title}, median of {rounds} rounds")
    print(f"{'store':10} {'log off req/s':>14} {'log on req/s':>13} {'ratio':>6}  target  "
          f"{'records':>8}  server CPU us/req off/on  ratio per round")  # fmt: skip
    for row in results:
        if "why" in row:
            print(
                f"{row['store']:10} {'N/A':>14} {'N/A':>13} {'N/A':>6}  >=0.90  N/A  {row['why']}"
            )
            continue
        verdict = "PASS" if row["ratio"] >= 0.9 else "MISS"
        print(
            f"{row['store']:10} {row['off']:14.0f} {row['on']:13.0f} {row['ratio']:6.2f}  "
            f">=0.90 {verdict}  {row['records']:7d}  {row['cpu_off']:11.1f} /{row['cpu_on']:6.1f}"
            f"      {' '.join(map(str, row['rounds']))}"
        )


if __name__ == "__main__":
    main()
