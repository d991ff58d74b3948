"""Smoke test of the benchmark: its pages have the intended shape and its timer measures.

The benchmark is only meaningful if the generated pages look like real messy pages and if the
rewriter really holds back the trackers on them; both are cheap to check, so CI checks them.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
_COMMENT = re.compile(rb"<!--.*?-->", re.DOTALL)


@pytest.fixture(scope="module")
def bench() -> Iterator[tuple[ModuleType, ModuleType]]:
    """bench/pages.py and bench/contenders.py, imported as the scripts import them."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCH))
        yield importlib.import_module("pages"), importlib.import_module("contenders")


@pytest.fixture(scope="module")
def messy(bench: tuple[ModuleType, ModuleType]) -> Any:
    return bench[0].messy_page()


@pytest.fixture(scope="module")
def setup(bench: tuple[ModuleType, ModuleType]) -> Any:
    return bench[1].gate_setup()


def _count(tag: bytes, html: bytes) -> int:
    """Start tags of one element, case-insensitively, outside comments."""
    return len(re.findall(rb"<" + tag + rb"[\s>/]", _COMMENT.sub(b"", html), re.IGNORECASE))


def test_messy_page_has_the_intended_shape(
    bench: tuple[ModuleType, ModuleType], messy: Any
) -> None:
    pages, _ = bench
    page = messy
    shape = page.shape
    assert 95_000 <= len(page.html) <= 105_000
    assert 60 <= shape.scripts <= 70
    assert 80 <= shape.images <= 90
    assert 18 <= shape.iframes <= 24
    assert (_count(b"script", page.html), _count(b"img", page.html)) == (
        shape.scripts,
        shape.images,
    )
    assert _count(b"iframe", page.html) == shape.iframes
    assert shape.tracker_scripts >= 10
    assert shape.tracker_images >= 5
    assert shape.tracker_iframes >= 8
    assert shape.in_noscript == 3
    assert page.html == pages.messy_page().html  # seeded: identical on every run


def test_messy_page_is_messy(messy: Any) -> None:
    html = messy.html
    signatures = (
        b"googletagmanager.com/gtag/js",  # GA4 external
        b"gtag('config'",  # GA4 inline config
        b"'gtm.start'",  # GTM snippet
        b"googletagmanager.com/ns.html",  # GTM noscript iframe
        b"fbq('init'",  # Meta pixel
        b"facebook.com/tr?",  # Meta noscript image
        b"_hjSettings",  # Hotjar
        b"_linkedin_partner_id",  # LinkedIn
        b"youtube.com/embed/",
        b"player.vimeo.com/video/",
        b"google.com/maps/embed",
        b"srcset=",
        b"<IMG SRC=",  # uppercase tags, unquoted attributes
        b"<!DOCTYPE html>",
        b'</p></body>";',  # "</body>" inside a script string
    )
    assert [s for s in signatures if s not in html] == []


def test_long_page_repeats_the_structure(bench: tuple[ModuleType, ModuleType]) -> None:
    pages, _ = bench
    page = pages.long_page()
    assert 1_900_000 <= len(page.html) <= 2_200_000
    assert page.shape.images > 15 * 80
    assert _count(b"iframe", page.html) == page.shape.iframes


def test_stream_source_sends_what_it_counts(bench: tuple[ModuleType, ModuleType]) -> None:
    pages, _ = bench
    source = pages.StreamSource()
    chunks = list(source.chunks(600_000, 64 * 1024))
    html = b"".join(chunks)
    assert all(len(c) == 64 * 1024 for c in chunks[:-1])
    assert len(html) >= 600_000
    assert _count(b"script", html) == source.shape(600_000).scripts


def test_rewriter_holds_back_every_tracker(
    bench: tuple[ModuleType, ModuleType], messy: Any, setup: Any
) -> None:
    _, contenders = bench
    out = b"".join(contenders.gate_rewriter(contenders.chunked(messy.html), setup)())
    assert out.count(contenders.MARK) == messy.shape.trackers


def test_throughput_measures_something(
    bench: tuple[ModuleType, ModuleType], messy: Any, setup: Any
) -> None:
    _, contenders = bench
    once = contenders.gate_rewriter(contenders.chunked(messy.html), setup)
    rate = contenders.measure(once, len(messy.html), samples=1, min_time=0.01)
    assert rate.cpu > 0


def test_the_report_starts(capsys: pytest.CaptureFixture[str]) -> None:
    """bench/run.py loads its section modules (throughput, served, streaming, report) and parses."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCH))
        run = importlib.import_module("run")
        with pytest.raises(SystemExit) as exited:
            run.main(["--help"])
    assert exited.value.code == 0
    assert "--rounds" in capsys.readouterr().out


def test_the_engine_benchmark_runs_end_to_end(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """bench/engine.py on one corpus page: the JSON ratios, a row per page, the summaries."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCH))
        engine = importlib.import_module("engine")
        args = ["--pages", "1", "--samples", "1", "--min-time", "0.001", "--rounds", "1"]
        out = tmp_path / "figures.json"
        assert engine.main([*args, "--only", "copy,undecided,accepted", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"JSON .*: \d+\.\d\dx asked for .*, \d+\.\d\dx by fetch", printed)
    assert "real corpus (1 pages)" in printed
    figures = json.loads(out.read_text())
    assert figures["json_fetched_gated_over_bare"] > 0
    assert all(r["rates"]["undecided"] > 0 for r in figures["corpus"])
