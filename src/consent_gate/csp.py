"""Content-Security-Policy, Permissions-Policy and client hints that follow the visitor's consent.

The rewriter holds back what it sees in the markup; a CSP lets the browser itself stop what
appears later: scripts injected at run time, `fetch`/`sendBeacon` beacons and pixels sent to hosts
of categories the visitor has not accepted. Source lists are compiled per category at start-up;
per response only a cached string per consent state, a nonce and the app's own nonces and hashes
are joined. The app's own policies are never touched: the gate's is one more header, and every
policy a browser receives applies.
"""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from ._types import Headers
from .consent import Consent, ReadConsent
from .policy import CSP_DIRECTIVES, HANDLER_DIRECTIVE, Policy, extended_catalogue
from .reports import ReportKind
from .rules import MAX_CACHED

__all__ = ["APP_CSP", "CLIENT_HINTS", "DENIED_FEATURES", "Csp", "parse_report"]

MARKETING = "marketing"
# High-entropy client hints: what a script could read to fingerprint the device.
CLIENT_HINTS = (
    "ch-ua-arch",
    "ch-ua-bitness",
    "ch-ua-full-version",
    "ch-ua-full-version-list",
    "ch-ua-model",
    "ch-ua-platform-version",
    "ch-ua-wow64",
    "ch-ua-form-factors",
    "ch-device-memory",
)
# Denied until marketing consent. A browser that does not know a feature (Debian's Chromium
# lacks attribution-reporting) logs a console warning and ignores it; the others still apply.
DENIED_FEATURES = ("browsing-topics", "attribution-reporting", "interest-cohort", *CLIENT_HINTS)
_CLIENT_HINT_HEADERS = (b"accept-ch", b"critical-ch")
APP_CSP = frozenset({b"content-security-policy", b"content-security-policy-report-only"})
"""The headers an app states its own policy in, which the gate merges with its own."""
_SCRIPT_DIRECTIVES = (b"script-src-elem", b"script-src", b"default-src")
_NONCE = re.compile(rb"'nonce-([A-Za-z0-9+/_=-]+)'", re.IGNORECASE)
_HASH = re.compile(rb"'sha(?:256|384|512)-[A-Za-z0-9+/_=-]+'", re.IGNORECASE)
_KEYWORD = re.compile(r"[a-z][a-z0-9-]*\Z")  # blocked-uri "inline", "eval", "wasm-eval", ...
_MAX_FIELD = 200


