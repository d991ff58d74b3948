"""Small HTTP helpers over raw ASGI header lists: lookups, content types, charsets, codings."""

from __future__ import annotations

import re
import zlib
from functools import lru_cache

from ._types import Headers, Scope

__all__ = [
    "Decoder",
    "Encoder",
    "combined",
    "content_type",
    "cookie_names",
    "cookie_values",
    "header",
    "lower_names",
    "origin_of",
    "whole_path",
]


def lower_names(headers: Headers) -> Headers:
    """`headers` with lower-case names: the gate compares names as bytes, and HTTP names are
    case-insensitive (Django's ASGI handler sends `Content-Type`, `Set-Cookie`)."""
    for key, _ in headers:
        if not key.islower():  # also a name with no letter at all: lowering it is harmless
            return [(key.lower(), value) for key, value in headers]
    return headers


def header(headers: Headers, name: bytes) -> bytes | None:
    """The first value of a lower-case header name, in headers `lower_names` has seen."""
    for key, value in headers:
        if key == name:
            return value
    return None


def combined(headers: Headers, name: bytes) -> bytes | None:
    """Every value of a lower-case header name joined by ", ", as browsers combine repeated
    lines (Fetch, "get a header"): Chromium reads a page's type and codings from all of its
    Content-Type and Content-Encoding lines, not the first alone. None if there is none."""
    found = None
    for key, value in headers:  # on every response: no list for the one line there usually is
        if key == name:
            found = value if found is None else found + b", " + value
    return found


def cookie_values(headers: Headers, name: bytes) -> list[str]:
    """Every value of one cookie name in the request's Cookie header(s), in order: of each
    ";"-separated pair, white space around it dropped, the name before its first "="."""
    values: list[str] = []
    for key, value in headers:
        if key == b"cookie" and name in value:  # on every request: read only if it may be
            values += [
                found.rstrip(_SPACE).decode("latin-1") for found in _pair(name).findall(value)
            ]
    return values


_SPACE = b" \t\n\r\x0b\x0c"  # what bytes.strip() drops


@lru_cache(maxsize=8)  # the consent cookie's two names
def _pair(name: bytes) -> re.Pattern[bytes]:
    space = rb"[ \t\n\r\x0b\x0c]*+"
    return re.compile(
        rb"(?:^|;)" + space + re.escape(name) + rb"(?:=([^;]*+)|" + space + rb"(?=;|\Z))"
    )


def cookie_names(headers: Headers) -> list[str]:
    """The names of all cookies the request carries."""
    return [
        part.partition(b"=")[0].strip().decode("latin-1")
        for key, value in headers
        if key == b"cookie"
        for part in value.split(b";")
        if part.strip()
    ]


@lru_cache(maxsize=256)
def content_type(value: bytes | None) -> tuple[str, str | None]:
    """(media type, charset) of a Content-Type value, both lower-cased, read as browsers read
    it (Fetch's "extract a MIME type", Chromium's type): of a comma-separated list (a comma
    in a quoted string separates nothing), the last type counts, with a charset given earlier
    for that same type if it names none; within one type, the first charset parameter counts.
    A type ends at white space, ";" or "(" (`text/html x` and `text/html(x)` are HTML to
    Chromium and Firefox) and needs a "/" before that (`text /html` names none: the body is
    sniffed)."""
    if not value:
        return "", None
    media, charset = "", None
    for one in _split(value.decode("latin-1")):
        essence = _MEDIA.match(one).group(1).lower()  # type: ignore[union-attr]
        if "/" not in essence or essence == "*/*":
            continue
        semicolon = one.find(";")
        given = _charset(one, semicolon) if semicolon != -1 else None
        if essence != media or given is not None:
            charset = given
        media = essence
    return media, charset


