"""Benchmark consent_gate against baselines measured in the same run; `make bench` runs it.

Absolute numbers depend on the machine and on whatever else it is doing, so every figure is
reported beside a baseline taken in the same run (a bytes copy, python-lolhtml doing the same
work, a bare Starlette app, Starlette's own GZipMiddleware) and judged by the ratio where the
target is relative. This program runs the report's sections in order, each measured by a module
of its own:

1. the generated pages (bench/pages.py) and what they contain;
2. rewriter throughput on a ~100 KB and a ~2 MB messy page, fed in 16 KB chunks, per CPU-second
   (the machine is shared; wall-clock rates are printed beside them): bench/throughput.py;
3. requests/s through uvicorn on 127.0.0.1 measured with wrk, bare vs gated, interleaved, with
   paired ratios and requests per server CPU-second, and the same requests in-process:
   bench/served.py;
4. memory while streaming a 50 MB page through the gate vs a 5 MB one, and time to first byte:
   bench/streaming.py;
5. a summary table: value, baseline, ratio, target, PASS/MISS (bench/report.py words it all).

Every contender's output is checked first (the elements held back are counted), so a broken or
no-op path cannot post a good number. The report goes to stdout and, as JSON, to
bench/results/latest.json. What cannot be measured is reported as N/A with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pages  # beside this script, so on sys.path when it runs
from contenders import CHUNK, LOLHTML_DIFFERENCES, GateSetup, gate_setup
from report import (
    Row,
    describe_page,
    http_rows,
    memory_rows,
    na_rows,
    report_http,
    report_inprocess,
    report_memory,
    report_throughput,
    report_ttfb,
    say,
    table,
    throughput_rows,
    ttfb_rows,
)
from served import SLOW_DELAY, SLOW_FIRST, HttpResults, bench_http, bench_inprocess
from streaming import STREAM_CHUNK, bench_ttfb_inprocess, run_memory_probe
from throughput import PageThroughput, bench_page

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
T = TypeVar("T")


def guarded(what: str, fn: Callable[[], T]) -> tuple[T | None, str]:
    """Run one measurement; on failure return the reason, so the report says why, not a guess."""
    try:
        return fn(), ""
    except Exception as exc:  # any failure is reported as N/A with its reason
        reason = f"{what} failed: {type(exc).__name__}: {exc}"
        say(f"  NOT MEASURED: {reason}")
        return None, reason


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
        report_inprocess(costs)
    return results


def section_streaming(page: pages.Page, http: HttpResults) -> tuple[dict[str, Any], list[Row]]:
    say(f"\n[4] memory and streaming (no consent, {STREAM_CHUNK // 1024} KB chunks)")
    probes: dict[str, Any] = {}
    for size in (5_000_000, 50_000_000):
        probe, reason = guarded(f"{size // 10**6} MB stream", partial(run_memory_probe, size))
        probes[f"{size // 10**6}MB"] = probe
        if probe:
            report_memory(size, probe)
    small, large = probes["5MB"], probes["50MB"]
    rows = (
        memory_rows(small, large)
        if small and large
        else na_rows(("memory, 50 MB vs 5 MB stream",), "a memory probe failed, see above")
    )
    say(f"  slow page: {SLOW_FIRST // 1024} KB at once, the rest {SLOW_DELAY * 1000:.0f} ms later")
    ttfb, reason = guarded("in-process TTFB", lambda: bench_ttfb_inprocess(page.html))
    report_ttfb(ttfb or {}, http)
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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.output = args.output.resolve()
    results = run_all(args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
