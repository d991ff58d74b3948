"""The Acme Widgets demo (demo_site/), in process: pages, gate, tracker and the launcher."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ParamSpec

import httpx
import pytest
from demo_site import DEFAULT_TRACKER_ORIGIN, HitLog, create_site, create_tracker, load_policy
from demo_site import __main__ as launcher
from demo_site.site import POLICY_PATH, PRODUCTS
from demo_site.tracker import MAX_HITS, PIXEL_GIF

from consent_gate import ConsentGate, Policy
from consent_gate.qa import serve

ROOT = Path(__file__).resolve().parents[2]
P = ParamSpec("P")
SITE = "http://127.0.0.1:8000"
TRACKER = DEFAULT_TRACKER_ORIGIN
SECRET = "test-secret"
CONSENT_COOKIE = "acme_consent"
PAGES = ("/", "/products", *(f"/products/{p.slug}" for p in PRODUCTS), "/about", "/contact")
# Hosts of the real vendors whose snippets the pages embed.
# The run-time gate's configuration, inside the gate's head script: the hosts it holds.
GATE_HEAD = 'Symbol.for("consent-gate.runtime-config")'
REAL_TRACKERS = (
    "googletagmanager.com",
    "facebook.com",
    "facebook.net",
    "hotjar.com",
    "youtube.com",
    "google.com/maps",
)


def in_own_loop(test: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    """Run an async test with asyncio.run in a worker thread.

    Sync Playwright (the browser tests' session-scoped fixture) keeps an event loop running in
    the main thread for the rest of the session, where asyncio.run then fails; a loop of our own
    in another thread works whatever ran before.
    """

    @functools.wraps(test)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(asyncio.run, test(*args, **kwargs)).result()

    return run


@pytest.fixture(scope="module")
def site() -> ConsentGate:
    return create_site(secret_key=SECRET)


def client(app: Any, base_url: str = SITE) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


class Elements(HTMLParser):
    """Every element with its attributes, and the text of inline scripts."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[tuple[dict[str, str], str]] = []
        self._script: dict[str, str] | None = None
        self._text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.elements.append((tag, values))
        if tag == "script":
            self._script, self._text = values, []

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._text)))
            self._script = None

    def held(self, service: str) -> list[tuple[str, dict[str, str]]]:
        return [(tag, a) for tag, a in self.elements if a.get("data-cg-service") == service]

    def loading_urls(self) -> list[str]:
        """URLs the browser would fetch from src / href / srcset of loading elements."""
        found = []
        for tag, attrs in self.elements:
            for name in ("src", "srcset", "data"):
                if name in attrs and tag in (
                    "script",
                    "img",
                    "iframe",
                    "embed",
                    "object",
                    "source",
                ):
                    found.append(attrs[name])
            if tag == "link" and "href" in attrs:
                found.append(attrs["href"])
        return found


async def accept_all(
    http: httpx.AsyncClient, action: str = "accept_all", **form: str
) -> httpx.Response:
    response = await http.post(
        "/consent-gate/consent",
        data={"action": action, "next": "/", **form},
        headers={"origin": SITE},
    )
    assert response.status_code == 303, response.text
    assert CONSENT_COOKIE in http.cookies
    return response


# -- the site ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
@in_own_loop
async def test_every_page_renders_with_banner_and_gate_links(site: ConsentGate, path: str) -> None:
    async with client(site) as http:
        response = await http.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "Acme Widgets" in html
    assert 'id="cg-root"' in html  # the gate's banner was injected
    assert 'href="/consent-gate/policy"' in html
    assert 'href="/consent-gate/preferences?next=' in html
    assert f'href="{TRACKER}/"' in html  # the tracker dashboard link


@in_own_loop
async def test_footer_shows_what_the_server_knows(site: ConsentGate) -> None:
    async with client(site) as http:
        before = (await http.get("/products")).text
        await accept_all(http, action="save", category="analytics")
        after = (await http.get("/products")).text

    assert "You have not decided yet" in before
    assert 'Analytics: <strong class="refused">refused</strong>' in before
    assert "consent id <code>" in after
    assert 'Analytics: <strong class="allowed">allowed</strong>' in after
    assert 'Marketing: <strong class="refused">refused</strong>' in after


