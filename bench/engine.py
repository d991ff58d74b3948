"""The response engine's speed, end to end, beside its competitors, all in one run.

`python bench/engine.py` prints, per page, MB/s per CPU-second and the ratio to a bytes copy for:

- copy: joining the chunks (the floor: every byte touched once);
- undecided / accepted: a whole request through `ConsentGate` in-process (a desktop Chrome with
  Accept-Language, the page sent in 16 KB body messages), no consent cookie or "Accept all":
  everything the gate adds, banner, head scripts, headers and CSP included;
- bare: the same app without the gate, and JSON gated vs bare (the target is <= 1.25x);
- rewriter: `HtmlRewriter` alone, as the middleware builds it for an undecided visitor;
- scan: the rewriter's compiled pattern alone walking the lower-cased page, stepping over each
  tag it stops at instead of deciding on it: the ceiling of a design whose scan is Python's `re`
  (the figure a gate deciding in Python per examined tag stays well under);
- python-lolhtml with handlers equivalent to the gate's (`contenders.LOLHTML_DIFFERENCES`);
- lol-html-py, which has no handlers: its fixed rewrite (dropping scripts) is the closest it gets;
- selectolax (lexbor) parse + serialise: the DOM reference.

Pages: the generated tag-dense bench pages (bench/pages.py) and the real corpus in
tests/data/pages (SOURCES.toml names each page's origin); median and worst page are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import logging
import statistics
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pages  # beside this script, so on sys.path when it runs
from contenders import (
    CHUNK,
    SECRET,
    GateSetup,
    Message,
    chunked,
    gate_setup,
    lolhtml_rewriter,
    measure,
)

from consent_gate import ConsentGate
from consent_gate.html import HtmlRewriter
from consent_gate.html.grammar import copier
from consent_gate.policy import Policy

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "pages"
CHROME = (
    b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/131.0.0.0 Safari/537.36"
)
JSON_BODY = json.dumps({"items": [{"id": i, "name": f"item {i}"} for i in range(40)]}).encode()
TARGETS = {"undecided": 150.0, "accepted": 1000.0}


class Served:
    """An ASGI app that sends whatever body it is set to, in CHUNK-sized body messages: one
    gate (built once, as a site builds it) serves every page."""

    def __init__(self) -> None:
        self._start: Message = {}
        self._parts: list[bytes] = []

    def set(self, body: bytes, media: bytes) -> None:
        self._start = {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", media)],
        }
        self._parts = chunked(body, CHUNK) or [b""]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send(self._start)
        last = len(self._parts) - 1
        for i, part in enumerate(self._parts):
            await send({"type": "http.response.body", "body": part, "more_body": i < last})


NAVIGATION = b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
FETCH = b"*/*"  # what fetch() and XMLHttpRequest send unless the script says otherwise


def _scope(cookie: bytes | None, accept: bytes = NAVIGATION) -> dict[str, Any]:
    headers = [
        (b"host", b"www.example.com"),
        (b"user-agent", CHROME),
        (b"accept", accept),
        (b"accept-language", b"en-GB,en;q=0.9,de;q=0.8"),
        (b"accept-encoding", b"gzip, deflate, br"),
    ]
    if cookie:
        headers.append((b"cookie", cookie))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": "/article/1",
        "raw_path": b"/article/1",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "server": ("127.0.0.1", 443),
        "client": ("127.0.0.1", 50000),
        "extensions": {},
    }


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


@cache
def _loop() -> asyncio.AbstractEventLoop:
    """One event loop for every request the benchmark makes (each would hold two sockets)."""
    return asyncio.new_event_loop()


def request(
    app: Any, cookie: bytes | None = None, accept: bytes = NAVIGATION
) -> Callable[[], bytes]:
    """One in-process request through `app`, returning the body; each call a fresh scope."""
    loop = _loop()

    def once() -> bytes:
        out: list[bytes] = []

        async def send(message: Message) -> None:
            if message["type"] == "http.response.body":
                out.append(message["body"])

        loop.run_until_complete(app(_scope(cookie, accept), _receive, send))
        return b"".join(out)

    return once


def accept_cookie(gate: ConsentGate) -> bytes:
    """The Cookie header of a visitor who chose "Accept all" (on https, the secure name)."""
    choice = gate.codec.decide(set(gate.policy.optional_categories))
    return f"{gate.codec.cookie_name(secure=True)}={gate.codec.dumps(choice)}".encode()


def rewriter_alone(chunks: list[bytes], setup: GateSetup) -> Callable[[], bytes]:
    """The rewriter as the middleware builds it for an undecided visitor on this host."""
    blocker = setup.blocker.for_host("www.example.com")

    def once() -> bytes:
        rewriter = HtmlRewriter(
            blocker, setup.placeholder, "bench-nonce", "https://www.example.com/article/1"
        )
        out = [rewriter.feed(chunk) for chunk in chunks]
        out.append(rewriter.close())
        return b"".join(out)

    return once


def scan_alone(chunks: list[bytes], setup: GateSetup) -> Callable[[], int]:
    """The copier the rewriter uses on this page (nonces stamped, styles examined) run over
    each chunk, each stop stepped over to the next "<": no decision, no output."""
    blocker = setup.blocker.for_host("www.example.com")
    pattern = copier(blocker.hosts, blocker.examines, False, True, True)

    def once() -> int:
        stops = 0
        for chunk in chunks:
            low, pos, size = chunk.lower(), 0, len(chunk)
            while pos < size:
                pos = pattern.match(low, pos).end()  # type: ignore[union-attr]
                stops += 1
                pos = low.find(b"<", pos + 1) if pos < size else size
                pos = size if pos == -1 else pos
        return stops

    return once


def lol_html_py(chunks: list[bytes]) -> Callable[[], bytes] | None:
    """lol-html-py's fixed rewrite, driven as its documentation shows."""
    if importlib.util.find_spec("lol_html") is None:
        return None
    from lol_html import AsyncRewriter

    loop = _loop()

    async def run() -> bytes:
        rewriter = AsyncRewriter()

        async def produce() -> None:
            for chunk in chunks:
                await rewriter.feed(chunk)
            rewriter.close()

        async def consume() -> bytes:
            return b"".join([bytes(part) async for part in rewriter])

        _, out = await asyncio.gather(produce(), consume())
        return out

    return lambda: loop.run_until_complete(run())


