"""Third parties nobody classified: hold them back until consent, or let them load, and report them.

A URL the rules do not know is "unknown" when its host is neither the site's own (the request's
host and its registrable domain, `[site] domains`), nor in the catalogue, nor one of the common
CDNs and font or library hosts below. What is decided per host is compiled once; per element
only the request's own site is compared and the host is counted (once per host, in bounded
memory, through the gate's report book, which logs each new one).
"""

from __future__ import annotations

import re
from typing import Literal

from .policy import Policy
from .reports import ReportKind, Reports

__all__ = ["BENIGN_HOSTS", "REPORT", "UnknownParties", "site_of"]

# Shared CDNs and font/library hosts that serve code and files, not tracking; each is named in
# third-party-web (MIT) under category "cdn" (entity in brackets) or documented by its operator
# as a static file host. A host covers its subdomains. Curated: extend with care, a host here
# is never held back.
BENIGN_HOSTS: dict[str, str] = {
    "cdn.jsdelivr.net": "third-party-web: JSDelivr CDN",
    "fastly.jsdelivr.net": "third-party-web: JSDelivr CDN",
    "cdnjs.cloudflare.com": "third-party-web: Cloudflare CDN",
    "unpkg.com": "third-party-web: Unpkg",
    "code.jquery.com": "third-party-web: jQuery CDN",
    "ajax.googleapis.com": "third-party-web: Google CDN (Hosted Libraries)",
    "fonts.googleapis.com": "third-party-web: Google Fonts",
    "fonts.gstatic.com": "third-party-web: Google Fonts",
    "stackpath.bootstrapcdn.com": "third-party-web: Bootstrap CDN",
    "maxcdn.bootstrapcdn.com": "third-party-web: Bootstrap CDN",
    "netdna.bootstrapcdn.com": "third-party-web: Bootstrap CDN",
    "ajax.aspnetcdn.com": "third-party-web: Microsoft Ajax CDN",
    "use.fontawesome.com": "third-party-web: FontAwesome CDN",
    "kit.fontawesome.com": "third-party-web: FontAwesome CDN",
    "ka-f.fontawesome.com": "third-party-web: FontAwesome CDN",
    "cdn.datatables.net": "DataTables: its documented CDN for the library's files",
    "cdn.tailwindcss.com": "Tailwind CSS: its documented Play CDN script",
    "esm.sh": "esm.sh: ES-module CDN for npm packages",
    "ga.jspm.io": "JSPM: ES-module CDN for npm packages",
    "cdn.skypack.dev": "Skypack: ES-module CDN for npm packages",
    "fonts.bunny.net": "Bunny Fonts: a privacy-preserving Google Fonts mirror",
}
# Image files a page shows; an <img> of another shape with a query string is read as a pixel.
_IMAGE_FILE = re.compile(r"\.(?:jpe?g|png|webp|avif|svg|ico|bmp|tiff?|heic)\Z")
# Elements that run code or open a document, and so are held back when unknown.
_LOADERS = frozenset({b"script", b"iframe", b"frame", b"embed", b"object"})
_SHORT_SECOND_LEVEL = 3  # "co.uk", "com.au": a registrable domain takes three labels

REPORT = ReportKind("unknown", ("host", "decision"), lambda body: _gate_only())


def _gate_only() -> list[tuple[str, ...]]:
    raise ValueError("unknown third parties are reported by the gate itself, not posted")


def site_of(host: str) -> str:
    """The registrable domain a host most likely belongs to, without the Public Suffix List:
    the last two labels, three when the second-last is as short as "co" or "com" and the
    last is a country code. `[site] domains` states it exactly where this guess is wrong."""
    name = host.rpartition(":")[0] if host.count(":") == 1 else host
    name = name.strip("[]").rstrip(".").lower()
    if ":" in name or name.replace(".", "").isdigit():
        return name  # an IP address is its own site
    labels = name.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and len(labels[-2]) <= _SHORT_SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _within(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def _covered(host: str, domains: frozenset[str]) -> bool:
    """Whether `host` is one of `domains` or under one: a set lookup per label, not a
    comparison per domain."""
    while host not in domains:
        dot = host.find(".")
        if dot == -1:
            return False
        host = host[dot + 1 :]
    return True


class UnknownParties:
    """The policy's `[unknown]` stance, compiled once per gate."""

    def __init__(self, policy: Policy, reports: Reports | None = None) -> None:
        settings = policy.unknown
        self.hold = settings.third_parties == "hold"
        self.category = settings.category
        self._decision: Literal["held", "allowed"] = "held" if self.hold else "allowed"
        self._known = frozenset(policy.site_domains) | frozenset(BENIGN_HOSTS)
        self._reports = reports
        if reports is not None and REPORT.name not in reports:
            reports.register(REPORT)

    def classify(self, host: str) -> str | None:
        """The host (port dropped) if it is an unknown third party whatever the request, else
        None. Called once per distinct URL (the rules cache it)."""
        name = host.partition(":")[0]
        if not name or "." not in name:
            return None  # "localhost", a bare name: not somebody else's server
        if _covered(name, self._known):
            return None
        return name

    def decide(self, host: str, url: str, element: bytes, own_site: str) -> bool:
        """Whether this element of a page of `own_site` is held back; counts the host."""
        if own_site and _within(host, own_site):
            return False
        if element not in _LOADERS and not (element == b"img" and _looks_like_pixel(url)):
            return False
        if self._reports is not None:
            self._reports.record(REPORT.name, (host, self._decision))
        return self.hold


def _looks_like_pixel(url: str) -> bool:
    """An <img> whose URL carries a query and names no image file: a beacon, not a picture
    (`/p?id=1`, `/collect?v=1`, `/1x1.gif?e=pv`). Content images of unknown hosts - product
    photos, CMS assets, `photo.jpg?w=300` - load, or pages would lose their pictures."""
    path, sep, _ = url.partition("?")
    if not sep:
        return False
    path = path.partition("#")[0].lower()
    return _IMAGE_FILE.search(path) is None
