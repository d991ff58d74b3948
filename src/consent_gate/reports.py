"""What browsers and the gate's guard report about things the gate stopped, counted in memory.

Reports are how a site owner finds trackers the catalogue does not know: a CSP violation names
a host, the fingerprinting guard names a script. Anyone can post a report, so memory is bounded
(a fixed number of distinct keys; later ones only raise an overflow count) and each client
address is rate-limited. Each new key is also logged once, its fields made printable first.
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ._types import Headers

__all__ = ["RateLimit", "ReportBook", "ReportKind", "Reports"]

logger = logging.getLogger("consent_gate")

# What a key must not hold: it goes into a log line (no control characters, which could forge
# lines or drive a terminal) and into the JSON summary (no lone surrogates, which no encoder
# takes: one would make the summary a 500 until restart).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

# A report body (parsed JSON) -> the keys it counts; raises ValueError if it is not one.
Parse = Callable[[Any], Iterable[tuple[str, ...]]]
# A key and the request that reported it -> whether to count it.
Keep = Callable[[tuple[str, ...], Headers], bool]
# A kind's name and a counted key's fields -> (counted elsewhere too: the store, fleet-wide).
Sink = Callable[[str, dict[str, str]], None]


class ReportBook:
    """Counts per key, for at most `limit` distinct keys."""

    def __init__(self, fields: tuple[str, ...], limit: int) -> None:
        self.fields = fields
        self.limit = limit
        self.overflow = 0  # reports whose key arrived after the book was full
        self._counts: dict[tuple[str, ...], int] = {}

    def add(self, key: tuple[str, ...]) -> bool:
        """Count one report; True the first time its key is seen."""
        if key in self._counts:
            self._counts[key] += 1
            return False
        if len(self._counts) >= self.limit:
            self.overflow += 1
            return False
        self._counts[key] = 1
        return True

    def rows(self) -> list[dict[str, Any]]:
        """Every key with its count, most frequent first."""
        ranked = sorted(self._counts.items(), key=lambda item: (-item[1], item[0]))
        return [{**dict(zip(self.fields, key, strict=True)), "count": n} for key, n in ranked]


class RateLimit:
    """A token bucket per client address; the table of addresses is bounded too."""

    def __init__(self, per_minute: int, clients: int = 10_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(per_minute)
        self.clients = clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, client: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        tokens, then = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > self.clients:
            self._buckets.popitem(last=False)  # the least recently heard-from client
        return allowed


@dataclass(frozen=True)
class ReportKind:
    """One kind of report: how to read its body and what its keys are made of."""

    name: str
    fields: tuple[str, ...]
    parse: Parse
    keep: Keep | None = None  # e.g. drop what the sender's consent now allows


class Reports:
    """The report books of one gate, one per kind, behind one rate limit."""

    def __init__(self, per_minute: int = 60, limit: int = 1000) -> None:
        self.limit = limit
        self.rate_limit = RateLimit(per_minute)
        self.sink: Sink | None = None  # e.g. `ReportFlusher.add`, for every process's view
        self._kinds: dict[str, tuple[ReportKind, ReportBook]] = {}

    def register(self, kind: ReportKind) -> None:
        self._kinds[kind.name] = (kind, ReportBook(kind.fields, self.limit))

    def __contains__(self, name: str) -> bool:
        return name in self._kinds

    def receive(self, name: str, body: Any, headers: Headers | None = None) -> int:
        """Count a parsed report body; the number of keys it held. ValueError if malformed."""
        kind, book = self._kinds[name]
        count = 0
        for raw in kind.parse(body):
            count += 1
            key = tuple(_UNPRINTABLE.sub("\ufffd", field) for field in raw)
            if kind.keep is not None and not kind.keep(key, headers or []):
                continue
            self._count(kind, book, key)
        return count

    def record(self, name: str, key: tuple[str, ...]) -> None:
        """Count what the gate itself saw (no body to parse, no client to rate-limit)."""
        kind, book = self._kinds[name]
        joined = "".join(key)
        if not (joined.isascii() and joined.isprintable()):  # per element: the rare case only
            key = tuple(_UNPRINTABLE.sub("\ufffd", field) for field in key)
        self._count(kind, book, key)

    def _count(self, kind: ReportKind, book: ReportBook, key: tuple[str, ...]) -> None:
        if self.sink is not None:
            self.sink(kind.name, dict(zip(kind.fields, key, strict=True)))
        if book.add(key):
            logger.warning(
                "consent_gate: new %s report: %s",
                kind.name,
                ", ".join(f"{f}={v}" for f, v in zip(kind.fields, key, strict=True)),
            )

    def summary(self) -> dict[str, Any]:
        """Every book, as the reports endpoint serves it."""
        return {
            name: {"reports": book.rows(), "overflow": book.overflow}
            for name, (_, book) in self._kinds.items()
        }
