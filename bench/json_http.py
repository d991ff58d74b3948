"""Requests/s of a small JSON response through uvicorn, bare vs gated, in one run.

What the gate's lean path costs end to end (target: gated >= 0.97x bare). Two uvicorn servers on
127.0.0.1 (bench/served.py's apps, the ones bench/run.py's report serves: the same Starlette app,
bare and wrapped in ConsentGate), driven by wrk in interleaved rounds; each round's gated/bare
ratio is paired, since runs next to each other share the machine's state. Two requests: with no
headers, and as a browser's fetch() sends it (Accept, Accept-Language, a consent cookie and a site
cookie). Requests per server CPU-second are shown beside wall-clock requests/s: on a shared machine
they move less with the neighbours; so does the implied ratio, the bare server's CPU per request
over that plus the gate's own CPU per request measured in-process (no server) in the same run.

    python bench/json_http.py [--duration 3] [--rounds 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import pages  # beside this script, so on sys.path when it runs
from contenders import gate_setup
from served import (
    HttpCase,
    Server,
    asgi_cost,
    build_app,
    check_case,
    http_unavailable,
    run_wrk,
    start_server,
    stop_server,
)

TARGET = 0.97


def cases(accept_cookie: str) -> dict[str, tuple[str, ...]]:
    browser = (
        "Accept: application/json, text/plain, */*",
        "Accept-Language: en-GB,en;q=0.9",
        "Accept-Encoding: gzip, deflate, br",
        f"Cookie: {accept_cookie}; sessionid=s3cr3t",
    )
    return {"no headers": (), "browser fetch": browser}


@dataclass
class Pair:
    bare_rps: float  # median wall-clock requests/s
    gated_rps: float
    ratio: float  # median of the rounds' gated/bare
    ratios: list[float]
    cpu_ratio: float | None  # median of the rounds' gated/bare per server CPU-second
    added_us: float  # the gate's CPU per request, in-process (gated minus bare, no server)
    implied: float | None  # bare server CPU per request / (that + added_us): steady under load


def measure(
    servers: dict[str, Server], headers: tuple[str, ...], duration: float, rounds: int
) -> Pair:
    """Interleaved rounds of bare and gated; medians and paired ratios."""
    pair = [HttpCase(f"json {kind}", kind, "/json", headers) for kind in ("bare", "gated")]
    page = pages.messy_page()
    for case in pair:
        problem = check_case(case, servers[case.server], page)
        if problem:
            raise RuntimeError(f"{case.name}: {problem}")
        run_wrk(servers[case.server], case, min(2.0, duration))  # warm-up, discarded
    rps: dict[str, list[float]] = {"bare": [], "gated": []}
    cpu: dict[str, list[float]] = {"bare": [], "gated": []}
    for index in range(rounds):
        for case in pair if index % 2 == 0 else reversed(pair):
            run = run_wrk(servers[case.server], case, duration)
            if run.errors:
                raise RuntimeError(f"{case.name}: {run.errors}")
            rps[case.server].append(run.rps)
            if run.per_cpu is not None:
                cpu[case.server].append(run.per_cpu)
    ratios = [g / b for g, b in zip(rps["gated"], rps["bare"], strict=True)]
    cpu_ratios = [g / b for g, b in zip(cpu["gated"], cpu["bare"], strict=True)]
    added = asgi_cost(build_app("gated"), pair[1]) - asgi_cost(build_app("bare"), pair[0])
    server_us = 1e6 / statistics.median(cpu["bare"]) if cpu["bare"] else None
    return Pair(
        statistics.median(rps["bare"]),
        statistics.median(rps["gated"]),
        statistics.median(ratios),
        ratios,
        statistics.median(cpu_ratios) if cpu_ratios else None,
        added,
        None if server_us is None else server_us / (server_us + added),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=3, help="whole seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    reason = http_unavailable()
    if reason:
        print(f"JSON through uvicorn: N/A: {reason}")
        return 0
    setup = gate_setup()
    servers: dict[str, Server] = {}
    results: dict[str, Pair] = {}
    try:
        for kind in ("bare", "gated"):
            servers[kind] = start_server(kind)
        for name, headers in cases(setup.accept_cookie).items():
            found = results[name] = measure(servers, headers, args.duration, args.rounds)
            rounds = " ".join(f"{r:.3f}" for r in found.ratios)
            cpu = "N/A" if found.cpu_ratio is None else f"{found.cpu_ratio:.3f}"
            implied = "N/A" if found.implied is None else f"{found.implied:.3f}"
            verdict = "PASS" if found.ratio >= TARGET else f"MISS (target {TARGET})"
            print(
                f"JSON through uvicorn, {name}: bare {found.bare_rps:.0f} req/s, gated "
                f"{found.gated_rps:.0f} req/s: gated/bare {found.ratio:.3f} {verdict} "
                f"(rounds {rounds}; per server CPU-s {cpu}); the gate adds "
                f"{found.added_us:.1f} us CPU in-process, so implied {implied}",
                flush=True,
            )
    finally:
        for server in servers.values():
            stop_server(server)
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"load average {load} on {os.cpu_count()} CPUs: past 1 per CPU, trust the CPU-s ratio")
    if args.json:
        figures = {name: asdict(pair) for name, pair in results.items()}
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