class Csp:
    """The gate's headers for HTML responses, compiled once per policy."""

    def __init__(self, policy: Policy) -> None:
        settings = policy.csp
        self.enabled = settings.mode != "off"
        self.header_name = (
            b"content-security-policy"
            if settings.mode == "enforce"
            else b"content-security-policy-report-only"
        )
        self._report = f"; report-uri {policy.prefix}/reports/csp"
        self._extra = {d: tuple(settings.sources.get(d, ())) for d in CSP_DIRECTIVES}
        handlers = " ".join(settings.sources.get(HANDLER_DIRECTIVE, ())) or "'none'"
        self._handlers = f"{HANDLER_DIRECTIVE} {handlers}"
        # A catalogue host covers its subdomains in the rules, so it does here too.
        self._sources: dict[str, dict[str, None]] = {c.id: {} for c in policy.categories}
        self._categories: dict[str, set[str]] = {}  # host -> categories it belongs to
        self._services: dict[str, tuple[str, ...]] = {}  # service -> its sources
        # The extended catalogue's services count only when the site names them in `uses`:
        # a thousand hosts nobody chose would make the header hundreds of kilobytes.
        extended = extended_catalogue()
        for service in policy.services:
            if service in extended and service.id not in policy.uses:
                continue
            hosts = [*service.hosts, *(u.partition("/")[0] for u in service.urls)]
            own: dict[str, None] = {}
            for host in filter(None, hosts):
                self._categories.setdefault(host, set()).add(service.category)
                own[host] = None
                if not host.startswith("*"):
                    own[f"*.{host}"] = None
            self._sources.setdefault(service.category, {}).update(own)
            self._services[service.id] = tuple(own)
        self._cache: dict[tuple[object, ...], tuple[str, str]] = {}
        self._permissions = ", ".join(f"{feature}=()" for feature in DENIED_FEATURES).encode()

    def nonce(self, app_headers: Headers, *, needed: bool = True) -> tuple[str | None, bool]:
        """The response's nonce, and whether the rewriter may stamp it on the page's scripts.

        When the app enforces its own nonce-based policy, the gate's scripts carry the app's
        nonce (so they pass both policies) and nothing is stamped: scripts the app left without
        its nonce are ones it means to block, and stamping would let them through. Else a
        fresh one, or None when not `needed` (the gate's policy allows inline scripts).
        """
        for key, value in app_headers:
            if key == b"content-security-policy":
                for source in _script_sources(value):
                    found = _NONCE.fullmatch(source)
                    if found:
                        return found.group(1).decode("ascii"), False
        return (secrets.token_urlsafe(16) if needed else None), True

    def apply(
        self, headers: Headers, consent: Consent, nonce: str | None, collected: bool = False
    ) -> Headers:
        """An HTML response's headers with, before marketing consent, Permissions-Policy denials
        merged in and client-hint requests dropped (whatever the mode), and the gate's CSP
        added unless the mode is off: with the nonce while something is refused, else allowing
        inline scripts (none is a tracker to stop). `collected`: the page's head script
        reports violations itself (one deduplicated beacon), so the policy has no report-uri
        and the browser does not POST each violation."""
        if not consent.allows(MARKETING):
            headers = _deny_features(headers, self._permissions)
        if not self.enabled:
            return headers
        script, rest = self._pieces(consent)
        if not collected:
            rest += self._report
        if nonce is None:  # nothing refused: inline scripts may all run, hosts still count
            ours = f"script-src {script} 'unsafe-inline'; {rest}"
            return [*headers, (self.header_name, ours.encode("ascii"))]
        app_sources: dict[str, None] = {}
        for key, value in headers:
            if key in APP_CSP:
                for source in _script_sources(value):
                    if _NONCE.fullmatch(source) or _HASH.fullmatch(source):
                        app_sources[source.decode("ascii")] = None
        sources = "".join(f" {s}" for s in app_sources if s != f"'nonce-{nonce}'")
        ours = f"script-src {script} 'nonce-{nonce}'{sources}; {rest}"
        return [*headers, (self.header_name, ours.encode("ascii"))]

    def lockdown(self, headers: Headers, consent: Consent) -> Headers:
        """Headers for HTML the gate cannot rewrite: whatever the mode, an enforced policy
        with the hosts the visitor allows and a nonce no script carries, so the browser stops
        what the markup would have held back (inline scripts with it)."""
        if not consent.held:
            return headers
        if not consent.allows(MARKETING):
            headers = _deny_features(headers, self._permissions)
        script, rest = self._pieces(consent)
        ours = f"script-src {script} 'nonce-{secrets.token_urlsafe(16)}'; {rest}{self._report}"
        return [*headers, (b"content-security-policy", ours.encode("ascii"))]

    def _pieces(self, consent: Consent) -> tuple[str, str]:
        """script-src's sources, and the other directives but report-uri, for one consent
        state: its allowed categories' hosts, less those of services refused apart, and
        those of services allowed apart."""
        cached = self._cache.get(consent.state)
        if cached is None:
            allowed = frozenset(c for c, ok in consent.choices.items() if ok)
            held = consent.held
            denied = {h for s in held.denied for h in self._services.get(s, ())}
            hosts = [h for c in sorted(allowed) for h in self._sources.get(c, {})]
            hosts = [h for h in hosts if h not in denied]
            hosts += [h for s in sorted(held.granted) for h in self._services.get(s, ())]
            lists = {
                d: " ".join(dict.fromkeys(["'self'", *base, *self._extra[d], *hosts]))
                for d, base in (
                    ("script-src", ()),
                    ("img-src", ("data:", "blob:")),
                    # The page's own objects, which reach no one: read by the run-time gate
                    # too (a blob: script or frame document is read before it runs).
                    ("connect-src", ("data:", "blob:")),
                    ("frame-src", ()),
                )
            }
            rest = "; ".join(
                [
                    self._handlers,
                    *(f"{d} {lists[d]}" for d in CSP_DIRECTIVES if d != "script-src"),
                ]
            )
            cached = (lists["script-src"], rest)
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            self._cache[consent.state] = cached
        return cached

    def report_kind(self, read: ReadConsent) -> ReportKind:
        """Violation reports, counted by (host, directive, page)."""

        def keep(key: tuple[str, ...], headers: Headers) -> bool:
            # A page keeps the policy it loaded with; once its visitor allows a category in
            # place, that category's scripts violate it. Those reports say nothing new.
            allowed = {
                c
                for secure in (False, True)
                for c, ok in read(headers, secure=secure).choices.items()
                if ok
            }
            return not self._categories_of(key[0]) & allowed

        return ReportKind("csp", ("host", "directive", "page"), parse_report, keep)

    def _categories_of(self, host: str) -> set[str]:
        found: set[str] = set()
        name = host
        while name:
            found |= self._categories.get(name, set())
            name = name.partition(".")[2]
        return found