@in_own_loop
async def test_unknown_product_is_a_404_page(site: ConsentGate) -> None:
    async with client(site) as http:
        response = await http.get("/products/widget-xl")
    assert response.status_code == 404
    assert "Page not found" in response.text
    assert 'id="cg-root"' in response.text


@in_own_loop
async def test_contact_form_thanks_the_visitor(site: ConsentGate) -> None:
    async with client(site) as http:
        response = await http.post(
            "/contact",
            data={"name": "Ada <b>", "email": "ada@example.com", "message": "Hello"},
        )
    assert response.status_code == 200
    assert "Thank you, Ada &lt;b&gt;!" in response.text
    assert "ada@example.com" in response.text


@in_own_loop
async def test_contact_form_asks_for_missing_fields(site: ConsentGate) -> None:
    async with client(site) as http:
        response = await http.post("/contact", data={"name": "Ada", "email": "", "message": ""})
    assert response.status_code == 400
    assert "Please fill in: email, message." in response.text
    assert 'value="Ada"' in response.text


@in_own_loop
async def test_static_files_are_served(site: ConsentGate) -> None:
    async with client(site) as http:
        css = await http.get("/static/site.css")
        js = await http.get("/static/inspector.js")
    assert css.status_code == 200
    assert "--brand" in css.text
    assert js.status_code == 200
    assert "data-cg-category" in js.text


# -- the gate, before and after consent -------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
@in_own_loop
async def test_before_consent_nothing_can_load_from_a_tracker(site: ConsentGate, path: str) -> None:
    async with client(site) as http:
        html = (await http.get(path)).text
    page = Elements(html)

    for url in page.loading_urls():
        assert not url.startswith(("http:", "https:", "//")), url  # first-party only
    assert f' src="{TRACKER}/' not in html
    assert f' src="{TRACKER}/t.js"' not in html
    for attrs, text in page.scripts:
        if "data-cg-category" in attrs:
            assert attrs["type"] == "text/plain"
        elif "src" not in attrs and attrs.get("type") != "application/json":
            if GATE_HEAD in text:
                continue  # the gate's own head script: it names trackers to hold them
            assert not any(host in text for host in REAL_TRACKERS), text
            assert "127.0.0.1:8001" not in text


@pytest.mark.parametrize("path", PAGES)
@in_own_loop
async def test_before_consent_each_tracker_is_held_back_with_its_category(
    site: ConsentGate, path: str
) -> None:
    async with client(site) as http:
        page = Elements((await http.get(path)).text)

    def categories(service: str) -> set[str]:
        return {a["data-cg-category"] for _, a in page.held(service)}

    for service in ("google-tag-manager", "google-analytics", "hotjar", "demo-analytics"):
        assert categories(service) == {"analytics"}, service
    for service in ("meta-pixel", "demo-fingerprint", "demo-ads"):
        assert categories(service) == {"marketing"}, service
    if path == "/about":
        # The inline loader variant, recognised by its declared snippet signature.
        [(tag, attrs)] = page.held("demo-analytics")
        assert tag == "script"
        assert "data-cg-src" not in attrs
        loader = next(text for a, text in page.scripts if a is attrs)
        assert "DemoAnalyticsObject" in loader
    else:
        [(tag, attrs)] = page.held("demo-analytics")
        assert (tag, attrs["data-cg-src"]) == ("script", f"{TRACKER}/t.js")
    [(_, fingerprint)] = page.held("demo-fingerprint")
    assert fingerprint["data-cg-src"] == f"{TRACKER}/fp.js"
    pixels = [a for tag, a in page.held("demo-ads") if tag == "img"]
    assert [a["data-cg-src"] for a in pixels] == [
        f"{TRACKER}/pixel.gif?ev=PageView",
        f"{TRACKER}/pixel.gif?ev=PageView&noscript=1",
    ]
    frames = {a["data-cg-service"]: a for tag, a in page.elements if tag == "iframe"}
    expected = {"google-tag-manager"}
    if path == "/products/widget-pro":
        expected.add("demo-ads")
        assert frames["demo-ads"]["data-cg-src"] == f"{TRACKER}/embed?v=widget-pro"
        assert "Allow Demo Ads and load" in frames["demo-ads"]["srcdoc"]
    if path == "/products/widget-classic":
        expected.add("youtube")
    if path == "/contact":
        expected.add("google-maps")
        assert frames["google-maps"]["data-cg-category"] == "preferences"
    assert set(frames) == expected


