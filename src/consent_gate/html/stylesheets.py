"""URLs a piece of CSS makes the browser fetch: `url()`, `@import`, `image-set()` strings.

CSS is read token by token, as the CSS tokenizer reads it: comments are skipped only outside
strings (`"/*"` is a string, `"\\2f*"` too), and escapes (`\\75 rl(`, a backslash continuing a
string over a line) are undone inside the token they belong to. Every string counts as a URL
(that is how `@import "x"` and `image-set("x" 1x)` name theirs): one that names no tracker
costs nothing, one that does is held back, read or not.
"""

from __future__ import annotations

import re

__all__ = ["css_urls", "may_load"]

_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})[ \t\n]?|\n|(.))", re.DOTALL)
# The CSS tokenizer's preprocessing: CR LF, CR and FF are each one newline.
_NEWLINE = re.compile(r"\r\n?|\f")
# Comments, strings (ended by their quote, a newline or the end) and the runs between them, in
# which an escape ("\\/", "\\"") starts neither. Runs of plain characters are taken whole
# (`++`): a sheet is read in C, not character by character (2x as fast on real sheets).
_STRUCTURE = re.compile(
    r"/\*.*?(?:\*/|\Z)|\"((?:[^\"\\\n]++|\\.)*+)\"?|'((?:[^'\\\n]++|\\.)*+)'?"
    r"|(?:[^\"'/\\]++|/(?!\*)|\\.)++",
    re.DOTALL,
)
# The same without escapes, where comments and strings are all there is to find: read by
# `findall` and `sub` alone, with no Python per token (most sheets have no backslash).
_PLAIN = re.compile(r"/\*.*?(?:\*/|\Z)|\"([^\"\n]*+)\"?|'([^'\n]*+)'?", re.DOTALL)
# An unquoted url(), read once escapes are undone ("\\75 rl(" is one too).
_URL = re.compile(r"url\(\s*([^)\"'\s]*)", re.IGNORECASE)
# What CSS needs before it can load anything: a url( or image-set( (whose strings are URLs),
# an @import, or an escape that may spell one of them.
_LOADS = re.compile(rb"url\(|image-set\(|@import|\\", re.IGNORECASE)


def may_load(css: bytes) -> bool:
    """Cheap pre-check: CSS without url(, image-set(, @import or an escape loads nothing."""
    return _LOADS.search(css) is not None


def css_urls(css: str) -> list[str]:
    """Every URL the CSS names, in order of kind (see the module's note on strings)."""
    if "\r" in css or "\f" in css:
        css = _NEWLINE.sub("\n", css)
    if "\\" not in css:
        quoted = [double or single for double, single in _PLAIN.findall(css)]
        return [url for url in _URL.findall(_PLAIN.sub(" ", css)) + quoted if url]
    strings: list[str] = []

    def token(found: re.Match[str]) -> str:
        text = found.group()
        if text[0] in "\"'":
            strings.append(_unescape(found.group(1) or found.group(2) or ""))
            return " "
        return " " if text.startswith("/*") else text

    rest = _STRUCTURE.sub(token, css)
    urls = _URL.findall(_unescape(rest)) + strings
    return [url for url in urls if url]


def _unescape(text: str) -> str:
    return _ESCAPE.sub(_character, text) if "\\" in text else text


def _character(found: re.Match[str]) -> str:
    if found.group(1):
        code = int(found.group(1), 16)
        return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"
    return found.group(2) or ""  # a backslash and a newline: nothing
