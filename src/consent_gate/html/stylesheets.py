"""URLs a piece of CSS makes the browser fetch: `url()`, `@import`, `image-set()` strings.

CSS is read token by token, as the CSS tokenizer reads it: comments are skipped only outside
strings (`"/*"` is a string, `"\\2f*"` too), and escapes (`\\75 rl(`, a backslash continuing a
string over a line) are undone inside the token they belong to. Every string counts as a URL
(that is how `@import "x"` and `image-set("x" 1x)` name theirs): one that names no tracker
costs nothing, one that does is held back, read or not.
"""

from __future__ import annotations

import re

from ahocorasick_rs import BytesAhoCorasick

__all__ = ["css_urls", "may_load"]

_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})[ \t\n]?|\n|(.))", re.DOTALL)
_ESCAPED = r"\\(?:[0-9a-fA-F]{1,6}[ \t\n]?|.)"  # one escape, with the white space it ends in
# The CSS tokenizer's preprocessing: CR LF, CR and FF are each one newline.
_NEWLINE = re.compile(r"\r\n?|\f")
# "url(" opening an unquoted URL, spelled with escapes or not ("\75 rl(", "u\72l(", "\u\r\l("):
# up to its ")" (an escaped one ends nothing) the URL is one token, in which "/*" and quotes
# open nothing. Taken for a comment, "url(x/*)" hid every load up to the next "*/".
_URL_START = (
    r"(?:[uU]|\\0{0,4}[57]5[ \t\n]?|\\[uU])(?:[rR]|\\0{0,4}[57]2[ \t\n]?|\\[rR])"
    r"(?:[lL]|\\0{0,4}[46][cC][ \t\n]?|\\[lL])\("
)
# Comments, strings (ended by their quote, a newline or the end), unquoted URLs (group 3, up to
# white space or a quote) and the runs between them, in which an escape ("\\/", "\\"") starts
# neither. Runs of plain characters are taken whole (`++`): a sheet is read in C, not character
# by character.
_STRUCTURE = re.compile(
    r"/\*.*?(?:\*/|\Z)|\"((?:[^\"\\\n]++|\\.)*+)\"?|'((?:[^'\\\n]++|\\.)*+)'?"
    r"|" + _URL_START + r"[ \t\n]*+(?:(?=[\"'])|((?:[^)\\\s\"']++|" + _ESCAPED + r")*+)"
    r"(?:[^)\\]++|\\.)*+\)?)"
    r"|(?:[^\"'/\\uU]++|/(?!\*)|(?!" + _URL_START + r")(?:[uU]|\\.))++",
    re.DOTALL,
)
# The same without escapes, read by one `findall` with no Python per token (most sheets have
# no backslash): each match is a run, then a comment, a string (group 1 or 2) or an unquoted
# URL (group 3, up to white space or a quote; the rest up to ")" belongs to it too).
_PLAIN = re.compile(
    r"(?:[^\"'/uU]++|/(?!\*)|[uU](?![rR][lL]\())*+"
    r"(?:/\*.*?(?:\*/|\Z)|\"([^\"\n]*+)\"?|'([^'\n]*+)'?"
    r"|[uU][rR][lL]\([ \t\n]*+(?:(?=[\"'])|([^)\"'\s]*+)[^)]*+\)?)|\Z)",
    re.DOTALL,
)
# What CSS needs before it can load anything: a url( or image-set( (whose strings are URLs),
# an @import, or an escape that may spell one of them. Searched for in lower-cased text, in
# compiled code: a case-insensitive expression tried every byte (60 MB/s on a page's sheets).
_LOADS = BytesAhoCorasick([b"url(", b"image-set(", b"@import", b"\\"])


def may_load(css: bytes, *, lowered: bool = False) -> bool:
    """Cheap pre-check: CSS without url(, image-set(, @import or an escape loads nothing.
    `lowered`: `css` is lower-cased already."""
    return bool(_LOADS.find_matches_as_indexes(css if lowered else css.lower()))


def css_urls(css: str) -> list[str]:
    """Every URL the CSS names, in order of kind (see the module's note on strings)."""
    if "\r" in css or "\f" in css:
        css = _NEWLINE.sub("\n", css)
    if "\\" not in css:
        tokens = _PLAIN.findall(css)
        return [url for _, _, url in tokens if url] + [d or s for d, s, _ in tokens if d or s]
    urls: list[str] = []
    strings: list[str] = []
    for found in _STRUCTURE.finditer(css):
        double, single, url = found.groups()
        if url is not None:
            urls.append(_unescape(url))
        elif found.group()[0] in "\"'":
            strings.append(_unescape(double or single or ""))
    return [url for url in urls + strings if url]


def _unescape(text: str) -> str:
    return _ESCAPE.sub(_character, text) if "\\" in text else text


def _character(found: re.Match[str]) -> str:
    if found.group(1):
        code = int(found.group(1), 16)
        return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"
    return found.group(2) or ""  # a backslash and a newline: nothing