@pytest.mark.parametrize("path", PAGES)
@in_own_loop
async def test_after_accept_all_every_tracker_loads(site: ConsentGate, path: str) -> None:
    async with client(site) as http:
        await accept_all(http)
        html = (await http.get(path)).text
    page = Elements(html)

    assert "data-cg-category" not in html
    urls = page.loading_urls()
    assert f"{TRACKER}/fp.js" in urls
    assert f"{TRACKER}/pixel.gif?ev=PageView" in urls
    if path == "/about":
        assert f"'{TRACKER}/t.js'" in html  # the inline loader, untouched
    else:
        assert f"{TRACKER}/t.js" in urls
    assert "https://www.googletagmanager.com/gtag/js?id=G-ACME2024XY" in urls
    assert 'Analytics: <strong class="allowed">allowed</strong>' in html


@in_own_loop
async def test_choosing_only_analytics_keeps_marketing_held_back(site: ConsentGate) -> None:
    async with client(site) as http:
        await accept_all(http, action="save", category="analytics")
        page = Elements((await http.get("/products/widget-pro")).text)

    assert f"{TRACKER}/t.js" in page.loading_urls()
    assert not page.held("demo-analytics")
    assert {tag for tag, _ in page.held("demo-ads")} == {"img", "iframe"}
    assert page.held("demo-fingerprint")


@in_own_loop
async def test_server_analytics_cookie_is_dropped_until_consent(site: ConsentGate) -> None:
    async with client(site) as http:
        before = await http.get("/")
        await accept_all(http)
        after = await http.get("/")

    assert not [c for c in before.headers.get_list("set-cookie") if c.startswith("_demo_srv=")]
    [kept] = [c for c in after.headers.get_list("set-cookie") if c.startswith("_demo_srv=")]
    assert "HttpOnly" in kept
    assert "Max-Age=2592000" in kept


@pytest.mark.parametrize(
    "form", [{"action": "reject_all"}, {"action": "save", "category": "marketing"}]
)
@in_own_loop
async def test_server_analytics_cookie_stays_dropped_without_analytics(
    site: ConsentGate, form: dict[str, str]
) -> None:
    async with client(site) as http:
        await accept_all(http, **form)
        response = await http.get("/")
    assert response.status_code == 200
    assert not [c for c in response.headers.get_list("set-cookie") if c.startswith("_demo_srv")]


@in_own_loop
async def test_refusing_later_expires_the_cookies_trackers_set(site: ConsentGate) -> None:
    async with client(site) as http:
        await accept_all(http)
        http.cookies.set("_demo_id", "DA1.1.2", domain="127.0.0.1")
        http.cookies.set("_partner_uid", "P1.abc", domain="127.0.0.1")
        withdrawn = await accept_all(http, action="withdraw")
        # Set again behind the gate's back (say, by a tab still running the old page)...
        http.cookies.set("_demo_id", "DA1.1.2", domain="127.0.0.1")
        page = await http.get("/products")

    def expired(response: httpx.Response) -> set[str]:
        lines = response.headers.get_list("set-cookie")
        return {line.split("=")[0] for line in lines if "Max-Age=0" in line}

    assert {"_demo_id", "_partner_uid"} <= expired(withdrawn)
    assert "_demo_id" in expired(page)  # ...and expired again by the next page
    assert "_demo_id" not in http.cookies


@in_own_loop
async def test_the_tracker_origin_cannot_record_consent(site: ConsentGate) -> None:
    async with client(site) as http:
        response = await http.post(
            "/consent-gate/consent",
            json={"action": "accept_all"},
            headers={"origin": TRACKER},
        )
    assert response.status_code == 403
    assert CONSENT_COOKIE not in http.cookies


