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


class Target(NamedTuple):
    """What a URL fetches: its scheme (without ":"), host and path with query."""

    scheme: str
    host: str  # lower-case, without a trailing dot; ":port" unless the default
    path: str  # never empty: "/" at least


def target(value: str, base: str = DOCUMENT) -> Target | None:
    """What `value` fetches from a page whose base URL is `base`; None if it is no valid URL."""
    try:
        url = URL(value, base)
    except ValueError:
        return None
    host = url.hostname.rstrip(".")
    if url.port:
        host = f"{host}:{url.port}"
    return Target(url.protocol[:-1], host, (url.pathname or "/") + url.search)


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
