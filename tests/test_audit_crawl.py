"""Which pages `consent-gate audit` visits: same origin only, sitemaps bounded, `--pages` kept."""

from __future__ import annotations

from consent_gate.qa import crawl
from consent_gate.qa.crawl import Crawl, same_origin_page, sitemap_pages

SITE = "https://shop.example"


def _urlset(*paths: str) -> str:
    locs = "".join(f"<url><loc>{SITE}{p}</loc></url>" for p in paths)
    return f'<?xml version="1.0"?><urlset xmlns="x">{locs}</urlset>'


def _index(*names: str) -> str:
    locs = "".join(f"<sitemap><loc>{SITE}/{n}</loc></sitemap>" for n in names)
    return f"<sitemapindex>{locs}</sitemapindex>"


def test_same_origin_pages_only_without_fragments_files_or_the_gates_endpoints() -> None:
    origin = "https://shop.example:443"
    assert same_origin_page(f"{SITE}/a?x=1#top", origin) == f"{SITE}/a?x=1"
    assert same_origin_page("https://SHOP.example:443", origin) == "https://SHOP.example:443/"
    assert same_origin_page("http://shop.example/a", origin) is None  # another scheme
    assert same_origin_page("https://cdn.shop.example/a", origin) is None
    assert same_origin_page(f"{SITE}/brochure.PDF", origin) is None
    assert same_origin_page("mailto:x@shop.example", origin) is None
    assert same_origin_page(f"{SITE}/consent-gate/policy", origin, "/consent-gate/") is None


def test_robots_sitemap_lines_and_indexes_are_followed() -> None:
    files = {
        f"{SITE}/robots.txt": f"User-agent: *\nSitemap: {SITE}/index.xml\n",
        f"{SITE}/index.xml": _index("a.xml", "b.xml"),
        f"{SITE}/a.xml": _urlset("/a1", "/a2"),
        f"{SITE}/b.xml": _urlset("/b1") + "<url><loc>https://elsewhere.example/x</loc></url>",
        f"{SITE}/sitemap.xml": _urlset("/s1"),
    }
    pages = sitemap_pages(f"{SITE}/start", files.get, 10)
    assert pages == [f"{SITE}/a1", f"{SITE}/a2", f"{SITE}/b1", f"{SITE}/s1"]
    assert sitemap_pages(f"{SITE}/", files.get, 2) == [f"{SITE}/a1", f"{SITE}/a2"]


def test_sitemap_reading_is_bounded() -> None:
    """An index of a thousand sitemaps (or one pointing at itself) costs MAX_SITEMAPS reads."""
    read: list[str] = []

    def fetch(url: str) -> str | None:
        read.append(url)
        if url.endswith("/sitemap.xml"):
            return _index("sitemap.xml", *(f"s{i}.xml" for i in range(1000)))
        return _urlset(f"/{url.rsplit('/', 1)[1]}-page") if url.endswith(".xml") else None

    pages = sitemap_pages(f"{SITE}/", fetch, 10_000)
    assert len(read) == 1 + crawl.MAX_SITEMAPS  # robots.txt, then the sitemaps
    assert len(pages) == crawl.MAX_SITEMAPS - 1


def test_the_crawl_queues_no_more_than_its_limit_and_each_page_once() -> None:
    pages = Crawl(f"{SITE}/", 3, skip_prefix="/consent-gate/")
    pages.add(["/a", "/a#again", "https://elsewhere.example/", "/consent-gate/preferences"])
    pages.add(["b", "/c", "/d"], base=f"{SITE}/a")
    assert [pages.next(), pages.next(), pages.next(), pages.next()] == [
        f"{SITE}/",
        f"{SITE}/a",
        f"{SITE}/b",
        None,
    ]
