"""A decision as the request's thread captures it: a flat tuple of raw inputs.

Making the row costs the event loop a fraction of a microsecond: no objects of ours, no
clock conversion, no header parsing. Whatever can be worked out later (the banner version from
the Accept-Language header, the timestamp as a datetime, the expiry) is, by the writer: in its
own process when the log has a DSN. A batch of rows crosses the pipe as one `marshal` dump,
four times cheaper than pickling (plain dicts, strings, bytes and ints are all a row holds).
"""

from __future__ import annotations

import marshal
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .. import i18n
from .records import Decision, Shown

__all__ = ["Row", "Rows", "dump", "load"]

Row = tuple[
    str,  # consent id
    int,  # decided at: time.time_ns(), the clock datetime.now() reads
    str,  # action
    Mapping[str, bool],  # choices
    int,  # revision
    str | bytes | None,  # the banner's language if known, else the Accept-Language header
    Mapping[str, str],  # signals
    str,  # page
    str,  # method
    bytes,  # user agent, as sent
    str | None,  # client address; None unless the log keeps truncated addresses
    str | None,  # the consent id this decision replaces
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Rows:
    """Turns rows into `Decision`s; plain data, so the writer process gets a copy."""

    shown: Mapping[str, Shown]  # by language; the first is the default
    languages: tuple[str, ...]  # as the banner offers them, in its order
    default_lang: str
    max_age: int
    _negotiated: dict[bytes | None, str] = field(default_factory=dict, compare=False, repr=False)

    def decision(self, row: Row) -> Decision:
        (consent_id, ns, action, choices, revision, lang) = row[:6]
        (signals, page, method, agent, client, replaces) = row[6:]
        if not isinstance(lang, str):
            lang = self._negotiate(lang)
        shown = self.shown.get(lang) or next(iter(self.shown.values()))
        return Decision(
            consent_id=consent_id,
            decided_at=_EPOCH + timedelta(microseconds=ns // 1000),  # floored, as datetime.now
            action=action,
            choices=choices,
            revision=revision,
            shown=shown.hash,
            signals=signals,
            page=page,
            method=method,
            user_agent=agent.decode("latin-1"),
            client=client,
            max_age=self.max_age,
            replaces=replaces,
        )

    def _negotiate(self, accept_language: bytes | None) -> str:
        """As the banner does (`Banner.language`); a few distinct headers make most traffic."""
        lang = self._negotiated.get(accept_language)
        if lang is None:
            text = accept_language.decode("latin-1") if accept_language else ""
            ranges = i18n.parse_accept_language(text) if text else ()
            lang = i18n.negotiate(ranges, self.languages, self.default_lang)
            if len(self._negotiated) >= 1024:  # bounded: headers come from visitors
                self._negotiated.clear()
            self._negotiated[accept_language] = lang
        return lang


def dump(rows: list[Row]) -> bytes:
    """One batch as bytes for the pipe (the same interpreter reads it: `marshal` is safe)."""
    try:
        return marshal.dumps(rows)
    except ValueError:  # a mapping that is not a plain dict
        return marshal.dumps([_plain(row) for row in rows])


def load(data: bytes) -> list[Row]:
    rows: list[Row] = marshal.loads(data)
    return rows


def _plain(row: Row) -> Row:
    return (*row[:3], dict(row[3]), row[4], row[5], dict(row[6]), *row[7:])
