"""URLs a piece of CSS makes the browser fetch: `url()`, `@import`, `image-set()` strings.

CSS escapes (`\\75 rl(`) and comments are undone first, as the CSS tokenizer does. Every quoted
string counts as a URL too (that is how `@import "x"` and `image-set("x" 1x)` name theirs): one
that names no tracker costs nothing, one that does is held back, read or not.
"""

from __future__ import annotations

import re

__all__ = ["css_urls", "may_load"]

_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})[ \t\n]?|\n|(.))", re.DOTALL)
# The CSS tokenizer's preprocessing: CR LF, CR and FF are each one newline.
_NEWLINE = re.compile(r"\r\n?|\f")
_COMMENT = re.compile(r"/\*.*?(?:\*/|$)", re.DOTALL)
_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)"'\s]*))""", re.IGNORECASE)
_STRING = re.compile(r""""([^"\n]*)"|'([^'\n]*)'""")
# What a style attribute or sheet needs before it can load anything: a function or at-rule.
_LOADS = re.compile(rb"\(|@import|\\", re.IGNORECASE)


def may_load(css: bytes) -> bool:
    """Cheap pre-check: CSS without "(", "@import" or an escape loads nothing."""
    return _LOADS.search(css) is not None


def css_urls(css: str) -> list[str]:
    """Every URL the CSS names, in order (see the module's note on strings)."""
    if "\\" in css:
        # An escaped newline continues a string: the newline is dropped, not kept.
        css = _ESCAPE.sub(_unescape, _NEWLINE.sub("\n", css))
    css = _COMMENT.sub(" ", css)
    urls = [a or b or c for a, b, c in _URL.findall(css)]
    urls += [a or b for a, b in _STRING.findall(_URL.sub("", css))]
    return [url for url in urls if url]


def _unescape(found: re.Match[str]) -> str:
    if found.group(2) is None and found.group(1) is None:
        return ""  # "\\" and a newline
    if found.group(1):
        code = int(found.group(1), 16)
        return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"
    return found.group(2)
