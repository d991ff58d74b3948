"""Response headers that load like markup does: `Link`, `Refresh` and `Speculation-Rules`.

The browser acts on `Link: <https://tracker/x.js>; rel=preload; as=script` before it reads a
byte of the page, so links to refused trackers are dropped from the header, the others kept as
they came; a `Refresh` to a refused tracker is dropped like a `<meta http-equiv=refresh>`, and
a `Speculation-Rules` rule set on one like a `<script type=speculationrules>` from it.
"""

from __future__ import annotations

import re

from .rules import Blocker
from .urls import refresh_url

__all__ = ["held_links", "held_refresh", "held_speculation_rules"]

# One link: <URI> then its parameters, up to the comma before the next "<" (a quoted parameter
# may hold commas).
_LINK = re.compile(rb'\s*<([^>]*)>((?:[^,"<]|"(?:[^"\\]|\\.)*")*)(?:,|$)')
_AS_SCRIPT = re.compile(rb"(?:^|;)\s*as\s*=\s*\"?script\b", re.IGNORECASE)
# One member of a structured-field list of strings: a quoted string (with its parameters).
_RULE_SET = re.compile(rb'[ \t]*("(?:[^"\\]|\\["\\])*")((?:;[^,]*)?)[ \t]*(?:,|$)')
_STRING_ESCAPE = re.compile(rb'\\(["\\])')


def held_links(value: bytes, blocker: Blocker, base: str) -> bytes | None:
    """`value` without the links to refused trackers (None when none is left); `base`: the
    URL the links' relative URIs resolve against. A part that does not parse is dropped too:
    links only hint, and a browser may read it more leniently."""
    kept: list[bytes] = []
    pos = 0
    while value[pos:].strip():
        link = _LINK.match(value, pos)
        if link is None or link.end() == pos:
            break  # what cannot be read cannot be shown harmless: dropped
        pos = link.end()
        uri = link.group(1).decode("latin-1")
        script = _AS_SCRIPT.search(link.group(2)) is not None
        if blocker.url(uri, script, base=base) is None:
            kept.append(link.group(0).strip().rstrip(b",").strip())
    return b", ".join(kept) if kept else None


def held_refresh(value: bytes, blocker: Blocker, base: str) -> bool:
    """Whether a `Refresh` header goes to a refused tracker."""
    url = refresh_url(value.decode("latin-1"))
    return url is not None and blocker.url(url, base=base) is not None


def held_speculation_rules(value: bytes, blocker: Blocker, base: str) -> bytes | None:
    """`value` (quoted URLs of rule sets, which Chromium fetches as the page arrives) without
    those on refused trackers; None when none is left or it does not parse."""
    kept: list[bytes] = []
    pos = 0
    while value[pos:].strip():
        member = _RULE_SET.match(value, pos)
        if member is None or member.end() == pos:
            return None  # what cannot be read cannot be shown harmless
        pos = member.end()
        url = _STRING_ESCAPE.sub(rb"\1", member.group(1)[1:-1]).decode("latin-1")
        if blocker.url(url, base=base) is None:
            kept.append(member.group(1) + member.group(2))
    return b", ".join(kept) if kept else None