@in_own_loop
async def test_policy_page_lists_the_demo_services_and_cookies(site: ConsentGate) -> None:
    async with client(site) as http:
        page = (await http.get("/consent-gate/policy")).text
        data = (await http.get("/consent-gate/policy.json")).json()

    for text in ("Acme Widgets (demo)", "privacy@acme-widgets.example", "Demo Analytics"):
        assert text in page
    for cookie in ("_demo_id", "_demo_srv", "_partner_uid"):
        assert cookie in page
    policy = load_policy()
    assert [s["id"] for s in data["services"]] == list(policy.uses)
    demo = {s["id"]: s for s in data["services"]}
    assert {c["name"]: c["lifetime"] for c in demo["demo-analytics"]["cookies"]} == {
        "_demo_id": "13 months",
        "_demo_srv": "30 days",
    }
    assert demo["demo-ads"]["cookies"][0]["party"] == "third"


# -- the policy and the tracker's address --------------------------------------------------


def test_default_policy_is_the_toml_file() -> None:
    assert load_policy() == Policy.from_toml(POLICY_PATH)
    assert load_policy("http://127.0.0.1:8001/") == load_policy()


def test_every_used_service_and_demo_cookie_is_declared() -> None:
    policy = load_policy()
    services = {s.id: s for s in policy.services}
    assert set(policy.uses) <= set(services)
    for service_id in ("demo-analytics", "demo-ads", "demo-fingerprint"):
        assert service_id in policy.uses
        service = services[service_id]
        assert service.urls
        assert all(u.startswith("127.0.0.1:8001/") for u in service.urls)
        for cookie in service.cookies:
            assert cookie.purpose
            assert cookie.max_age is not None


@in_own_loop
async def test_tracker_origin_can_move(tmp_path: Path) -> None:
    moved = "http://127.0.0.1:9999"
    policy = load_policy(moved)
    urls = [u for s in policy.services if s.id.startswith("demo-") for u in s.urls]
    assert urls
    assert all(u.startswith("127.0.0.1:9999/") for u in urls)

    async with client(create_site(tracker_origin=moved, secret_key=SECRET)) as http:
        html = (await http.get("/about")).text
        await accept_all(http)
        after = (await http.get("/")).text
    page = Elements(html)
    assert page.held("demo-analytics")  # the inline loader, by its port-specific signature
    assert [a["data-cg-src"] for _, a in page.held("demo-fingerprint")] == [f"{moved}/fp.js"]
    assert f'src="{moved}/t.js"' in after


@pytest.mark.parametrize("bad", ["127.0.0.1:8001", "ftp://127.0.0.1:8001", "http://"])
def test_tracker_origin_must_be_an_http_origin(bad: str) -> None:
    with pytest.raises(ValueError, match="tracker_origin"):
        create_site(tracker_origin=bad)


def test_secret_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_SECRET", "from-env")
    from_env = create_site()
    monkeypatch.delenv("DEMO_SECRET")
    default = create_site()
    consent = from_env.codec.decide({"analytics"})
    cookie = from_env.codec.dumps(consent)
    assert from_env.codec.loads(cookie).decided
    assert not default.codec.loads(cookie).decided


# -- the tracker ------------------------------------------------------------------------------


@pytest.fixture
def log() -> HitLog:
    return HitLog()


@pytest.fixture
def tracker(log: HitLog) -> Any:
    return create_tracker(log)


@in_own_loop
async def test_dashboard_and_hits_json(tracker: Any, log: HitLog) -> None:
    async with client(tracker, TRACKER) as http:
        page = await http.get("/")
        empty = (await http.get("/hits.json")).json()

    assert page.status_code == 200
    assert "Demo Tracker" in page.text
    assert "/hits.json" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert empty["total"] == 0
    assert empty["hits"] == []
    assert empty["limit"] == MAX_HITS
    assert set(empty["counts"]) >= {"pageview", "fingerprint", "pixel", "embed", "script"}
    assert tracker.state.log is log


