"""The report's words and table: each section's details as printed, and the summary rows.

Kept apart from the measuring (bench/throughput.py, bench/served.py, bench/streaming.py) so the
targets and verdicts (value, same-run baseline, ratio, target, PASS/MISS/INFO/N/A) read in one
place, and a measurement can change without touching how it is judged.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Any

import pages  # beside this script, so on sys.path when it runs
from contenders import CHUNK
from served import PAIRS, SLOW_DELAY, HttpResults
from throughput import PageThroughput


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


def report_inprocess(costs: dict[str, float]) -> None:
    say("  the same requests in-process (no server), CPU per request, median:")
    for name, cost in costs.items():
        say(f"    {name:24s} {cost:8.1f} us")


def report_memory(size: int, probe: dict[str, Any]) -> None:
    say(
        f"  {size / 1e6:4.0f} MB page: {probe['bytes_in']:,} bytes in, "
        f"{probe['bytes_out']:,} out, "
        f"{probe['held_back']} held back (expected {probe['expected']}), peak RSS growth "
        f"{probe['rss_growth'] / 2**20:.1f} MiB, tracemalloc peak "
        f"{probe['tracemalloc_peak'] / 2**20:.2f} MiB, "
        f"{probe['mb_per_s']:.0f} MB/s per CPU-s through the whole middleware"
    )


def report_ttfb(inproc: dict[str, dict[str, float]], h: HttpResults) -> None:
    for name, values in inproc.items():
        say(
            f"  in-process {name:5s}: first body bytes after {values['ttfb_ms']:.3f} ms, "
            f"{values['bytes_before_rest']:.0f} bytes out before the rest "
            "(held-back tags grow when rewritten)"
        )
    for name, value in h.ttfb_ms.items():
        say(f"  over uvicorn {name:5s}: first body byte after {value:.2f} ms (median of 5)")


def na_rows(metrics: tuple[str, ...], reason: str) -> list[Row]:
    return [Row(m, "-", "-", "-", "-", f"N/A ({reason[:60]})") for m in metrics]