# A media type as browsers cut it out of a Content-Type value (Chromium's ParseContentType,
# from Mozilla's net_ParseContentType): after leading white space, up to white space, ";", "(".
_MEDIA = re.compile(r"\s*([^\s;(]*)")
# What a quoted string runs to: its closing quote, escapes skipped (or the end of the value).
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*+)(\\?)"?', re.DOTALL)
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def _split(value: str) -> list[str]:
    """A header value's comma-separated parts (Fetch, "get, decode, and split"): a quote
    anywhere opens a quoted string, in which a comma separates nothing."""
    if '"' not in value:
        return value.split(",")
    parts, start, at = [], 0, 0
    while (comma := value.find(",", at)) != -1:
        quote = value.find('"', at, comma)
        if quote != -1:
            at = _QUOTED.match(value, quote).end()  # type: ignore[union-attr]
            continue
        parts.append(value[start:comma])
        start = at = comma + 1
    parts.append(value[start:])
    return parts


def _charset(one: str, at: int) -> str | None:
    """The first charset parameter after `one[at] == ";"` (Fetch, "parse a MIME type"): a
    quoted value ends at its closing quote, with escapes undone; a bare one at the next ";",
    white space at its end dropped."""
    size = len(one)
    while at < size:
        at += 1
        while at < size and one[at] in " \t\r\n":
            at += 1
        end = at
        while end < size and one[end] not in ";=":
            end += 1
        name = one[at:end]
        if end >= size - 1 or one[end] == ";":  # no value (or none after its "=")
            at = end
            continue
        at = end + 1
        if one[at] == '"':
            quoted = _QUOTED.match(one, at)
            assert quoted is not None
            text = _ESCAPED.sub(r"\1", quoted.group(1)) + quoted.group(2)
            next_at = one.find(";", quoted.end())
            at = size if next_at == -1 else next_at
        else:
            stop = one.find(";", at)
            stop = size if stop == -1 else stop
            text = one[at:stop].rstrip(" \t\r\n")
            at = stop
            if not text:
                continue
        if name.lower() == "charset":  # a name is not trimmed: "charset =" names none
            return text.lower() or None
    return None


def whole_path(scope: Scope) -> str:
    """The path the browser asked for. Under a mount, Starlette and current servers keep the
    mount's `root_path` inside `path`; older servers leave it out, and it goes in front."""
    root: str = scope.get("root_path", "")
    path: str = scope["path"]
    if not root or (path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/")):
        return path
    return root + path


def origin_of(scope: Scope) -> str:
    """This request's own origin, as a browser would send it in an Origin header."""
    host = header(scope["headers"], b"host")
    if host is None:
        server = scope.get("server") or ("localhost", None)
        host_text = server[0] if server[1] is None else f"{server[0]}:{server[1]}"
    else:
        host_text = host.decode("latin-1")
    scheme = scope.get("scheme", "http")
    default = {"http": ":80", "https": ":443"}.get(scheme, "")
    if default and host_text.endswith(default):
        host_text = host_text[: -len(default)]
    return f"{scheme}://{host_text}".lower()


class Decoder:
    """Undoes the app's gzip or deflate coding, in bounded steps."""

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header

    def feed(self, data: bytes) -> bytes:
        out: list[bytes] = []
        while True:
            out.append(self._inflate.decompress(data, 1 << 20))
            while self._inflate.unconsumed_tail:
                out.append(self._inflate.decompress(self._inflate.unconsumed_tail, 1 << 20))
            rest = self._inflate.unused_data
            if not (self._inflate.eof and rest.startswith(b"\x1f\x8b")):
                return b"".join(out)
            # A gzip body may be several members one after another (RFC 1952 2.2).
            self._inflate = zlib.decompressobj(zlib.MAX_WBITS | 16)
            data = rest

    def close(self) -> bytes:
        return self._inflate.flush()

    @staticmethod
    def peek(data: bytes, size: int) -> bytes:
        """Up to `size` decoded bytes from the start of a stream; empty if it does not decode."""
        try:
            return zlib.decompressobj(zlib.MAX_WBITS | 32).decompress(data, size)
        except zlib.error:
            return b""


class Encoder:
    """Re-applies the coding the app chose; each chunk is flushed so the page keeps streaming."""

    def __init__(self, coding: str) -> None:
        wbits = zlib.MAX_WBITS | 16 if coding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._deflate = zlib.compressobj(6, zlib.DEFLATED, wbits)

    def feed(self, data: bytes) -> bytes:
        if not data:
            return b""
        return self._deflate.compress(data) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def close(self) -> bytes:
        return self._deflate.flush(zlib.Z_FINISH)
