"""`consent-gate audit URL`: what a page does with no choice, after Accept all and Reject all.

Each pass opens the page in a fresh Chromium context and records every cookie and every
third-party request the browser *attempts* (offline, a request to a tracker host still counts).
The page fails the audit when anything of a non-required category tracks before a choice or
after "Reject all".
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from html import escape
from typing import TYPE_CHECKING

from ..cookies import HOST_PREFIX, CookieRules
from ..policy import Policy
from ..rules import Classifier
from .recorder import TrackerRecorder

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

__all__ = ["AuditReport", "CookieFinding", "PassResult", "RequestFinding", "audit"]

PASSES = ("no choice", "accept all", "reject all")
_BUTTONS = {
    "accept all": ('#cg-banner [data-cg-action="accept_all"]', "accept all|allow all|agree"),
    "reject all": ('#cg-banner [data-cg-action="reject_all"]', "reject all|decline|deny"),
}


@dataclass(frozen=True)
class RequestFinding:
    url: str
    host: str
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
    lifetime: str
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
    screenshot: bytes | None = None

    @property
    def tracking(self) -> list[RequestFinding | CookieFinding]:
        findings: list[RequestFinding | CookieFinding] = [*self.requests, *self.cookies]
        return [f for f in findings if f.tracks]

    @property
    def failed(self) -> bool:
        """Tracking is only allowed after "Accept all"; a missing button is a failure too."""
        return self.name != "accept all" and (bool(self.tracking) or not self.clicked)


@dataclass
class AuditReport:
    url: str
    passes: list[PassResult]

    @property
    def ok(self) -> bool:
        return not any(p.failed for p in self.passes)

    def to_json(self) -> str:
        return json.dumps(
            {
                "url": self.url,
                "ok": self.ok,
                "passes": [
                    {
                        "name": p.name,
                        "failed": p.failed,
                        "clicked": p.clicked,
                        "requests": [asdict(r) | {"tracks": r.tracks} for r in p.requests],
                        "cookies": [asdict(c) | {"tracks": c.tracks} for c in p.cookies],
                    }
                    for p in self.passes
                ],
            },
            indent=2,
        )

    def to_text(self) -> str:
        lines = [f"Audit of {self.url}: {'PASS' if self.ok else 'FAIL'}"]
        for p in self.passes:
            verdict = "FAIL" if p.failed else "ok"
            lines.append(
                f"\n== {p.name} [{verdict}]" + ("" if p.clicked else " (button not found)")
            )
            lines.append(f"  cookies ({len(p.cookies)}):")
            lines += [
                f"    {'!' if c.tracks else ' '} {c.name:<28} {c.category:<12} "
                f"{c.lifetime:<12} {c.domain}"
                for c in p.cookies
            ]
            lines.append(f"  third-party requests ({len(p.requests)}):")
            lines += [
                f"    {'!' if r.tracks else ' '} {r.category:<12} {r.service or '-':<22} "
                f"{r.resource_type:<10} {r.url[:110]}"
                for r in p.requests
            ]
        return "\n".join(lines)

    def to_html(self) -> str:
        parts = [
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
            f"<title>consent-gate audit: {escape(self.url)}</title><style>",
            "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#111}",
            "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;",
            "padding:.25em .5em;text-align:left}.bad{background:#fde2e1}.fail{color:#b00020}",
            "img{max-width:100%;border:1px solid #ccc}</style></head><body>",
            f"<h1>Audit of <code>{escape(self.url)}</code>: ",
            f"<span class='{'ok' if self.ok else 'fail'}'>{'PASS' if self.ok else 'FAIL'}</span>",
            "</h1>",
        ]
        for p in self.passes:
            parts.append(f"<h2>{escape(p.name)}{' — FAIL' if p.failed else ''}</h2>")
            if p.screenshot:
                data = base64.b64encode(p.screenshot).decode("ascii")
                parts.append(f"<img alt='the page on load' src='data:image/png;base64,{data}'>")
            parts.append("<h3>Cookies</h3><table><tr><th>name</th><th>category</th>")
            parts.append("<th>lifetime</th><th>domain</th></tr>")
            for c in p.cookies:
                parts.append(
                    f"<tr class='{'bad' if c.tracks else ''}'><td>{escape(c.name)}</td>"
                    f"<td>{escape(c.category)}</td><td>{escape(c.lifetime)}</td>"
                    f"<td>{escape(c.domain)}</td></tr>"
                )
            parts.append("</table><h3>Third-party requests</h3><table><tr><th>category</th>")
            parts.append("<th>service</th><th>type</th><th>url</th></tr>")
            for r in p.requests:
                parts.append(
                    f"<tr class='{'bad' if r.tracks else ''}'><td>{escape(r.category)}</td>"
                    f"<td>{escape(r.service)}</td><td>{escape(r.resource_type)}</td>"
                    f"<td>{escape(r.url)}</td></tr>"
                )
            parts.append("</table>")
        parts.append("</body></html>")
        return "".join(parts)


def audit(
    url: str,
    browser: Browser,
    *,
    policy: Policy | None = None,
    settle: float = 1.5,
    progress: Callable[[str], None] = lambda step: None,
) -> AuditReport:
    """Run the three passes against `url` in `browser` and classify what each one saw."""
    policy = policy or Policy.default()
    classifier = Classifier(policy.services)
    cookie_rules = CookieRules(policy)
    results = []
    for index, name in enumerate(PASSES, 1):
        progress(f"[{index}/{len(PASSES)}] {name}: opening {url}")
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        recorder = TrackerRecorder([url], stub=False)
        recorder.attach(context)
        try:
            page = context.new_page()
            page.goto(url, wait_until="load")
            _settle(page, settle)
            result = PassResult(name)
            if name == "no choice":
                result.screenshot = page.screenshot()
            else:
                progress(f"[{index}/{len(PASSES)}] {name}: choosing")
                result.clicked = _choose(page, name)
                if name == "reject all":
                    recorder.clear()  # what counts is what happens after the refusal
                _settle(page, settle)
                progress(f"[{index}/{len(PASSES)}] {name}: loading the page again")
                page.goto(url, wait_until="load")
                _settle(page, settle)
            result.requests = _requests(recorder, classifier)
            result.cookies = _cookies(context, cookie_rules, policy.cookie_name)
            results.append(result)
        finally:
            context.close()
    return AuditReport(url, results)


def _settle(page: Page, seconds: float) -> None:
    """Give late scripts, timers and beacons a moment; requests during it are recorded."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        page.wait_for_timeout(100)


