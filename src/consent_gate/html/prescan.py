"""The charsets a page's `<meta>` elements name, read the way browsers prescan its first bytes
(HTML, "prescan a byte stream to determine its encoding"): comments skipped, other tags'
attributes stepped over with their quoting, and of a `<meta>`, its first `charset` attribute,
or a `content` naming one beside `http-equiv="content-type"`.

A regular expression over the bytes reads a `<meta>` inside a comment, or a `data-charset`
attribute, and so can name another charset than the browser decodes the page in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = ["meta_charsets"]

_SPACE = b"\t\n\x0c\r "
_SPACE_OR_SLASH = _SPACE + b"/"
# The attribute grammar's runs, matched in C rather than byte by byte.
_SPACES = re.compile(rb"[\t\n\x0c\r ]*+")
_SPACES_OR_SLASHES = re.compile(rb"[\t\n\x0c\r /]*+")
_NAME = re.compile(rb"[^\t\n\x0c\r />][^=\t\n\x0c\r />]*+")  # it may start with "="
_UNQUOTED = re.compile(rb"[^\t\n\x0c\r >]*+")


def meta_charsets(data: bytes) -> Iterator[str]:
    """The charset label of each `<meta>` that declares one, in order, lower-cased.

    A browser decodes with the first; a later one met while the page is parsed makes it
    decode the page again with that one, so a gate that must be sure looks at them all.
    """
    low = data.lower()
    size = len(low)
    pos = 0
    while pos < size:
        if low.startswith(b"<!--", pos):
            end = low.find(b"-->", pos + 2)  # "<!-->" is a whole comment
            if end == -1:
                return
            pos = end + 3
        elif low.startswith(b"<meta", pos) and pos + 5 < size and low[pos + 5] in _SPACE_OR_SLASH:
            pos, charset = _meta(low, pos + 5)
            if pos == -1:
                return
            if charset:
                yield charset
        elif (
            low[pos] == 0x3C
            and (  # "<", then a letter or "/" and a letter
                _letter(low, pos + 1) or (low[pos + 1 : pos + 2] == b"/" and _letter(low, pos + 2))
            )
        ):
            pos = _skip_tag(low, pos)
            if pos == -1:
                return
        elif low.startswith((b"<!", b"</", b"<?"), pos):
            end = low.find(b">", pos + 2)
            if end == -1:
                return
            pos = end + 1
        else:
            pos = low.find(b"<", pos + 1)  # nothing but a "<" starts what is read
            if pos == -1:
                return


def _letter(low: bytes, pos: int) -> bool:
    return pos < len(low) and 0x61 <= low[pos] <= 0x7A


def _meta(low: bytes, pos: int) -> tuple[int, str | None]:
    """(where reading goes on, the charset) of the `<meta>` whose attributes start at `pos`;
    -1 when the data ends inside it."""
    seen: set[bytes] = set()
    got_pragma = False
    need_pragma: bool | None = None
    charset: bytes | None = None
    while True:
        found = _attribute(low, pos)
        if found is None:
            return -1, None
        name, value, pos = found
        if name is None:
            break
        if name in seen:
            continue
        seen.add(name)
        if name == b"http-equiv":
            got_pragma = got_pragma or value == b"content-type"
        elif name == b"content" and charset is None:
            declared = _from_content(value)
            if declared is not None:
                charset, need_pragma = declared, True
        elif name == b"charset":
            charset, need_pragma = value, False
    if need_pragma is None or (need_pragma and not got_pragma) or not charset:
        return pos, None
    return pos, charset.strip(_SPACE).decode("latin-1")


def _skip_tag(low: bytes, pos: int) -> int:
    """Past a tag's name and attributes (from its "<"); -1 when the data ends inside it."""
    pos = _UNQUOTED.match(low, pos).end()  # type: ignore[union-attr]
    while True:
        found = _attribute(low, pos)
        if found is None:
            return -1
        name, _, pos = found
        if name is None:
            return pos


def _attribute(low: bytes, pos: int) -> tuple[bytes | None, bytes, int] | None:
    """The attribute at `pos`: (name, value, where the next starts); a None name at the tag's
    ">" (reading goes on after it); None when the data ends first."""
    size = len(low)
    pos = _SPACES_OR_SLASHES.match(low, pos).end()  # type: ignore[union-attr]
    if pos >= size:
        return None
    if low[pos] == 0x3E:  # ">"
        return None, b"", pos + 1
    start = pos
    pos = _NAME.match(low, pos).end()  # type: ignore[union-attr]
    name = low[start:pos]
    if pos >= size:
        return None
    if low[pos] != 0x3D:  # "="
        if low[pos] in b"/>":
            return name, b"", pos
        pos = _SPACES.match(low, pos).end()  # type: ignore[union-attr]
        if pos >= size:
            return None
        if low[pos] != 0x3D:
            return name, b"", pos
    pos = _SPACES.match(low, pos + 1).end()  # type: ignore[union-attr]
    if pos >= size:
        return None
    quote = low[pos]
    if quote in b"\"'":
        end = low.find(bytes([quote]), pos + 1)
        if end == -1:
            return None
        return name, low[pos + 1 : end], end + 1
    if quote == 0x3E:
        return name, b"", pos
    end = _UNQUOTED.match(low, pos).end()  # type: ignore[union-attr]
    if end >= size:
        return None
    return name, low[pos:end], end


def _from_content(value: bytes) -> bytes | None:
    """The charset a `content="text/html; charset=..."` names (HTML, "extract a character
    encoding from a meta element")."""
    pos = 0
    while True:
        at = value.find(b"charset", pos)
        if at == -1:
            return None
        pos = at + 7
        while pos < len(value) and value[pos] in _SPACE:
            pos += 1
        if value[pos : pos + 1] == b"=":
            break
    pos += 1
    while pos < len(value) and value[pos] in _SPACE:
        pos += 1
    if pos >= len(value):
        return None
    quote = value[pos]
    if quote in b"\"'":
        end = value.find(bytes([quote]), pos + 1)
        return value[pos + 1 : end] if end != -1 else None
    end = pos
    while end < len(value) and value[end] not in _SPACE and value[end] != 0x3B:  # ";"
        end += 1
    return value[pos:end] or None
