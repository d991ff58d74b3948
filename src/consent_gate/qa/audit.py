"""`consent-gate audit URL`: what a site's pages do with no choice, after Accept all and Reject all.

Each page of the crawl (`crawl.Crawl`) is opened three times, each in a fresh Chromium context,
recording every cookie and every third-party request the browser *attempts* (offline, a request
to a tracker host still counts). A pass fails when anything of a non-required category tracks
before a choice or after "Reject all"; a choice that could not be made (no banner of this
package's to click) is reported as such, never as a pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from ..cookies import HOST_PREFIX, CookieRules
from ..errors import ConsentGateError
from ..policy import Policy
from ..rules import Classifier
from .banners import detect_banner
from .crawl import Crawl, Fetch, fetch_text, sitemap_pages
from .recorder import TrackerRecorder, origin_of

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

__all__ = [
    "AuditError",
    "AuditReport",
    "CookieFinding",
    "PageResult",
    "PassResult",
    "RequestFinding",
    "audit",
    "first_line",
]

PASSES = ("no choice", "accept all", "reject all")
_BUTTONS = {
    "accept all": '#cg-banner [data-cg-action="accept_all"]',
    "reject all": '#cg-banner [data-cg-action="reject_all"]',
}
VIEWPORT = {"width": 1280, "height": 800}
MAX_SCREENSHOT = 250_000  # bytes of JPEG per pass, so a report of many pages stays openable
MAX_LINKS = 500  # links read from one page
CHOICE_TIMEOUT = 15.0  # seconds for the site to answer a choice
Verdict = Literal["pass", "fail", "not clicked", "error"]


class AuditError(ConsentGateError):
    """The audit could not run at all (the start page could not be loaded)."""


@dataclass(frozen=True)
class RequestFinding:
    url: str
    host: str
    method: str
    resource_type: str
    service: str
    category: str  # "unknown" when the catalogue does not know the host

    @property
    def tracks(self) -> bool:
        return self.category not in ("unknown", "necessary")


@dataclass(frozen=True)
class CookieFinding:
    name: str
    domain: str
    path: str
    expires: float | None  # seconds since the epoch; None for a session cookie
    lifetime: str
    secure: bool
    http_only: bool
    same_site: str
    size: int  # name and value, as browsers count a cookie against their limits
    category: str

    @property
    def tracks(self) -> bool:
        return self.category not in ("unknown", "necessary")


@dataclass
class PassResult:
    name: str
    requests: list[RequestFinding] = field(default_factory=list)
    cookies: list[CookieFinding] = field(default_factory=list)
    clicked: bool = True  # whether the choice's button was found and clicked
    note: str = ""  # why a choice could not be made, or the screenshot is missing
    screenshot: bytes | None = None  # JPEG of the viewport

    @property
    def tracking(self) -> list[RequestFinding | CookieFinding]:
        findings: list[RequestFinding | CookieFinding] = [*self.requests, *self.cookies]
        return [f for f in findings if f.tracks]

    @property
    def verdict(self) -> Verdict:
        """Tracking is only allowed after "Accept all"; a choice not made is no pass."""
        if self.name != "accept all" and self.tracking:
            return "fail"
        return "pass" if self.clicked else "not clicked"

    @property
    def failed(self) -> bool:
        return self.verdict != "pass"


@dataclass
class PageResult:
    url: str
    passes: list[PassResult] = field(default_factory=list)
    status: int | None = None  # the HTTP status of the first load
    banner: str | None = None  # "consent_gate", another manager's name, or None
    error: str = ""  # the page could not be loaded
    landed: str = ""  # the URL the browser ended up at, after redirects

    @property
    def verdict(self) -> Verdict:
        if self.error:
            return "error"
        verdicts = {p.verdict for p in self.passes}
        for verdict in ("fail", "not clicked"):
            if verdict in verdicts:
                return verdict
        return "pass"

    @property
    def foreign_banner(self) -> str | None:
        """The name of another consent manager whose banner the page shows."""
        return self.banner if self.banner not in (None, "consent_gate") else None


@dataclass
class AuditReport:
    url: str
    pages: list[PageResult]
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def ok(self) -> bool:
        return all(p.verdict == "pass" for p in self.pages)

    @property
    def passes(self) -> list[PassResult]:
        """Every pass of every page, in order."""
        return [result for page in self.pages for result in page.passes]


def audit(
    url: str,
    browser: Browser,
    *,
    policy: Policy | None = None,
    settle: float = 1.5,
    pages: int = 1,
    stub: bool = False,
    passthrough: Sequence[str] = (),
    fetch: Fetch = fetch_text,
    progress: Callable[[str], None] = lambda step: None,
) -> AuditReport:
    """Audit up to `pages` pages from `url` (its sitemap first, then the links found on each
    page) in `browser`. `stub`: answer third-party requests with the recorder's local stubs
    (never reaching real trackers), except those to `passthrough` origins. AuditError if `url`
    itself cannot be loaded."""
    policy = policy or Policy.default()
    auditor = _Auditor(browser, policy, settle, progress, stub, passthrough)
    crawl = _crawl(url, pages, policy, fetch, progress)
    results: list[PageResult] = []
    followed = False
    while (page_url := crawl.next()) is not None:
        progress(f"page {len(results) + 1}/{len(crawl.seen)}: {page_url}")
        result, links = auditor.page(page_url)
        if not results and result.error:
            raise AuditError(f"cannot load {url}: {result.error}")
        if not result.error and origin_of(result.landed) != crawl.origin:
            if results or followed:  # a link off the site (a login page elsewhere, say)
                progress(f"{page_url} took the browser to {result.landed}: skipped")
                continue
            # http:// to https://, or to www.: the site is where the browser landed.
            followed, url = True, result.landed
            progress(f"{page_url} took the browser to {url}: auditing that site")
            crawl = _crawl(url, pages, policy, fetch, progress)
            continue
        results.append(result)
        crawl.add(links)
    if not results:
        raise AuditError(f"{url} keeps sending the browser to other sites: nothing to audit")
    return AuditReport(url, results)


def _crawl(
    url: str, pages: int, policy: Policy, fetch: Fetch, progress: Callable[[str], None]
) -> Crawl:
    crawl = Crawl(url, max(pages, 1), skip_prefix=policy.prefix + "/")
    if pages > 1:
        progress(f"reading the sitemap of {url}")
        crawl.add(sitemap_pages(url, fetch, pages))
    return crawl


class _Auditor:
    """Runs the three passes of one page; compiled rules shared by every page."""

    def __init__(
        self,
        browser: Browser,
        policy: Policy,
        settle: float,
        progress: Callable[[str], None],
        stub: bool,
        passthrough: Sequence[str],
    ) -> None:
        self.browser = browser
        self.settle = settle
        self.progress = progress
        self.classifier = Classifier(policy.services)
        self.cookie_rules = CookieRules(policy)
        self.consent_cookie = policy.cookie_name
        self.stub = stub
        self.passthrough = passthrough

    def page(self, url: str) -> tuple[PageResult, list[str]]:
        """The page's passes, and the links found on it with no choice made."""
        result = PageResult(url)
        links: list[str] = []
        for index, name in enumerate(PASSES, 1):
            step = f"  [{index}/{len(PASSES)}] {name}"
            if name != "no choice" and result.banner != "consent_gate":
                result.passes.append(PassResult(name, clicked=False, note=_why_unclicked(result)))
                continue
            self.progress(f"{step}: opening {url}")
            context = self.browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
            recorder = TrackerRecorder([url], stub=self.stub, passthrough=self.passthrough)
            recorder.attach(context)
            try:
                page = context.new_page()
                try:
                    response = page.goto(url, wait_until="load")
                except Exception as exc:  # Playwright's Error: DNS, refused, TLS, timeout
                    result.error = first_line(exc)
                    return result, []
                self._settle(page)
                outcome = PassResult(name)
                if name == "no choice":
                    result.status = response.status if response else None
                    result.landed = page.url
                    if origin_of(page.url) != origin_of(url):
                        return result, []  # another site: the caller decides what to do
                    result.banner = detect_banner(page)
                    links = _links(page)
                else:
                    self.progress(f"{step}: choosing")
                    outcome.clicked, outcome.note = _choose(page, name)
                    if name == "reject all":
                        recorder.clear()  # what counts is what happens after the refusal
                    self._settle(page)
                    self.progress(f"{step}: loading the page again")
                    try:
                        page.goto(url, wait_until="load")
                    except Exception as exc:  # as above: this pass, and so the page, fails
                        result.error = f"loading it again after {name}: {first_line(exc)}"
                        return result, links
                    self._settle(page)
                outcome.screenshot, missing = _screenshot(page)
                outcome.note = "; ".join(filter(None, [outcome.note, missing]))
                outcome.requests = self._requests(recorder)
                outcome.cookies = self._cookies(context)
                result.passes.append(outcome)
            finally:
                context.close()
        return result, links

    def _settle(self, page: Page) -> None:
        """Give late scripts, timers and beacons a moment; requests during it are recorded."""
        deadline = time.monotonic() + self.settle
        while time.monotonic() < deadline:
            page.wait_for_timeout(100)

    def _requests(self, recorder: TrackerRecorder) -> list[RequestFinding]:
        found: dict[str, RequestFinding] = {}
        for hit in recorder.hits:
            match = self.classifier.url(hit.url)
            found.setdefault(
                hit.url,
                RequestFinding(
                    url=hit.url,
                    host=hit.host,
                    method=hit.method,
                    resource_type=hit.resource_type,
                    service=match.service if match else "",
                    category=match.category if match else "unknown",
                ),
            )
        return list(found.values())

    def _cookies(self, context: BrowserContext) -> list[CookieFinding]:
        now = time.time()
        found = []
        for cookie in context.cookies():
            name = cookie.get("name", "")
            expires = cookie.get("expires", -1)
            session = expires is None or expires < 0
            ours = name in (self.consent_cookie, HOST_PREFIX + self.consent_cookie)
            found.append(
                CookieFinding(
                    name=name,
                    domain=cookie.get("domain", ""),
                    path=cookie.get("path", "/"),
                    expires=None if session else expires,
                    lifetime="session" if session else _days(expires - now),
                    secure=bool(cookie.get("secure")),
                    http_only=bool(cookie.get("httpOnly")),
                    same_site=cookie.get("sameSite", "") or "",
                    size=len(name) + len(cookie.get("value", "")),
                    category="necessary"
                    if ours
                    else (self.cookie_rules.category(name) or "unknown"),
                )
            )
        return found

    def _category(self, cookie: str) -> str:
        return self.cookie_rules.category(cookie) or "unknown"


