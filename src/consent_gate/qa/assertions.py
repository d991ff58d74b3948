"""Assertions for browser tests: did this page track, and in which categories?

A request counts as tracking when the policy's catalogue puts it in a category that is not
required (analytics, marketing, ...); other third-party requests (fonts, CDNs) are not tracking.
Failures list every offending request, so a red test says what leaked and from which page.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from ..policy import Policy
from ..rules import Classifier, Match
from .recorder import Hit, TrackerRecorder, recorder_of

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

__all__ = ["assert_no_tracking", "assert_tracked", "tracking_hits"]


@cache
def _default_classifier() -> Classifier:
    return Classifier(Policy.default().services)


def tracking_hits(
    target: TrackerRecorder | Page | BrowserContext, *, policy: Policy | None = None
) -> list[tuple[Hit, Match]]:
    """Every recorded request that belongs to a non-required category, with its service."""
    recorder = target if isinstance(target, TrackerRecorder) else recorder_of(target)
    classifier = Classifier(policy.services) if policy else _default_classifier()
    required = {c.id for c in (policy or Policy()).categories if c.required}
    found = []
    for hit in recorder.hits:
        match = classifier.url(hit.url)
        if match is not None and match.category not in required:
            found.append((hit, match))
    return found


def assert_no_tracking(
    target: TrackerRecorder | Page | BrowserContext, *, policy: Policy | None = None
) -> None:
    """Fail, listing the requests, if anything tracked."""
    found = tracking_hits(target, policy=policy)
    if found:
        raise AssertionError(
            f"{len(found)} tracking request(s) were made, expected none:\n" + _listing(found)
        )


def assert_tracked(
    target: TrackerRecorder | Page | BrowserContext,
    category: str,
    *,
    policy: Policy | None = None,
) -> None:
    """Fail unless at least one request of `category` was made; list what was seen instead."""
    found = tracking_hits(target, policy=policy)
    if not any(match.category == category for _, match in found):
        seen = _listing(found) if found else "  (no tracking requests at all)"
        raise AssertionError(f"no {category} tracker was requested; tracking seen:\n{seen}")


def _listing(found: list[tuple[Hit, Match]]) -> str:
    return "\n".join(
        f"  {match.category:<11} {match.service:<20} {hit.method} {hit.resource_type:<10} "
        f"{hit.url}  (page {hit.page_url or '?'})"
        for hit, match in found
    )
