"""Charset labels read as browsers read them: through the Encoding standard's table of labels
(`webencodings`), not Python's codec names.

Browsers ignore a label the standard does not list: a Content-Type charset such as `latin-1`
or `mac-roman` (Python knows both) leaves the page's `<meta>` in charge, and the prescan skips
a `<meta>` naming one. Read through Python's codecs, such a header made the gate rewrite as
ASCII a page the browser decodes as ISO-2022-JP.
"""

from __future__ import annotations

from functools import lru_cache

import webencodings

__all__ = ["ascii_compatible", "encoding", "meta_encoding"]

# Encodings in which markup is not the ASCII bytes the rewriter looks for: UTF-16, and
# ISO-2022-JP, whose escape sequences turn the "<!--" after them into two kanji. Content in the
# replacement encoding decodes to one U+FFFD: nothing to rewrite, nothing that loads.
_WIDE = frozenset({"utf-16be", "utf-16le", "iso-2022-jp", "replacement"})


@lru_cache(maxsize=256)
def encoding(label: str) -> str | None:
    """The standard's name of the encoding a label names; None for a label browsers ignore."""
    found = webencodings.lookup(label)
    return found.name if found is not None else None


def meta_encoding(label: str) -> str | None:
    """What a `<meta>` naming `label` makes the browser decode with: a page that spells its
    `<meta>` in ASCII bytes cannot be UTF-16, which means UTF-8 there (HTML, "prescan")."""
    name = encoding(label)
    if name in ("utf-16be", "utf-16le"):
        return "utf-8"
    return "windows-1252" if name == "x-user-defined" else name


def ascii_compatible(name: str) -> bool:
    """Whether markup is found and spliced as ASCII bytes in this encoding (a standard name)."""
    return name not in _WIDE


def as_utf8(data: bytes, label: str) -> bytes:
    """`data` as UTF-8 when `label` names an encoding markup is no ASCII in (UTF-16,
    ISO-2022-JP): what a browser reads there is not what its bytes show. Else as it is."""
    found = webencodings.lookup(label)
    if found is None or ascii_compatible(found.name):
        return data
    return found.codec_info.decode(data, "replace")[0].encode("utf-8", "surrogatepass")