@pytest.mark.parametrize("name", ["t.js", "fp.js"])
@in_own_loop
async def test_scripts_are_served_with_their_origin_and_recorded(
    tracker: Any, log: HitLog, name: str
) -> None:
    async with client(tracker, TRACKER) as http:
        response = await http.get(
            f"/{name}",
            headers={
                "referer": f"{SITE}/products",
                "cookie": "_demo_id=DA1.5.6",
                "user-agent": "TestBrowser/1",
            },
        )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    assert f'var TRACKER = "{TRACKER}";' in response.text
    assert "__TRACKER_ORIGIN__" not in response.text
    [hit] = log.hits
    assert (hit.kind, hit.page, hit.cookies, hit.user_agent) == (
        "script",
        f"{SITE}/products",
        "_demo_id=DA1.5.6",
        "TestBrowser/1",
    )
    assert hit.details == {"script": name}


def test_t_js_sets_a_13_month_first_party_cookie_and_beacons() -> None:
    source = (ROOT / "demo_site" / "tracker_static" / "t.js").read_text()
    assert '"_demo_id"' in source
    assert "13 * 30 * 24 * 3600" in source
    assert "sendBeacon" in source
    fp = (ROOT / "demo_site" / "tracker_static" / "fp.js").read_text()
    for needle in ("toDataURL", "hardwareConcurrency", "sendBeacon", "fingerprint"):
        assert needle in fp


@in_own_loop
async def test_pixel_is_a_real_gif_and_sets_a_third_party_cookie(tracker: Any, log: HitLog) -> None:
    async with client(tracker, TRACKER) as http:
        first = await http.get("/pixel.gif?ev=PageView&noscript=1", headers={"referer": SITE})
        second = await http.get("/pixel.gif?ev=PageView")

    assert first.headers["content-type"] == "image/gif"
    assert first.content == PIXEL_GIF
    assert first.content[:6] == b"GIF89a"
    assert int.from_bytes(first.content[6:8], "little") == 1
    assert int.from_bytes(first.content[8:10], "little") == 1
    uid = first.cookies["_partner_uid"]
    assert uid.startswith("P1.")
    # The browser sends it back; the tracker now recognises the visitor.
    assert second.cookies["_partner_uid"] == uid
    hits = log.hits
    assert [h.kind for h in hits] == ["pixel", "pixel"]
    assert hits[0].details == {"ev": "PageView", "noscript": "1"}
    assert hits[0].page == SITE
    assert hits[1].cookies == f"_partner_uid={uid}"


@in_own_loop
async def test_embed_is_a_partner_video_that_sets_a_cookie(tracker: Any, log: HitLog) -> None:
    async with client(tracker, TRACKER) as http:
        response = await http.get(
            "/embed?v=widget-pro", headers={"referer": f"{SITE}/products/widget-pro"}
        )
    assert response.status_code == 200
    assert "Partner video" in response.text
    assert "_partner_uid" in response.cookies
    [hit] = log.hits
    assert (hit.kind, hit.page, hit.details) == (
        "embed",
        f"{SITE}/products/widget-pro",
        {"v": "widget-pro"},
    )


@in_own_loop
async def test_collect_records_beacons(tracker: Any, log: HitLog) -> None:
    beacon = {
        "kind": "pageview",
        "url": f"{SITE}/about",
        "referrer": f"{SITE}/",
        "cookies": {"_demo_id": "DA1.7.8"},
        "details": {"screen": "1280x720", "page_type": "about"},
    }
    fingerprint = {"kind": "fingerprint", "url": f"{SITE}/", "fp": "0a1b2c3d", "details": {}}
    async with client(tracker, TRACKER) as http:
        # sendBeacon with a string body: text/plain, credentials included, no preflight.
        sent = await http.post(
            "/collect",
            content=json.dumps(beacon),
            headers={"content-type": "text/plain;charset=UTF-8", "origin": SITE},
        )
        await http.post("/collect", content=json.dumps(fingerprint))
        await http.get("/collect", params={"kind": "pageview", "dl": f"{SITE}/x", "cid": "c1"})
        odd = await http.post("/collect", content=json.dumps({"kind": "<script>", "url": 5}))
        bad = await http.post("/collect", content=b"not json")
        listed = (await http.get("/hits.json")).json()

    assert sent.status_code == 204
    assert sent.headers["access-control-allow-origin"] == SITE
    assert sent.headers["access-control-allow-credentials"] == "true"
    assert odd.status_code == 204
    assert bad.status_code == 400
    pageview, fp, fallback, other = log.hits
    assert (pageview.kind, pageview.page, pageview.referrer) == (
        "pageview",
        f"{SITE}/about",
        SITE + "/",
    )
    assert pageview.first_party == {"_demo_id": "DA1.7.8"}
    assert pageview.details["page_type"] == "about"
    assert (fp.kind, fp.fingerprint) == ("fingerprint", "0a1b2c3d")
    assert (fallback.page, fallback.first_party) == (f"{SITE}/x", {"_demo_id": "c1"})
    assert (other.kind, other.page) == ("event", "5")
    assert [h["id"] for h in listed["hits"]] == [4, 3, 2, 1]  # newest first
    assert listed["counts"]["pageview"] == 2
    assert listed["counts"]["event"] == 1


