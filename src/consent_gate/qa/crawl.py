"""Which pages of a site the audit visits: the start page, its sitemap, the links it finds.

Everything here is bounded, since the site under audit may be large or hostile: the number of
pages, the sitemap files read (an index may point at thousands), each file's size and the time
each fetch may take. Only pages of the start URL's origin are visited.
"""

from __future__ import annotations

import http.client
import re
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html import unescape
from urllib.parse import urljoin, urlsplit, urlunsplit

from .recorder import origin_of

__all__ = [
    "Crawl",
    "Fetch",
    "fetch_text",
    "same_origin_page",
    "sitemap_pages",
]

# Fetch a URL's text, None if it is missing or unreadable.
Fetch = Callable[[str], str | None]

MAX_SITEMAPS = 10  # sitemap files read, indexes included
MAX_SITEMAP_BYTES = 5 * 1024 * 1024
FETCH_TIMEOUT = 10.0
# Links to files, not pages: not worth a browser visit each.
_NOT_PAGES = re.compile(
    r"\.(?:pdf|zip|gz|tgz|rar|7z|exe|dmg|apk|jpe?g|png|gif|webp|avif|svg|ico|mp[34]|webm|ogg|"
    r"wav|mov|avi|css|js|mjs|json|xml|txt|csv|xlsx?|docx?|pptx?)$",
    re.IGNORECASE,
)
_SITEMAP_LINE = re.compile(r"^\s*sitemap\s*:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
# Sitemaps are read with a pattern rather than an XML parser: no entities, no DTDs, no surprises.
_LOC = re.compile(r"<(?:\w+:)?loc>\s*(.*?)\s*</(?:\w+:)?loc>", re.DOTALL)
_INDEX = re.compile(r"<(?:\w+:)?sitemapindex[\s>]")


def same_origin_page(url: str, origin: str, skip_prefix: str = "") -> str | None:
    """`url` without its fragment if it is a page of `origin` worth visiting, else None.
    `skip_prefix`: a path prefix never visited (the gate's own endpoints)."""
    if origin_of(url) != origin:
        return None
    parts = urlsplit(url)
    if _NOT_PAGES.search(parts.path) or (skip_prefix and parts.path.startswith(skip_prefix)):
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))


def fetch_text(url: str) -> str | None:
    """GET `url` (at most MAX_SITEMAP_BYTES, FETCH_TIMEOUT seconds); None on any failure."""
    request = urllib.request.Request(url, headers={"user-agent": "consent-gate-audit"})
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:
            if response.status != 200:
                return None
            body: bytes = response.read(MAX_SITEMAP_BYTES + 1)
    except (OSError, ValueError, http.client.HTTPException):  # URLError is an OSError
        return None
    if len(body) > MAX_SITEMAP_BYTES:
        return None
    return body.decode("utf-8", errors="replace")


def sitemap_pages(start: str, fetch: Fetch, limit: int) -> list[str]:
    """Up to `limit` page URLs of the start URL's origin from its sitemaps: those robots.txt
    names, then /sitemap.xml; indexes are followed, reading at most MAX_SITEMAPS files."""
    origin = origin_of(start)
    if origin is None or limit <= 0:
        return []
    root = f"{urlsplit(start).scheme}://{urlsplit(start).netloc}"
    robots = fetch(root + "/robots.txt") or ""
    queue = [unescape(u) for u in _SITEMAP_LINE.findall(robots)] + [root + "/sitemap.xml"]
    seen: set[str] = set()
    pages: list[str] = []
    while queue and len(seen) < MAX_SITEMAPS and len(pages) < limit:
        sitemap = queue.pop(0)
        if sitemap in seen or origin_of(sitemap) is None:
            continue
        seen.add(sitemap)
        text = fetch(sitemap)
        if not text:
            continue
        locations = [unescape(loc) for loc in _LOC.findall(text)]
        if _INDEX.search(text):
            queue[:0] = locations  # an index stands for its sitemaps, in its place
            continue
        for location in locations:
            page = same_origin_page(location, origin)
            if page is not None and page not in pages:
                pages.append(page)
    return pages[:limit]


@dataclass
class Crawl:
    """The pages to visit, in order: the start page, sitemap pages, then links as found; no
    more than `limit` are ever queued."""

    start: str
    limit: int
    skip_prefix: str = ""
    queue: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.origin = origin_of(self.start) or ""
        self.add([self.start])

    def add(self, urls: Iterable[str], base: str | None = None) -> None:
        """Queue the pages of this origin among `urls` (relative ones against `base`)."""
        for url in urls:
            page = same_origin_page(urljoin(base or self.start, url), self.origin, self.skip_prefix)
            if len(self.seen) >= self.limit:
                return
            if page is not None and page not in self.seen:
                self.seen.add(page)
                self.queue.append(page)

    def next(self) -> str | None:
        return self.queue.pop(0) if self.queue else None
