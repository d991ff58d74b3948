"""Real pages through the gate in Chromium: what it holds before consent, what it breaks, and
that "Accept all" brings everything back.

The pages are real news, portal, shop and blog pages that public projects' test suites saved
(tests/data/pages/SOURCES.toml names each one's source), served from a local app once without the
gate and once through it (default policy). Every non-local host is answered by a recording stub,
so the tracker requests counted are the first-order ones: those the page's own markup and inline
scripts make. Trackers are told by npm third-party-web's categories, not by the gate's catalogue
(bench/corpus.py explains the measure; ``python bench/corpus.py`` prints the per-page table).

The issue's target is to hold at least 95 % of these requests before consent, with no page
broken. ``HELD_FLOOR`` is the fraction measured when this test was written: a regression floor,
to be raised as the gate learns more trackers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from bench import corpus
from playwright.sync_api import Browser

# The module fixture measures the whole corpus once, inside the first test's time limit.
pytestmark = pytest.mark.timeout(900)
SOURCES = {source.name: source for source in corpus.real_pages()}

HELD_FLOOR = 0.985
"""Share of first-order tracker requests held before consent: 20.4 % when the corpus was first
measured, 94.1 % (654 of 695) once the markup, URL, catalogue and run-time work landed, 99.4 %
(818 of 823, 51 pages) with the catalogue's shared-platform entries, held sheets and SVG styles;
the floor sits a few requests of timing noise below that (the target is 0.95). The five left are
not trackers but third-party-web's attributions: Limelight's video CDN (llnwd.net, filed under
Tealium), MSN's own static hosts (s-msn.com, under Bing Ads) and Apple's podcast player
(apple.com, under Auto Link Maker)."""

# Pages that fail today, by test: a strict xfail fails once the page passes, so drop its mark.
BROKEN_TODAY: dict[str, str] = {}
NOT_RELOADED_TODAY: dict[str, str] = {}


def _marked(names: dict[str, str]) -> list[object]:
    return [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=names[name]))
        if name in names
        else name
        for name in SOURCES
    ]


@pytest.fixture(scope="module")
def measured(browser: Browser) -> Iterator[dict[str, Any]]:
    """Every page measured once: ungated, gated before a choice, after "Accept all"."""
    sites = {name: source.site for name, source in SOURCES.items()}
    with corpus.servers(corpus.PAGES) as urls:
        results = corpus.measure(browser, urls, list(SOURCES), sites=sites)
        yield {result.name: result for result in results}


@pytest.mark.parametrize("name", _marked(BROKEN_TODAY))
def test_gate_breaks_no_page(measured: dict[str, Any], name: str) -> None:
    """No page error the ungated page lacks, and (nearly) all its elements and text are there."""
    result = measured[name]
    assert result.baseline.elements > 0, "the ungated page did not render"
    assert result.broken == []


@pytest.mark.parametrize("name", _marked(NOT_RELOADED_TODAY))
def test_accept_all_loads_every_tracker_of_the_ungated_page(
    measured: dict[str, Any], name: str
) -> None:
    """After "Accept all" each tracker host the ungated page reached is reached too."""
    result = measured[name]
    assert result.accept_error is None
    assert result.missing_after_accept == set()


def test_held_fraction_does_not_regress(measured: dict[str, Any]) -> None:
    held, baseline, leaked = corpus.held_fraction(measured.values())
    print(f"\nheld {held:.1%} of {baseline} first-order tracker requests ({leaked} leaked)")
    print("leaks by category:", dict(corpus.leaks_by_category(measured.values())))
    assert baseline > 0
    assert held >= HELD_FLOOR