@in_own_loop
async def test_cors_preflight_is_answered(tracker: Any) -> None:
    async with client(tracker, TRACKER) as http:
        response = await http.options(
            "/collect",
            headers={
                "origin": SITE,
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            },
        )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SITE
    assert "POST" in response.headers["access-control-allow-methods"]


@in_own_loop
async def test_clear_empties_the_log(tracker: Any, log: HitLog) -> None:
    log.record("pageview", page=SITE)
    async with client(tracker, TRACKER) as http:
        by_script = await http.post("/clear", headers={"accept": "application/json"})
        log.record("pixel")
        by_form = await http.post("/clear", follow_redirects=False)
        listed = (await http.get("/hits.json")).json()
    assert by_script.json() == {"cleared": True}
    assert (by_form.status_code, by_form.headers["location"]) == (303, "/")
    assert listed["total"] == 0
    assert listed["hits"] == []
    assert len(log) == 0


def test_hit_log_is_bounded() -> None:
    small = HitLog(limit=5)
    for index in range(8):
        small.record("pageview", page=f"/{index}")
    assert [h.page for h in small.hits] == ["/3", "/4", "/5", "/6", "/7"]
    assert small.counts == {"pageview": 8}
    assert small.snapshot()["kept"] == 5

    default = HitLog()
    for _ in range(MAX_HITS + 5):
        default.record("pixel")
    assert len(default) == MAX_HITS == 1000
    assert default.hits[0].id == 6


# -- python -m demo_site ----------------------------------------------------------------------


def test_settings_default_env_and_arguments() -> None:
    assert launcher.parse_settings([], {}) == launcher.Settings(8000, 8001)
    env = {"DEMO_PORT": "9000", "DEMO_TRACKER_PORT": " 9001 "}
    assert launcher.parse_settings([], env) == launcher.Settings(9000, 9001)
    assert launcher.parse_settings(["--port", "7000"], env) == launcher.Settings(7000, 9001)
    args = ["--tracker-port", "0", "--port", "0", "-v"]
    assert launcher.parse_settings(args, env) == launcher.Settings(0, 0, verbose=True)
    assert launcher.parse_settings([], {"DEMO_PORT": ""}).port == 8000


@pytest.mark.parametrize("value", ["http", "-1", "65536", "80.5"])
def test_bad_port_in_environment_is_explained(value: str) -> None:
    with pytest.raises(launcher.DemoError, match=f"DEMO_TRACKER_PORT='{value}' is not a port"):
        launcher.parse_settings([], {"DEMO_TRACKER_PORT": value})


def test_bad_port_argument_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        launcher.parse_settings(["--port", "eighty"], {})
    assert exited.value.code == 2
    assert "'eighty' is not a port number" in capsys.readouterr().err


