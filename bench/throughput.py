"""Rewriter throughput on the generated pages: every contender timed, each output checked first.

bench/run.py's section [2]: the gate's rewriter (alone, with the injector, after "Accept all",
stamping CSP nonces) beside a bytes copy and python-lolhtml doing the same work, on one page fed
in CHUNK-sized pieces. The outputs are checked before anything is timed (the elements held back
are counted), so a broken or no-op path cannot post a good number.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import pages  # beside this script, so on sys.path when it runs
from contenders import (
    BENCH_NONCE,
    LOLHTML_DIFFERENCES,
    MARK,
    GateSetup,
    Rate,
    chunked,
    copy_floor,
    gate_accepted,
    gate_pipeline,
    gate_rewriter,
    gate_rewriter_csp,
    lolhtml_rewriter,
    measure,
)


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
