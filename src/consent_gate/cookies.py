"""Cookies: which category each belongs to, the Set-Cookie firewall and expiry on withdrawal.

Only a server can refuse an HttpOnly cookie before it reaches the browser, and expire it again
after a withdrawal; this module does both from the policy's cookie list.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from .policy import DOMAIN_NAME, Policy
from .refusal import Refusal

__all__ = [
    "HOST_PREFIX",
    "MAX_EXPIRY_BYTES",
    "MAX_EXPIRY_LINES",
    "CookieRules",
    "cookie_domains",
    "expire_headers",
    "set_cookie_header",
]

_EXPIRED = "Thu, 01 Jan 1970 00:00:00 GMT"
# On https the consent cookie is `__Host-`: browsers refuse it with a Domain attribute or from
# plain http, so a sibling subdomain or a network attacker cannot plant a choice for this host.
HOST_PREFIX = "__Host-"
# Expiry lines one response may carry, and their bytes: a withdrawal of a dozen tracker cookies
# needs a few dozen lines, and the response's headers stay within what servers and proxies
# accept (8-16 KiB; nginx's proxy buffer is 4 or 8 KiB unless raised).
MAX_EXPIRY_LINES = 64
MAX_EXPIRY_BYTES = 6 * 1024
# A name a browser could have stored (RFC 6265 token), of a length a tracker uses.
_COOKIE_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}")


class CookieRules:
    """Cookie name -> category and service, compiled once from the policy's services."""

    def __init__(self, policy: Policy) -> None:
        # Every service naming a cookie exactly, in the policy's order: `_ga` is Universal
        # Analytics' and GA4's.
        self._claims: dict[str, list[tuple[str, str]]] = {}
        patterns: list[str] = []
        self._pattern_owners: list[tuple[str, str]] = []
        # Service id -> its category and cookie name globs (banner.js deletes by them).
        self.by_service: dict[str, tuple[str, list[str]]] = {}
        required = {c.id for c in policy.categories if c.required}
        necessary: list[str] = []
        for service in policy.services:
            for cookie in service.cookies:
                self.by_service.setdefault(service.id, (service.category, []))[1].append(
                    cookie.name
                )
                regex = ".*".join(map(re.escape, cookie.name.split("*")))
                if service.category in required:
                    necessary.append(regex)
                if cookie.is_pattern:
                    patterns.append(f"(?P<p{len(patterns)}>{regex})")
                    self._pattern_owners.append((service.category, service.id))
                else:
                    self._claims.setdefault(cookie.name, []).append((service.category, service.id))
        # One expression for every glob: a name costs one match, however many globs there are;
        # the first glob that matches the whole name decides, as in the policy's order.
        self._patterns = re.compile("|".join(patterns), re.DOTALL) if patterns else None
        # The names necessary services claim are never held, even where a tracker's glob that
        # comes first in the policy (the catalogue's AMP_*) fits them too.
        self._necessary = re.compile("|".join(necessary), re.DOTALL) if necessary else None
        self._consent_cookies = {policy.cookie_name, HOST_PREFIX + policy.cookie_name}

    def category(self, name: str) -> str | None:
        """The category of a cookie name, or None for cookies the policy does not know."""
        owner = self.owner(name)
        return owner[0] if owner else None

    def owner(self, name: str) -> tuple[str, str] | None:
        """The (category, service) of a cookie name, or None for cookies the policy does not
        know."""
        owners = self._owners(name)
        return owners[0] if owners else None

    def _owners(self, name: str) -> list[tuple[str, str]]:
        """Every service naming it exactly, else the first glob (in the policy's order) that
        fits it."""
        if name in self._consent_cookies:
            return []
        claims = self._claims.get(name)
        if claims is not None or self._patterns is None:
            return claims or []
        match = self._patterns.fullmatch(name)
        if match is None or match.lastgroup is None:
            return []
        return [self._pattern_owners[int(match.lastgroup[1:])]]

    def refused(self, names: Iterable[str], refused: Refusal | frozenset[str]) -> list[str]:
        """The distinct names among `names` whose service is held back."""
        refusal = Refusal.of(refused)
        return [name for name in dict.fromkeys(names) if self._held(name, refusal)]

    def allows_set_cookie(self, header: bytes, refused: Refusal | frozenset[str]) -> bool:
        """Whether a Set-Cookie header may reach the browser: held services may only delete."""
        refusal = Refusal.of(refused)
        if not refusal:
            return True
        text = header.decode("latin-1")
        name = text.partition("=")[0].strip()
        return not self._held(name, refusal) or _deletes(text)

    def _held(self, name: str, refusal: Refusal) -> bool:
        """Held while all its owners are refused (a name an allowed service names is that
        service's cookie too, as runtime.js reads it), never a necessary service's."""
        owners = self._owners(name)
        if not owners or not all(refusal.holds(*owner) for owner in owners):
            return False
        return self._necessary is None or self._necessary.fullmatch(name) is None