def test_site_and_tracker_need_different_ports() -> None:
    with pytest.raises(launcher.DemoError, match="cannot share port 8001"):
        launcher.parse_settings([], {"DEMO_PORT": "8001"})


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_taken_port_fails_with_a_clear_message(
    taken_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    status = launcher.main(["--port", str(taken_port), "--tracker-port", "0"], {})

    assert status == 2
    err = capsys.readouterr().err
    assert f"port {taken_port} on 127.0.0.1 is already in use" in err
    assert "demo site" in err
    assert "DEMO_PORT=" in err

    status = launcher.main(["--port", "0"], {"DEMO_TRACKER_PORT": str(taken_port)})
    assert status == 2
    err = capsys.readouterr().err
    assert "demo tracker" in err
    assert "DEMO_TRACKER_PORT=" in err


def test_tracker_socket_is_released_when_the_site_port_is_taken(taken_port: int) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    with pytest.raises(launcher.DemoError):
        launcher.Demo(launcher.Settings(port=taken_port, tracker_port=free))
    with socket.socket() as again:
        again.bind(("127.0.0.1", free))  # not left bound by the failed start


def test_demo_serves_both_apps_in_one_loop_and_stops() -> None:
    demo = launcher.Demo(launcher.Settings(port=0, tracker_port=0), secret_key=SECRET)
    ready = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(demo.serve(on_ready=lambda _: ready.set()))
        except BaseException as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    with demo:
        thread.start()
        assert ready.wait(10)
        assert demo.site_url != demo.tracker_url
        page = httpx.get(f"{demo.site_url}/products/widget-pro").text
        hits = httpx.get(f"{demo.tracker_url}/hits.json").json()
        httpx.get(f"{demo.tracker_url}/pixel.gif")
        demo.stop()
        thread.join(10)

    assert not thread.is_alive()
    assert errors == []
    # The site's policy and pages follow the tracker to its real (here: random) port.
    assert f'data-cg-src="{demo.tracker_url}/t.js"' in page
    assert f'data-cg-src="{demo.tracker_url}/embed?v=widget-pro"' in page
    assert hits["total"] == 0
    assert [h.kind for h in demo.log.hits] == ["pixel"]


def test_announce_prints_both_urls_and_what_to_try(capsys: pytest.CaptureFixture[str]) -> None:
    with launcher.Demo(launcher.Settings(port=0, tracker_port=0)) as demo:
        launcher.announce(demo)
    out = capsys.readouterr().out
    assert f"site     {demo.site_url}/" in out
    assert f"tracker  {demo.tracker_url}/" in out
    assert "What to try:" in out
    assert "Ctrl+C" in out


def _spawn(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("DEMO_PORT", None)
    env.pop("DEMO_TRACKER_PORT", None)
    return subprocess.Popen(
        [sys.executable, "-m", "demo_site", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_python_m_demo_site_runs_and_stops_on_ctrl_c() -> None:
    proc = _spawn("--port", "0", "--tracker-port", "0")
    try:
        assert proc.stdout is not None
        urls: dict[str, str] = {}
        deadline = time.monotonic() + 30
        while len(urls) < 2 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            words = line.split()
            if len(words) >= 2 and words[0] in ("site", "tracker"):
                urls[words[0]] = words[1].rstrip("/")
        assert set(urls) == {"site", "tracker"}, proc.stderr.read() if proc.stderr else ""
        assert httpx.get(f"{urls['site']}/").status_code == 200
        assert httpx.get(f"{urls['tracker']}/hits.json").json()["total"] == 0
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Demo stopped." in out
    assert "Traceback" not in err


def test_python_m_demo_site_reports_a_taken_port(taken_port: int) -> None:
    proc = _spawn("--port", str(taken_port), "--tracker-port", "0")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert f"demo_site: port {taken_port} on 127.0.0.1 is already in use" in err
    assert "Traceback" not in err


def test_qa_serve_can_run_the_pair() -> None:
    log = HitLog()
    with contextlib.ExitStack() as stack:
        tracker_url = stack.enter_context(serve(create_tracker(log)))
        site = create_site(tracker_origin=tracker_url, secret_key=SECRET)
        site_url = stack.enter_context(serve(site))
        html = httpx.get(f"{site_url}/").text
        httpx.get(f"{tracker_url}/t.js", headers={"referer": site_url + "/"})
    assert f'data-cg-src="{tracker_url}/t.js"' in html
    assert [h.kind for h in log.hits] == ["script"]
