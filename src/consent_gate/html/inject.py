"""Where the gate's markup goes: its scripts first in `<head>`, the banner before `</body>`.

Markup after `</html>` is still parsed into the body, so appending is always a valid fallback;
the search for `</body>` is therefore only about a tidy position and can stay a plain `rfind`.
The head scripts must run before any of the page's own, so their place is found exactly: after
the doctype, comments, `<html>`, `<head>` and `<meta>` tags (which run nothing, and a `<meta
charset>` must stay within the first 1024 bytes), before whatever else comes first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import product

from ahocorasick_rs import BytesAhoCorasick

from .grammar import ATTRIBUTES

__all__ = ["BodyEndInjector", "HeadStartInjector"]

_CLEAN_TAIL = re.compile(
    rb"</body[^>]*>(?:\s+|<!--.*?-->|</html\s*>)*\Z", re.IGNORECASE | re.DOTALL
)
_MAX_HELD = 4096


def _spellings(word: bytes) -> list[bytes]:
    """Every ASCII case of `word`: searched for at once, in compiled code, they find it several
    times faster than a case-insensitive expression, which tries each position of the page."""
    return [bytes(letters) for letters in product(*({c, ord(chr(c).upper())} for c in word))]


_BODY_ENDS = _spellings(b"</body")  # the first ids of _MARKS
# "</body" for the banner's place, "<base" for its URLs: one pass over each chunk finds both.
_MARKS = BytesAhoCorasick(_BODY_ENDS + _spellings(b"<base"))
_AFTER_BASE = frozenset(b"\t\n\f\r />")
_MAX_PROLOGUE = 64 * 1024
_UTF8_BOM = b"\xef\xbb\xbf"
# The rest of a start tag, read as the tokenizer reads it.
_TAG_REST = ATTRIBUTES + rb"[\t\n\f\r /]*+>"
# What may come before <head> without starting the document's content. A comment is whole or
# not yet here: its start is never read as a doctype, which would put the snippet inside it.
_PROLOGUE = re.compile(
    rb"[\t\n\f\r ]++|<!--(?:-?>|.*?--!?>)|<!(?!--)[^>]*+>|<\?[^>]*+>"
    rb"|<(?:html|head|meta)(?=[\t\n\f\r />])" + _TAG_REST,
    re.DOTALL | re.IGNORECASE,
)
_OPEN_TAG = re.compile(rb"<(?:html|head|meta)(?=[\t\n\f\r />])", re.IGNORECASE)
_OPENERS = (b"<html", b"<head", b"<meta")


class BodyEndInjector:
    """Streams bytes through, holding back only a possible closing `</body>` and what follows.

    `rebased`: the snippet with the page's origin in its URLs, for a page with a `<base>` tag
    (or text that reads like one: absolute URLs are right either way), found in the same scan.
    """

    def __init__(self, snippet: bytes, rebased: Callable[[], bytes] | None = None) -> None:
        self.snippet = snippet
        self._rebased = rebased
        self._held = b""
        self._candidate = False  # whether _held starts at a "</body"

    def feed(self, data: bytes) -> bytes:
        buf = self._held + data if self._held else data
        size = len(buf)
        # Only a "</body" within the last _MAX_HELD bytes is held.
        tail = max(0, size - _MAX_HELD)
        found = -1
        based = False
        # A <base> is looked for in the whole chunk until one is found; "</body" in its tail.
        start_at = 0 if self._rebased is not None else tail
        for which, start, end in _MARKS.find_matches_as_indexes(memoryview(buf)[start_at:]):
            start, end = start + start_at, end + start_at
            if which < len(_BODY_ENDS):
                if start >= tail:
                    found = start
            elif buf[end : end + 1] and buf[end] in _AFTER_BASE:
                based = True
        if based and self._rebased is not None:
            self.snippet, self._rebased = self._rebased(), None
        if found == -1:
            # None, or too much after it to hold (append at the end). Keep a "<" near the end
            # in case a "</body" or "<base " straddles this chunk and the next.
            cut = buf.rfind(b"<", max(0, size - 6))
            if cut == -1:
                self._held, self._candidate = b"", False
                return buf
            self._held, self._candidate = buf[cut:], False
            return buf[:cut]
        self._held, self._candidate = buf[found:], True
        return buf[:found]

    def close(self) -> bytes:
        held = self._held
        self._held = b""
        if self._candidate and _CLEAN_TAIL.match(held):
            return self.snippet + held
        return held + self.snippet


class HeadStartInjector:
    """Streams bytes through, inserting a snippet where it runs before any of the page's scripts.

    Only the bytes before that place are held (doctype, comments, `<html>`, `<head>`); after it
    every chunk passes straight through.
    """

    def __init__(self, snippet: bytes) -> None:
        self.snippet = snippet
        self._held = b""
        self._done = not snippet

    def feed(self, data: bytes) -> bytes:
        if self._done:
            return data
        buf = self._held + data if self._held else data
        at = self._place(buf)
        if at is None:
            self._held = buf
            return b""
        self._held, self._done = b"", True
        return buf[:at] + self.snippet + buf[at:]

    def close(self) -> bytes:
        if self._done:
            return b""
        held, self._held, self._done = self._held, b"", True
        at = self._place(held, final=True)
        if at is None:
            return held + self.snippet
        return held[:at] + self.snippet + held[at:]

    @staticmethod
    def _place(buf: bytes, final: bool = False) -> int | None:
        """Where the snippet goes, or None while the bytes so far cannot tell (or, at the end,
        when they are all prologue). An unfinished comment or tag at the end goes after it."""
        pos = 3 if buf.startswith(_UTF8_BOM) else 0
        while pos < len(buf):
            found = _PROLOGUE.match(buf, pos)
            if found is not None and found.end() > pos:
                pos = found.end()
                continue
            if not final and _incomplete(buf, pos) and len(buf) <= _MAX_PROLOGUE:
                return None
            return pos  # the first of the document's content: the head starts before it
        return None


def _incomplete(buf: bytes, pos: int) -> bool:
    """Whether the token at `pos` may still turn out to be part of the prologue."""
    if buf.startswith(b"<!--", pos):
        return True  # a comment whose end has not arrived (complete ones matched above)
    if not buf.startswith(b"<", pos):
        return False
    if len(buf) - pos < 6 or buf.find(b">", pos) == -1:
        return _could_open(buf[pos : pos + 5].lower())
    return _OPEN_TAG.match(buf, pos) is not None  # a quoted value still open


def _could_open(start: bytes) -> bool:
    if start.startswith((b"<!", b"<?")):
        return True
    return any(tag.startswith(start) for tag in _OPENERS)
