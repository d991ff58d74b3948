"""The rewriter's fast paths against its exact path, on every page of the real corpus.

The fast paths copy tags in C that provably load nothing for this visitor; the exact path reads
every loading tag in Python. On real pages (tests/data/pages, SOURCES.toml says where each
comes from), served from their own site to an undecided visitor, both must give the same bytes,
chunked the same way. (Whether chunking changes the output is the hypothesis properties' job;
here it would hide what the fast paths change.)
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from unittest import mock

import pytest

from consent_gate.html import HtmlRewriter, grammar
from consent_gate.html import rewriter as html_rewriter
from consent_gate.policy import Policy
from consent_gate.rules import Blocker, Rules
from consent_gate.unknown import UnknownParties

PAGES = Path(__file__).parent / "data" / "pages"
SOURCES = tomllib.loads((PAGES / "SOURCES.toml").read_text())["page"]
POLICIES = {
    "default": Policy.default(),
    "hold": Policy.from_dict({"unknown": {"third_parties": "hold"}}),
}


def _blocker(policy: Policy, host: str) -> Blocker:
    rules = Rules(policy, unknown=UnknownParties(policy))
    blocker = rules.blocking(frozenset(policy.optional_categories))
    assert blocker is not None
    return blocker.for_host(host)


def _rewrite(blocker: Blocker, page: bytes, url: str, chunk: int) -> bytes:
    out = HtmlRewriter(blocker, lambda match: b"P", "n0nce", url)
    parts = [out.feed(page[i : i + chunk]) for i in range(0, len(page), chunk)]
    return b"".join([*parts, out.close()])


def _exact(blocker: Blocker, page: bytes, url: str, chunk: int) -> bytes:
    """Every loading tag read in Python: no fast path at all."""
    exact = copy.copy(blocker)
    exact.examines = "all"
    with (
        mock.patch.object(grammar, "_unloading", return_value=b""),
        mock.patch.object(html_rewriter, "copier", grammar.copier.__wrapped__),
    ):
        return _rewrite(exact, page, url, chunk)


@pytest.mark.parametrize("policy", sorted(POLICIES))
@pytest.mark.parametrize("source", SOURCES, ids=[s["name"] for s in SOURCES])
def test_fast_paths_give_the_exact_paths_bytes(source: dict[str, str], policy: str) -> None:
    page = (PAGES / source["file"]).read_bytes()
    url = f"https://{source['site']}/"
    blocker = _blocker(POLICIES[policy], source["site"])
    assert blocker.examines == "absolute"
    for chunk in (len(page), 16 * 1024, 997):  # whole, as served, splitting tags
        assert _rewrite(blocker, page, url, chunk) == _exact(blocker, page, url, chunk), chunk