def _why_unclicked(page: PageResult) -> str:
    if page.foreign_banner:
        return (
            f"the page shows {page.foreign_banner}'s banner, not consent_gate's: "
            "the audit cannot make this choice"
        )
    return "the page shows no consent banner (no #cg-banner): the audit cannot make this choice"


def _choose(page: Page, name: str) -> tuple[bool, str]:
    """Click the choice's button and wait for the site to answer it (the first decision may
    take a while: the consent log starts then), so the reload after it carries the cookie."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    button = page.locator(_BUTTONS[name])
    if not button.count():
        return False, "the banner has no button for this choice"
    origin = origin_of(page.url)
    try:
        with page.expect_response(
            lambda r: r.request.method == "POST" and origin_of(r.url) == origin,
            timeout=CHOICE_TIMEOUT * 1000,
        ):
            button.first.click()
    except PlaywrightTimeoutError:
        return False, f"clicked, but the site did not answer the choice within {CHOICE_TIMEOUT:g} s"
    return True, ""


def _links(page: Page) -> list[str]:
    hrefs = page.eval_on_selector_all(
        "a[href]", f"links => links.slice(0, {MAX_LINKS}).map(a => a.href)"
    )
    return [h for h in hrefs if isinstance(h, str)]


def _screenshot(page: Page) -> tuple[bytes | None, str]:
    """The viewport as JPEG, at most MAX_SCREENSHOT bytes (lower quality if need be)."""
    for quality in (60, 30):
        image = page.screenshot(type="jpeg", quality=quality)
        if len(image) <= MAX_SCREENSHOT:
            return image, ""
    return None, f"screenshot left out: larger than {MAX_SCREENSHOT // 1000} kB"


def first_line(exc: BaseException) -> str:
    """An exception in one line (Playwright's carry a call log after the first)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _days(seconds: float) -> str:
    days = seconds / 86400
    return f"{days:.0f} days" if days >= 1 else f"{seconds / 3600:.1f} hours"
