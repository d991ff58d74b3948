"""The Acme Widgets demo in a real Chromium: the site and its tracker on two live origins.

The demo tracker is declared first-party to the recorder, so its requests really reach it and
its own log says what it learned; the recorder stubs and logs everything else, i.e. the real
vendors (Google, Meta, Hotjar, YouTube) whose snippets the pages embed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from demo_site import Hit, HitLog, create_site, create_tracker
from demo_site.site import PRODUCTS
from playwright.sync_api import Page

from consent_gate.banner import static_dir

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import ContextFactory, LiveServer

PAGES = ("/", "/products", *(f"/products/{p.slug}" for p in PRODUCTS), "/about", "/contact")
DEMO_COOKIES = {"_demo_id", "_demo_srv", "_partner_uid"}
BANNER_JS = static_dir() / "banner.js"
BANNER_IS_PLACEHOLDER = (
    not BANNER_JS.is_file() or BANNER_JS.read_text("utf-8").strip() == "/* placeholder */"
)
needs_banner_js = pytest.mark.xfail(
    BANNER_IS_PLACEHOLDER,
    reason="static/banner/banner.js is still a placeholder: nothing starts held-back "
    "elements in the same page view yet",
    strict=False,
)


@dataclass(frozen=True)
class Demo:
    site: str
    tracker: str
    log: HitLog


@pytest.fixture
def demo(live: LiveServer) -> Demo:
    log = HitLog()
    tracker = live(create_tracker(log))
    site = live(create_site(tracker_origin=tracker, secret_key="browser-test"))
    return Demo(site, tracker, log)


def wait_for_hit(
    page: Page, log: HitLog, wanted: Callable[[Hit], bool], timeout: float = 10
) -> Hit:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for hit in log.hits:
            if wanted(hit):
                return hit
        page.wait_for_timeout(50)
    kinds = [(hit.kind, hit.page) for hit in log.hits]
    raise AssertionError(f"no such hit at the tracker within {timeout}s; it saw {kinds}")


def settle(page: Page) -> None:
    """Let async scripts, beacons and frames that might start after `load` do so."""
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)


def test_nothing_reaches_any_tracker_before_consent(
    demo: Demo, make_context: ContextFactory
) -> None:
    context, recorder = make_context(demo.site, first_party=[demo.tracker])
    page = context.new_page()

    for path in PAGES:
        page.goto(path)
        settle(page)
        assert page.locator("#cg-banner").count() == 1, path
        footer = page.locator("[data-category=analytics]").inner_text()
        assert footer == "Analytics: refused", path
        # The site's own inspector lists what the gate held back.
        assert page.locator("#gate-inspector li").count() >= 6, path

    assert demo.log.hits == []  # the demo tracker saw nothing at all
    assert recorder.hits == []  # nor did any real vendor host
    names = {c["name"] for c in context.cookies()}
    assert not names & DEMO_COOKIES
    assert page.evaluate("typeof window.__demoAnalyticsLoaded") == "undefined"


def test_without_javascript_the_banner_form_consents(
    demo: Demo, make_context: ContextFactory
) -> None:
    context, recorder = make_context(
        demo.site, first_party=[demo.tracker], javascript_enabled=False
    )
    page = context.new_page()
    page.goto("/")
    settle(page)
    assert demo.log.hits == []
    assert recorder.hits == []

    page.click("#cg-banner [data-cg-action=accept_all]")  # a plain form POST, then 303 back
    page.wait_for_url(f"{demo.site}/")
    settle(page)

    pixel = wait_for_hit(page, demo.log, lambda h: h.details.get("noscript") == "1")
    assert pixel.kind == "pixel"
    assert {h.kind for h in demo.log.hits} == {"pixel"}  # no scripts run without JavaScript
    # Now the vendors' <noscript> fallbacks load too (stubbed by the recorder).
    assert recorder.hits_to("googletagmanager.com")
    assert recorder.hits_to("facebook.com")
    names = {c["name"] for c in context.cookies()}
    assert {"_demo_srv", "_partner_uid"} <= names  # the server's cookie passes the gate now
    assert page.locator("[data-category=analytics]").inner_text() == "Analytics: allowed"


@needs_banner_js
def test_accept_all_starts_tracking_in_the_same_page_view(
    demo: Demo, make_context: ContextFactory
) -> None:
    context, recorder = make_context(demo.site, first_party=[demo.tracker])
    page = context.new_page()
    page.goto("/products/widget-pro")
    settle(page)
    assert demo.log.hits == []
    page.evaluate("window.__sameDocument = true")

    page.click("#cg-banner [data-cg-action=accept_all]")

    url = f"{demo.site}/products/widget-pro"
    view = wait_for_hit(page, demo.log, lambda h: h.kind == "pageview" and h.page == url)
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    assert page.locator("#cg-banner").count() == 0
    visitor = view.first_party["_demo_id"]
    assert visitor.startswith("DA1.")
    cookies = {c["name"]: c["value"] for c in context.cookies()}
    assert cookies["_demo_id"] == visitor  # set by t.js on the site's own origin
    assert view.details["screen"]
    fingerprint = wait_for_hit(page, demo.log, lambda h: h.kind == "fingerprint")
    assert len(fingerprint.fingerprint) == 8
    assert fingerprint.details["canvas"] not in ("", "unavailable")
    wait_for_hit(page, demo.log, lambda h: h.kind == "pixel")
    wait_for_hit(page, demo.log, lambda h: h.kind == "embed" and "widget-pro" in h.page)
    # The real vendors' scripts were released too (the recorder answers them with stubs).
    recorder.wait_for("googletagmanager.com")
    recorder.wait_for("connect.facebook.net")

    # Later pages track from the start, the inline loader variant on /about included.
    page.click("nav a[href='/about']")
    about = wait_for_hit(
        page, demo.log, lambda h: h.kind == "pageview" and h.page.endswith("/about")
    )
    assert about.first_party == {"_demo_id": visitor}
    assert about.details["page_type"] == "about"
    assert about.referrer == url
    assert page.locator("[data-category=analytics]").inner_text() == "Analytics: allowed"
    same_fingerprint = [h.fingerprint for h in demo.log.hits if h.kind == "fingerprint"]
    assert len(set(same_fingerprint)) == 1  # the same device id on every page, no cookie needed