def parse_report(body: Any) -> list[tuple[str, str, str]]:
    """Keys of a classic `application/csp-report` body or a Reporting API list."""
    if isinstance(body, dict) and isinstance(body.get("csp-report"), dict):
        report = body["csp-report"]
        directive = report.get("effective-directive") or report.get("violated-directive")
        return [_key(report.get("blocked-uri"), directive, report.get("document-uri"))]
    if isinstance(body, list):
        return [
            _key(r["body"].get("blockedURL"), r["body"].get("effectiveDirective"), r.get("url"))
            for r in body
            if isinstance(r, dict) and r.get("type") == "csp-violation"
            if isinstance(r.get("body"), dict)
        ]
    raise ValueError("expected {'csp-report': {...}} or a list of Reporting API reports")


def _key(blocked: object, directive: object, page: object) -> tuple[str, str, str]:
    if not isinstance(blocked, str) or not isinstance(directive, str):
        raise ValueError("a CSP report needs blocked-uri and effective-directive strings")
    url = urlsplit(blocked.strip())
    if url.hostname:
        host = url.hostname
    elif url.scheme:
        host = url.scheme  # data:, blob:
    else:
        host = blocked.strip().lower() if _KEYWORD.match(blocked.strip().lower()) else "other"
    name = directive.split()[0] if directive.split() else ""
    path = urlsplit(page).path or "/" if isinstance(page, str) else ""
    return host[:_MAX_FIELD], name[:_MAX_FIELD], path[:_MAX_FIELD]


def _script_sources(value: bytes) -> list[bytes]:
    """The sources of the directive that governs `<script>` elements in one CSP header."""
    directives: dict[bytes, list[bytes]] = {}
    for policy in value.split(b","):
        for directive in policy.split(b";"):
            tokens = directive.split()
            if tokens:
                directives.setdefault(tokens[0].lower(), []).extend(tokens[1:])
    for name in _SCRIPT_DIRECTIVES:
        if name in directives:
            return directives[name]
    return []


def _deny_features(headers: Headers, denied: bytes) -> Headers:
    """Drop Accept-CH/Critical-CH; merge the denials into the app's Permissions-Policy (the
    app's other features kept, the denial winning for the gate's own)."""
    ours = {item.partition(b"=")[0] for item in denied.split(b", ")}
    kept: list[bytes] = []
    out: Headers = []
    for key, value in headers:
        if key in _CLIENT_HINT_HEADERS:
            continue
        if key == b"permissions-policy":
            kept += [
                item.strip()
                for item in value.split(b",")
                if item.strip() and item.partition(b"=")[0].strip().lower() not in ours
            ]
            continue
        out.append((key, value))
    out.append((b"permissions-policy", b", ".join([*kept, denied])))
    return out
