"""What one request may put in the consent log: fields bounded and normalised, and a rate.

Records are kept for years and anyone can send requests, so the gate (not the store) bounds
what a request adds: the page as a short path, the user agent and language cut to what a
browser sends, and a budget of records per client address and minute.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from urllib.parse import quote, unquote

from ._types import Headers, Scope
from .reports import RateLimit

__all__ = ["MAX_LANGUAGE", "MAX_PAGE", "MAX_USER_AGENT", "Budget", "client_key", "headers", "page"]

logger = logging.getLogger("consent_gate")

MAX_PAGE = 256  # characters of the path a decision was made on: no query, no fragment
MAX_USER_AGENT = 512  # browsers send 100-300 bytes
MAX_LANGUAGE = 128  # "en-GB,en;q=0.9,de;q=0.8" is 23
_CAPS = {b"user-agent": MAX_USER_AGENT, b"accept-language": MAX_LANGUAGE}
# Characters a path keeps as they are (RFC 3986 pchar and "/"); the rest is percent-encoded.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def page(path: str) -> str:
    """A page as a record keeps it: the path alone, in one spelling, at most `MAX_PAGE` long.

    The query is dropped (it may hold personal data and makes every URL distinct), the path is
    percent-encoded the same way whether it came decoded (an ASGI path) or encoded (a URL),
    with no control character left raw, and a cut never splits a character.
    """
    path = path.partition("?")[0].partition("#")[0]
    text = quote(unquote(path, errors="replace"), safe=_PATH_SAFE, errors="replace")
    if len(text) <= MAX_PAGE:
        return text
    text = text[:MAX_PAGE]
    escape = text.rfind("%", -2)  # an escape cut in two
    text = text[:escape] if escape != -1 else text
    # ... and a character whose UTF-8 bytes were cut: dropped, never stored half.
    return quote(unquote(text, errors="ignore"), safe=_PATH_SAFE)


def headers(request: Headers) -> Headers:
    """The request's headers with the ones a record keeps cut to their caps."""
    return [(k, v[: _CAPS[k.lower()]] if k.lower() in _CAPS else v) for k, v in request]


def client_key(scope: Scope) -> str:
    """Whom a budget belongs to: the client's address, or its /64 for IPv6, where one
    subscriber holds a whole /64 and could take a new address per request."""
    client = scope.get("client")
    if not client:
        return ""
    host = str(client[0])
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class Budget:
    """Records one client may add per minute (`[log] per_minute`), as a token bucket.

    A refusal is logged at most once a minute: behind a proxy that does not pass the client's
    address on, every visitor shares the proxy's, and the operator must hear of it.
    """

    def __init__(self, per_minute: int, what: str) -> None:
        self._limit = RateLimit(per_minute)
        self._what = what
        self._warned = float("-inf")

    def allow(self, scope: Scope) -> bool:
        key = client_key(scope)
        if self._limit.allow(key):
            return True
        now = time.monotonic()
        if now - self._warned >= 60:
            self._warned = now
            logger.warning(
                "consent_gate: %s from %s beyond log.per_minute (%d) are not recorded; behind "
                "a proxy, have the server take the client's address from it (uvicorn "
                "--proxy-headers --forwarded-allow-ips)",
                self._what,
                key or "an unknown client",
                round(self._limit.burst),
            )
        return False
