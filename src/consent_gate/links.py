"""Response headers that load like markup does: `Link`, `Refresh`, `Speculation-Rules`, a
Content-Security-Policy's `report-uri`, and the reporting endpoints of `Reporting-Endpoints`
and `Report-To`.

The browser acts on `Link: <https://tracker/x.js>; rel=preload; as=script` before it reads a
byte of the page, so links to refused trackers are dropped from the header, the others kept as
they came; a `Refresh` to a refused tracker is dropped like a `<meta http-equiv=refresh>`, and
a `Speculation-Rules` rule set on one like a `<script type=speculationrules>` from it. The app's
own CSP may name a tracker as its `report-uri`: the browser POSTs each violation there (the
page's address with it), a beacon that needs no script, so such a target is dropped too.
"""

from __future__ import annotations

import re

from .html.tags import srcset_urls
from .rules import Blocker
from .urls import refresh_url

__all__ = [
    "held_links",
    "held_refresh",
    "held_report_uris",
    "held_reporting",
    "held_speculation_rules",
]

# One link: <URI> then its parameters, up to the comma before the next "<" (a quoted parameter
# may hold commas).
_LINK = re.compile(rb'\s*<([^>]*)>((?:[^,"<]|"(?:[^"\\]|\\.)*")*)(?:,|$)')
# A link's imagesrcset parameter (Chromium preloads the image it picks): quoted or a token.
_IMAGESRCSET = re.compile(rb';\s*imagesrcset\s*=\s*(?:"((?:[^"\\]|\\.)*)"?|([^;]*))', re.I | re.S)
_QUOTED_PAIR = re.compile(rb"\\(.)", re.S)
_AS_SCRIPT = re.compile(rb"(?:^|;)\s*as\s*=\s*\"?script\b", re.IGNORECASE)
# One member of a structured-field list of strings: a quoted string (with its parameters).
_RULE_SET = re.compile(rb'[ \t]*("(?:[^"\\]|\\["\\])*")((?:;[^,]*)?)[ \t]*(?:,|$)')
_STRING_ESCAPE = re.compile(rb'\\(["\\])')
# A CSP's report-uri directive: its name (any case) and its value, up to the next ";" or ","
# (which ends the directive, or the policy).
_REPORT_URI = re.compile(rb"(?<![^\t\n\f\r ;,])report-uri(?=[\t\n\f\r ;,]|$)([^;,]*)", re.I)
_CSP_SPACE = re.compile(rb"[\t\n\f\r ]+")
# A string of a Structured Field dictionary (Reporting-Endpoints) or of JSON (Report-To).
_QUOTED = re.compile(rb'"((?:[^"\\]|\\.)*)"', re.S)
_JSON_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|(.))", re.S)
_JSON_CHARACTERS = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


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
        if blocker.url(uri, script, base=base) is None and not any(
            blocker.url(url, base=base) for url in _image_urls(link.group(2))
        ):
            kept.append(link.group(0).strip().rstrip(b",").strip())
    return b", ".join(kept) if kept else None


def _image_urls(params: bytes) -> list[str]:
    """The URLs of a link's imagesrcset parameters, a quoted one read both with its escapes
    undone and as written (whichever way the browser reads it, the tracker is seen)."""
    urls: list[str] = []
    for found in _IMAGESRCSET.finditer(params):
        value = found.group(2) if found.group(1) is None else found.group(1)
        for form in {value, _QUOTED_PAIR.sub(rb"\1", value)}:
            urls += srcset_urls(form.decode("latin-1"))
    return urls


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


def held_report_uris(value: bytes, blocker: Blocker, base: str) -> bytes | None:
    """A CSP header `value` whose report-uri directives name no refused tracker (a directive
    left with no target is dropped whole: the browser then posts no report); unchanged, byte
    for byte, when none does; None when nothing is left of it."""

    def kept(found: re.Match[bytes]) -> bytes:
        targets = [t for t in _CSP_SPACE.split(found.group(1)) if t]
        allowed = [t for t in targets if blocker.url(t.decode("latin-1"), base=base) is None]
        if len(allowed) == len(targets):
            return found.group(0)
        return b"report-uri " + b" ".join(allowed) if allowed else b""

    if b"report-uri" not in value.lower():
        return value
    held = _REPORT_URI.sub(kept, value)
    if held == value:
        return value
    held = held.strip(b"\t\n\f\r ")  # a header value neither starts nor ends with space
    return held if held.strip(b"\t\n\f\r ;,") else None


def held_reporting(value: bytes, blocker: Blocker, base: str) -> bool:
    """Whether a `Reporting-Endpoints` or `Report-To` value names a refused tracker: the
    browser would POST its reports there (the page's address in each), consent or not. Every
    string in it is read as a URL, escapes undone; a header that names one is dropped whole
    (`NEL` and a CSP's `report-to` then name a group that does not exist)."""
    for found in _QUOTED.finditer(value):
        text = _JSON_ESCAPE.sub(_json_character, found.group(1).decode("latin-1"))
        if blocker.url(text, base=base) is not None:
            return True
    return False


def _json_character(found: re.Match[str]) -> str:
    if found.group(1):
        return chr(int(found.group(1), 16))
    return _JSON_CHARACTERS.get(found.group(2), found.group(2))
