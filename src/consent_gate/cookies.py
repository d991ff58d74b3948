"""Cookies: which category each belongs to, the Set-Cookie firewall and expiry on withdrawal.

Only a server can refuse an HttpOnly cookie before it reaches the browser, and expire it again
after a withdrawal; this module does both from the policy's cookie list.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from .policy import Policy

__all__ = ["HOST_PREFIX", "CookieRules", "expire_headers", "set_cookie_header"]

_EXPIRED = "Thu, 01 Jan 1970 00:00:00 GMT"
# On https the consent cookie is `__Host-`: browsers refuse it with a Domain attribute or from
# plain http, so a sibling subdomain or a network attacker cannot plant a choice for this host.
HOST_PREFIX = "__Host-"


class CookieRules:
    """Cookie name -> category, compiled once from the policy's services."""

    def __init__(self, policy: Policy) -> None:
        self._exact: dict[str, str] = {}
        self._patterns: list[tuple[re.Pattern[str], str]] = []
        self.by_category: dict[str, list[str]] = {}
        for service in policy.services:
            for cookie in service.cookies:
                self.by_category.setdefault(service.category, []).append(cookie.name)
                if cookie.is_pattern:
                    regex = ".*".join(map(re.escape, cookie.name.split("*")))
                    self._patterns.append((re.compile(regex + r"\Z"), service.category))
                else:
                    self._exact.setdefault(cookie.name, service.category)
        self._required = {c.id for c in policy.categories if c.required}
        self._consent_cookies = {policy.cookie_name, HOST_PREFIX + policy.cookie_name}

    def category(self, name: str) -> str | None:
        """The category of a cookie name, or None for cookies the policy does not know."""
        if name in self._consent_cookies:
            return None
        found = self._exact.get(name)
        if found is not None:
            return found
        for pattern, category in self._patterns:
            if pattern.match(name):
                return category
        return None

    def refused(self, names: Iterable[str], refused: frozenset[str]) -> list[str]:
        """The names among `names` whose category is refused."""
        return [name for name in names if self.category(name) in refused]

    def allows_set_cookie(self, header: bytes, refused: frozenset[str]) -> bool:
        """Whether a Set-Cookie header may reach the browser: refused categories may only delete."""
        if not refused:
            return True
        text = header.decode("latin-1")
        name = text.partition("=")[0].strip()
        return self.category(name) not in refused or _deletes(text)


def _deletes(header: str) -> bool:
    """A Set-Cookie that removes the cookie is always welcome.

    As in RFC 6265 5.3, a valid Max-Age wins over Expires, and the last of each counts.
    """
    max_age: int | None = None
    expires: str | None = None
    for part in header.split(";")[1:]:
        key, _, value = part.partition("=")
        key, value = key.strip().lower(), value.strip()
        if key == "max-age":
            with contextlib.suppress(ValueError):  # an invalid Max-Age is ignored
                max_age = int(value)
        elif key == "expires":
            expires = value
    if max_age is not None:
        return max_age <= 0
    if expires is None:
        return False
    try:
        when = parsedate_to_datetime(expires)
    except (TypeError, ValueError):
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # "-0000" zones parse naive; they mean UTC
    return when <= datetime.now(UTC)


def set_cookie_header(
    name: str, value: str, *, max_age: int, secure: bool, http_only: bool = True
) -> bytes:
    parts = [f"{name}={value}", "Path=/", f"Max-Age={max_age}", "SameSite=Lax"]
    if secure:
        parts.append("Secure")
    if http_only:
        parts.append("HttpOnly")
    return "; ".join(parts).encode("latin-1")


def expire_headers(names: Iterable[str], host: str) -> list[bytes]:
    """Set-Cookie lines that delete each cookie, whichever domain attribute it was set with.

    Trackers such as GA set cookies on the registrable domain (".example.com"), so a deletion
    without the same Domain attribute would miss them; one line per candidate domain is sent.
    """
    domains = [""] + [f"; Domain={d}" for d in _parent_domains(host)]
    return [
        f"{name}=; Path=/; Max-Age=0; Expires={_EXPIRED}{domain}".encode("latin-1")
        for name in names
        for domain in domains
    ]


def _parent_domains(host: str) -> list[str]:
    name = host.rpartition(":")[0] if host.count(":") == 1 else host
    name = name.strip("[]").lower()
    try:
        ipaddress.ip_address(name)
        return []
    except ValueError:
        pass
    labels = name.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)] if len(labels) > 1 else []