def _deletes(header: str) -> bool:
    """A Set-Cookie that removes the cookie is always welcome.

    As in RFC 6265 5.3, a valid Max-Age wins over Expires, and the last of each counts. Both
    are read as strictly as browsers read them (`Max-Age=0_0` is no number to Chromium, which
    keeps the cookie): an attribute a browser ignores must not pass as a deletion.
    """
    max_age: int | None = None
    expires: str | None = None
    for part in header.split(";")[1:]:
        key, _, value = part.partition("=")
        key, value = key.strip().lower(), value.strip()
        if key == "max-age":
            if _MAX_AGE.fullmatch(value):  # an invalid Max-Age is ignored
                max_age = int(value)
        elif key == "expires":
            expires = value
    if max_age is not None:
        return max_age <= 0
    when = _cookie_date(expires) if expires is not None else None
    return when is not None and when <= datetime.now(UTC)


_MAX_AGE = re.compile(r"[+-]?[0-9]+")
_DATE_DELIMITER = re.compile(r"[\x09\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+")
_TIME = re.compile(r"([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def _cookie_date(text: str) -> datetime | None:
    """An Expires date as RFC 6265 5.1.1 reads it (its tokens whole, no suffixes), or None."""
    time = day = month = year = None
    for token in _DATE_DELIMITER.split(text):
        if time is None and (found := _TIME.fullmatch(token)):
            time = tuple(int(part) for part in found.groups())
        elif day is None and token.isascii() and token.isdigit() and len(token) <= 2:
            day = int(token)
        elif month is None and token[:3].lower() in _MONTHS and len(token) >= 3:
            month = _MONTHS.index(token[:3].lower()) + 1
        elif year is None and token.isascii() and token.isdigit() and 2 <= len(token) <= 4:
            year = int(token)
    if time is None or day is None or month is None or year is None:
        return None
    year += 1900 if 70 <= year <= 99 else 2000 if year <= 69 else 0
    hour, minute, second = time
    if year < 1601 or hour > 23 or minute > 59 or second > 59:
        return None
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:  # day 31 of a short month, as browsers also refuse
        return None


def set_cookie_header(
    name: str, value: str, *, max_age: int, secure: bool, http_only: bool = True
) -> bytes:
    parts = [f"{name}={value}", "Path=/", f"Max-Age={max_age}", "SameSite=Lax"]
    if secure:
        parts.append("Secure")
    if http_only:
        parts.append("HttpOnly")
    return "; ".join(parts).encode("latin-1")


def expire_headers(
    names: Iterable[str], host: str, site_domains: Sequence[str] = ()
) -> list[bytes]:
    """Set-Cookie lines that delete each cookie, whichever domain attribute it was set with.

    Trackers such as GA set cookies on the registrable domain (".example.com"), so a deletion
    without the same Domain attribute would miss them; one line per candidate domain is sent.
    The request's names and Host are the client's to choose, so the output is bounded whatever
    they hold: each valid name once, a handful of domains (see `cookie_domains`), at most
    `MAX_EXPIRY_LINES` lines and `MAX_EXPIRY_BYTES` bytes. Domains come first in the loop, so
    if the cap bites it drops the least likely variants (host-only and the registrable domain
    come first), not whole names.
    """
    wanted = [name for name in dict.fromkeys(names) if _COOKIE_NAME.fullmatch(name)]
    lines: list[bytes] = []
    size = 0
    for domain in ["", *(f"; Domain={d}" for d in cookie_domains(host, site_domains))]:
        for name in wanted:
            line = f"{name}=; Path=/; Max-Age=0; Expires={_EXPIRED}{domain}".encode("latin-1")
            size += len(line)
            if len(lines) == MAX_EXPIRY_LINES or size > MAX_EXPIRY_BYTES:
                return lines
            lines.append(line)
    return lines


def cookie_domains(host: str, site_domains: Sequence[str] = ()) -> list[str]:
    """The Domain attributes a cookie visible on `host` may have been set with, likeliest first.

    With the site's domains configured (`[site] domains`), a Host within one of them gives
    those domains and its own name; any other Host (a proxy may have rewritten it) gives the
    configured domains alone, which the browser ignores where they do not apply. Without them
    the registrable domain cannot be known (that takes the Public Suffix List), so a Host that
    is a valid DNS name gives its last two and three labels - the registrable domain under a
    one- or two-label suffix (example.com, example.co.uk) - and its own name. A browser ignores
    a Domain that is a public suffix, so the spare line costs nothing, and no Host, however
    long, yields more than three. IP addresses and single labels have no domain cookies.
    """
    name = _host_name(host)
    valid = DOMAIN_NAME.fullmatch(name) is not None
    if site_domains:
        within = [d for d in site_domains if name == d or name.endswith("." + d)]
        if not within or not valid:
            return list(site_domains)
        return list(dict.fromkeys([*within, name]))
    if not valid:
        return []
    labels = name.split(".")
    return list(dict.fromkeys([".".join(labels[-2:]), ".".join(labels[-3:]), name]))


@functools.lru_cache(maxsize=256)
def _host_name(host: str) -> str:
    """The lower-case name of a Host value without its port; "" for an IP address."""
    name = host.rpartition(":")[0] if host.count(":") == 1 else host
    name = name.strip("[]").lower().rstrip(".")
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return name
    return ""
