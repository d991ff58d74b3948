"""Where a URL written in a page sends the browser, read exactly as browsers read it.

Browsers accept many spellings of one address: `https:host/x` without slashes, `https:///host`,
tabs and newlines anywhere, backslashes for slashes, leading and trailing control characters,
user info, ports, percent-encoded or full-width host names, ideographic dots, a trailing dot.
Matching the written text lets each of those past the gate, so URLs are parsed with ada, an
implementation of the WHATWG URL standard that browsers follow, against the page's base URL.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from ada_url import URL

__all__ = ["DOCUMENT", "Target", "absolute", "page_url", "refresh_url", "target"]

# A refresh (`<meta http-equiv=refresh content>`, the `Refresh` header): a delay, ";" or ",",
# then the URL, perhaps after "url=". A quote that opens it ends it; any other quote is part of
# it (`url=//x'@tracker/` goes to the tracker, as HTML's "shared declarative refresh steps" say).
_REFRESH = re.compile(
    r"[\s\d.]*[;,]?\s*(?:url\s*=\s*)?(?:([\"'])(.*?)(?:\1|\Z)|(.*))", re.I | re.S | re.A
)

# The base of a page whose own address is unknown (the command line's `rewrite`).
DOCUMENT = "http://document.invalid/"

# Most URLs in real pages are plain: an http(s) or scheme-relative address with a host of ASCII
# labels and no port, or a relative path, made only of characters the parser keeps as they are.
# Those are read here, as the parser would, at a tenth of its cost; anything else (tabs,
# backslashes, ports, user info, dot segments, numeric hosts, quotes) goes to ada.
_KEPT = r"[-\w.~!$&()*+,;=:@/%?#]*"
_ABSOLUTE = re.compile(
    r"(?:(https?):)?//((?:[a-z0-9-]+\.)*[a-z0-9-]+)(?:[/?#]" + _KEPT + r")?\Z", re.I | re.A
)
_RELATIVE = re.compile(r"(?:/(?!/)|[-\w~!$&()*+,;=@%?#])" + _KEPT + r"\Z", re.A)
_DOT_SEGMENT = re.compile(r"(?:\A|/)(?:\.|%2e)", re.I)
_NUMBER_LABEL = re.compile(r"(?:[0-9]+|0x[0-9a-f]*)\Z", re.I | re.A)


class Target(NamedTuple):
    """What a URL fetches: its scheme (without ":"), host and path with query."""

    scheme: str
    host: str  # lower-case, without a trailing dot; ":port" unless the default
    path: str  # never empty: "/" at least


def target(value: str, base: str = DOCUMENT) -> Target | None:
    """What `value` fetches from a page whose base URL is `base`; None if it is no valid URL."""
    return _plain(value, base) or _parsed(value, base)


def _parsed(value: str, base: str) -> Target | None:
    try:
        url = URL(value, base)
    except ValueError:
        return None
    return Target(url.protocol[:-1], _host(url), (url.pathname or "/") + url.search)


def _host(url: URL) -> str:
    host = url.hostname.rstrip(".")
    return f"{host}:{url.port}" if url.port else host


def _plain(value: str, base: str) -> Target | None:
    """`target` for a plain URL against an http(s) base; None when the parser must read it."""
    if found := _ABSOLUTE.match(value):
        scheme, host = found.group(1), found.group(2).lower()
        if scheme is None:
            parts = _base(base) if base.startswith(("http:", "https:")) else None
            scheme = parts[0] if parts else ""
        label = host[host.rfind(".") + 1 :]
        if not scheme or _NUMBER_LABEL.match(label):
            return None
        path = _path(value[found.end(2) :], "/", "")
        return None if path is None else Target(scheme.lower(), host, path)
    if not _RELATIVE.match(value) or not base.startswith(("http:", "https:")):
        return None
    stop = len(value)
    for mark in "/?#":
        if (at := value.find(mark)) != -1 and at < stop:
            stop = at
    if ":" in value[:stop] or (parts := _base(base)) is None:
        return None  # perhaps a scheme of its own ("mailto:x"), or a base the parser refuses
    scheme, host, directory, path, search = parts
    if value.startswith("/"):
        joined = _path(value, "/", "")
    elif value[:1] in ("?", "#", ""):
        joined = _path(value, path, search)
    else:
        joined = _path(directory + value, "/", "")
    return None if joined is None else Target(scheme, host, joined)


def _path(rest: str, path: str, search: str) -> str | None:
    """Path and query of what follows the host (`rest`); `path` and `search` where it has none."""
    rest = rest.partition("#")[0]
    if rest[:1] not in ("", "?"):
        path, _, query = rest.partition("?")
        if _DOT_SEGMENT.search(path):
            return None
        search = f"?{query}" if query else ""
    elif rest:
        search = rest if len(rest) > 1 else ""
    return path + search


@lru_cache(maxsize=256)
def _base(base: str) -> tuple[str, str, str, str, str] | None:
    """A base URL's scheme, host (with a port), directory, path and search, read once."""
    try:
        url = URL(base)
    except ValueError:
        return None
    path = url.pathname or "/"
    return url.protocol[:-1], _host(url), path[: path.rfind("/") + 1], path, url.search


def absolute(value: str, base: str = DOCUMENT) -> str | None:
    """`value` resolved against `base` (a `<base href>` against the page's address)."""
    try:
        return URL(value, base).href
    except ValueError:
        return None


@lru_cache(maxsize=1024)
def page_url(scheme: str, host: str, path: str) -> str:
    """The address of the page a request asked for, what its relative URLs resolve against.

    A `Host` that is no valid host gives a stand-in: a base that fails to parse would make
    every URL in the page unreadable, and so let every tracker through.
    """
    scheme = "https" if scheme == "https" else "http"
    if not host or any(c in host for c in "/\\@?#"):
        host = "document.invalid"
    for authority in (host, "document.invalid"):
        try:
            return URL(f"{scheme}://{authority}{path}").href
        except ValueError:
            continue
    return DOCUMENT


def refresh_url(value: str) -> str | None:
    """The URL a refresh (`5; url=...`) goes to; None when it reloads the page itself."""
    found = _REFRESH.match(value)
    if found is None:
        return None
    url: str = found.group(2) if found.group(1) else found.group(3)
    return url or None
