"""A response's headers as the gate sends them: pure functions of the app's headers and the
decision, so each can be tested alone (lower-case names in, as `http.lower_names` makes them)."""

from __future__ import annotations

from ._types import Headers
from .consent import Consent
from .cookies import CookieRules
from .csp import APP_CSP, Csp
from .decision import PageDecision
from .links import (
    held_links,
    held_refresh,
    held_report_uris,
    held_reporting,
    held_speculation_rules,
)
from .refusal import Refusal
from .rules import Blocker

__all__ = ["FIREWALLED", "held_cookies", "held_loads", "locked_headers", "page_headers"]

# The headers a refusal may have to filter on any response, HTML or not.
_REPORTING = frozenset({b"reporting-endpoints", b"report-to"})
FIREWALLED = frozenset(
    {b"set-cookie", b"link", b"refresh", b"speculation-rules", b"location", *APP_CSP, *_REPORTING}
)
_DROPPED = {b"content-length", b"etag", b"last-modified"}


def held_cookies(headers: Headers, refused: Refusal, rules: CookieRules) -> Headers:
    """The headers without Set-Cookie lines of refused categories: they never reach the
    browser, whatever the response is."""
    return [
        (key, value)
        for key, value in headers
        if key != b"set-cookie" or rules.allows_set_cookie(value, refused)
    ]


def held_loads(headers: Headers, blocker: Blocker, base: str, *, follows: bool = False) -> Headers:
    """The headers without `Link` preloads, prefetches and preconnects to refused trackers,
    nor a `Refresh`, speculation rules, a CSP `report-uri` or a reporting endpoint on one.
    `base`: the page's URL, for relative targets. `follows`: the response is a redirect the
    browser follows by itself (for an image, a script, a frame: not a visitor's own
    navigation), whose `Location` on a refused tracker is dropped too (a first-party
    `<img src="/px">` redirected to a pixel)."""
    out: Headers = []
    for key, value in headers:
        if key == b"location":
            if follows and blocker.url(value.decode("latin-1"), base=base) is not None:
                continue
        elif key == b"link":
            kept = held_links(value, blocker, base)
            if kept is None:
                continue
            value = kept
        elif (key == b"refresh" and held_refresh(value, blocker, base)) or (
            key in _REPORTING and held_reporting(value, blocker, base)
        ):
            continue
        elif key == b"speculation-rules":
            rules = held_speculation_rules(value, blocker, base)
            if rules is None:
                continue
            value = rules
        elif key in APP_CSP:
            policy = held_report_uris(value, blocker, base)
            if policy is None:
                continue
            value = policy
        out.append((key, value))
    return out


def page_headers(
    headers: Headers,
    decision: PageDecision,
    *,
    csp: Csp,
    vary: tuple[bytes, ...],
    length: int | None,
    opt_out: bytes | None,
    collected: bool,
) -> Headers:
    """A rewritten page's headers: per visitor for caches, without the app's length and
    validators (`length`: the whole body's, when it came in one message), the consent cookie
    of a recorded opt-out, refused cookies expired, and the CSP. `collected`: the page's
    head script reports the CSP's violations itself."""
    out = _per_visitor([h for h in headers if h[0] not in _DROPPED], vary)
    if length is not None:
        out.append((b"content-length", str(length).encode()))
    if opt_out is not None:
        out.append((b"set-cookie", opt_out))
    out += [(b"set-cookie", line) for line in decision.expire]
    return csp.apply(out, decision.consent, decision.nonce, collected)


def locked_headers(
    headers: Headers, consent: Consent, *, csp: Csp, vary: tuple[bytes, ...]
) -> Headers:
    """Headers for HTML the gate cannot rewrite: it fails closed, the browser told to enforce
    what the markup would have held back (an enforced CSP whose nonce no script carries)."""
    return csp.lockdown(_per_visitor(headers, vary), consent)


def _per_visitor(headers: Headers, needed: tuple[bytes, ...]) -> Headers:
    """Headers that keep caches from serving a page made for one visitor to another."""
    out: Headers = []
    vary = cache = False
    for key, value in headers:
        if key == b"vary":
            vary = True
            value = _vary(value, needed)
        elif key == b"cache-control":
            cache = True
            value = _private(value)
        out.append((key, value))
    if not vary:
        out.append((b"vary", b", ".join(needed)))
    if not cache:
        out.append((b"cache-control", b"private"))
    return out


def _vary(value: bytes, needed: tuple[bytes, ...]) -> bytes:
    """The app's Vary with the gate's own fields added (`*` already covers everything)."""
    present = {field.strip().lower() for field in value.split(b",")}
    if b"*" in present:
        return value
    missing = [field for field in needed if field.lower() not in present]
    return b", ".join([value, *missing]) if missing else value


def _private(value: bytes) -> bytes:
    """Cache-Control that keeps shared caches from serving one visitor's page to another."""
    directives = [d.strip() for d in value.split(b",") if d.strip()]
    lowered = [d.lower() for d in directives]
    if b"no-store" in lowered or b"private" in lowered:
        return value
    kept = [
        d
        for d, low in zip(directives, lowered, strict=True)
        if low != b"public" and not low.startswith(b"s-maxage")
    ]
    return b", ".join([b"private", *kept])
