"""A decision as the request's thread captures it: a flat tuple of raw inputs.

Making the row costs the event loop a fraction of a microsecond: no objects of ours, no
clock conversion, no header parsing. Whatever can be worked out later (the banner version from
the Accept-Language header, the timestamp as a datetime, the expiry) is, by the writer: in its
own process when the log has a DSN. A row is journaled as a `marshal` dump, four times cheaper
than pickling (plain dicts, strings, bytes and ints are all a row holds).
"""

from __future__ import annotations

import marshal
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

from .. import i18n
from .records import Decision, Shown

__all__ = ["Row", "Rows", "dump_row", "load_row"]

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
_ROW_LENGTH = len(get_args(Row))


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


def dump_row(row: Row) -> bytes:
    """The journal's payload for a row; `marshal` reads back only what plain types wrote."""
    values: tuple[Any, ...] = row
    try:
        return marshal.dumps(values)
    except ValueError:  # a mapping that is not a plain dict
        return marshal.dumps((*row[:3], dict(row[3]), row[4], row[5], dict(row[6]), *row[7:]))


def load_row(data: bytes) -> Row:
    """A row from the journal; `ValueError` if it is not one (the shipper quarantines it)."""
    row = marshal.loads(data)
    if not isinstance(row, tuple) or len(row) != _ROW_LENGTH:
        raise ValueError(f"not a decision row: {type(row).__name__}")
    return row