def selectolax(data: bytes) -> Callable[[], str] | None:
    if importlib.util.find_spec("selectolax") is None:
        return None
    from selectolax.lexbor import LexborHTMLParser

    return lambda: LexborHTMLParser(data).html or ""


@dataclass
class PageResult:
    name: str
    size: int
    rates: dict[str, float]  # contender -> MB/s per CPU-second


def bench_page(
    name: str, data: bytes, setup: GateSetup, served: Served, gate: ConsentGate, args: Any
) -> PageResult:
    chunks = chunked(data)
    served.set(data, b"text/html; charset=utf-8")
    contenders: dict[str, Callable[[], object] | None] = {
        "copy": lambda: b"".join(chunks),
        "bare": request(served),
        "undecided": request(gate),
        "accepted": request(gate, accept_cookie(gate)),
        "rewriter": rewriter_alone(chunks, setup),
        "scan": scan_alone(chunks, setup),
        "python-lolhtml": (
            lolhtml_rewriter(chunks, setup) if importlib.util.find_spec("lolhtml") else None
        ),
        "lol-html-py": lol_html_py(chunks),
        "selectolax": selectolax(data),
    }
    if b"cg-banner" not in request(gate)():
        raise RuntimeError(f"{name}: the gated page has no banner: the gate did not run")
    rates = {
        key: measure(fn, len(data), samples=args.samples, min_time=args.min_time).cpu
        for key, fn in contenders.items()
        if fn is not None and key in args.only
    }
    return PageResult(name, len(data), rates)