def _choose(page: Page, name: str) -> bool:
    selector, label = _BUTTONS[name]
    button = page.locator(selector)
    if not button.count():
        button = page.get_by_role("button", name=re.compile(label, re.IGNORECASE))
    if not button.count():
        return False
    button.first.click()
    return True


def _requests(recorder: TrackerRecorder, classifier: Classifier) -> list[RequestFinding]:
    found: dict[str, RequestFinding] = {}
    for hit in recorder.hits:
        match = classifier.url(hit.url)
        found.setdefault(
            hit.url,
            RequestFinding(
                url=hit.url,
                host=hit.host,
                resource_type=hit.resource_type,
                service=match.service if match else "",
                category=match.category if match else "unknown",
            ),
        )
    return list(found.values())


def _cookies(
    context: BrowserContext, rules: CookieRules, consent_cookie: str
) -> list[CookieFinding]:
    now = time.time()
    found = []
    for cookie in context.cookies():
        name = cookie.get("name", "")
        expires = cookie.get("expires", -1)
        lifetime = "session" if expires is None or expires < 0 else _days(expires - now)
        ours = name in (consent_cookie, HOST_PREFIX + consent_cookie)
        category = "necessary" if ours else (rules.category(name) or "unknown")
        found.append(CookieFinding(name, cookie.get("domain", ""), lifetime, category))
    return found


def _days(seconds: float) -> str:
    days = seconds / 86400
    return f"{days:.0f} days" if days >= 1 else f"{seconds / 3600:.1f} hours"