def json_ratio(served: Served, gate: ConsentGate, accept: bytes, rounds: int) -> float:
    """What a JSON request costs through the gate, as a multiple of the bare app's cost: the
    median of rounds that time both in turn (a few microseconds each, so neighbours' load
    moves single figures by more than the difference)."""
    served.set(JSON_BODY, b"application/json")
    bare, gated = request(served, accept=accept), request(gate, accept=accept)
    ratios = []
    for _ in range(rounds):
        times = []
        for run in (bare, gated):
            run()
            start = time.process_time()
            for _ in range(2000):
                run()
            times.append(time.process_time() - start)
        ratios.append(times[1] / times[0])
    return statistics.median(ratios)


def corpus() -> list[tuple[str, bytes]]:
    sources = tomllib.loads((CORPUS / "SOURCES.toml").read_text())
    return [(p["name"], (CORPUS / p["file"]).read_bytes()) for p in sources["page"]]


COLUMNS = (
    "copy",
    "bare",
    "undecided",
    "accepted",
    "rewriter",
    "scan",
    "python-lolhtml",
    "lol-html-py",
    "selectolax",
)


def row(result: PageResult) -> str:
    cells = [f"{result.name[:28]:<28} {result.size / 1000:>7.0f}"]
    for key in COLUMNS:
        rate = result.rates.get(key)
        cells.append(f"{rate:>10.1f}" if rate is not None else f"{'-':>10}")
    return " ".join(cells)


def header() -> str:
    return f"{'page':<28} {'KB':>7} " + " ".join(f"{k[:10]:>10}" for k in COLUMNS)


def summary(label: str, results: list[PageResult]) -> None:
    print(f"\n{label}: median and worst page, MB/s per CPU-second; gate undecided / this")
    for key in COLUMNS:
        rates = [r.rates[key] for r in results if key in r.rates]
        if not rates:
            continue
        median, worst = statistics.median(rates), min(rates)
        gate = [r.rates["undecided"] for r in results if "undecided" in r.rates]
        ratio = f"  {statistics.median(gate) / median:7.2f}x" if gate else ""
        target = TARGETS.get(key)
        verdict = ""
        if target is not None:
            verdict = "  PASS" if worst >= target else f"  MISS (target {target:.0f})"
        print(f"  {key:<15} median {median:>9.1f}  worst {worst:>9.1f}{ratio}{verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--min-time", type=float, default=0.05)
    parser.add_argument("--pages", type=int, default=0, help="first N corpus pages (0: all)")
    parser.add_argument("--rounds", type=int, default=15, help="of JSON, bare and gated in turn")
    parser.add_argument("--only", default=",".join(COLUMNS), help="contenders, comma-separated")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    args.only = set(args.only.split(","))
    logging.getLogger("consent_gate").setLevel(logging.ERROR)  # reports of unknown hosts
    setup = gate_setup()
    served = Served()
    gate = ConsentGate(served, secret_key=SECRET, policy=Policy.default())
    started = time.perf_counter()
    ratio = json_ratio(served, gate, NAVIGATION, args.rounds)
    fetched = json_ratio(served, gate, FETCH, args.rounds)
    print(
        f"JSON ({len(JSON_BODY)} B), gated / bare in-process (target <= 1.25): "
        f"{ratio:.2f}x asked for with a navigation's Accept, {fetched:.2f}x by fetch() (*/*)"
    )
    print("\nMB/s per CPU-second of this process, 16 KB chunks")
    print(header())
    generated = [
        ("bench messy 100 KB", pages.messy_page().html),
        ("bench long 2 MB", pages.long_page().html),
    ]
    results: dict[str, list[PageResult]] = {"bench": [], "corpus": []}
    for name, data in generated:
        results["bench"].append(bench_page(name, data, setup, served, gate, args))
        print(row(results["bench"][-1]), flush=True)
    real = corpus()
    for name, data in real[: args.pages or None]:
        results["corpus"].append(bench_page(name, data, setup, served, gate, args))
        print(row(results["corpus"][-1]), flush=True)
    summary("bench pages (tag-dense, generated)", results["bench"])
    summary(f"real corpus ({len(results['corpus'])} pages)", results["corpus"])
    print(f"\n{time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "json_gated_over_bare": ratio,
                    "json_fetched_gated_over_bare": fetched,
                    **{k: [r.__dict__ for r in v] for k, v in results.items()},
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
