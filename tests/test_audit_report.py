"""The audit's reports: JSON for CI (schema, version, time), text and HTML (summary first,
verdicts in words as well as colours, untrusted page data escaped)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html.parser import HTMLParser

import consent_gate
from consent_gate import suggest
from consent_gate.qa.audit import (
    MAX_SCREENSHOT,
    AuditReport,
    CookieFinding,
    PageResult,
    PassResult,
    RequestFinding,
    _screenshot,
)
from consent_gate.qa.report import to_dict, to_html, to_json, to_text

EVIL = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
JPEG = b"\xff\xd8\xff\xe0fake-jpeg"


def _cookie(name: str, category: str) -> CookieFinding:
    return CookieFinding(
        name=name,
        domain=".shop.example",
        path="/",
        expires=1_900_000_000.0,
        lifetime="390 days",
        secure=True,
        http_only=False,
        same_site="Lax",
        size=len(name) + 12,
        category=category,
    )


def _report() -> AuditReport:
    tracker = RequestFinding(
        url=f"https://www.google-analytics.com/collect?x={EVIL}",
        host="www.google-analytics.com",
        method="GET",
        resource_type="image",
        service="google-analytics",
        category="analytics",
    )
    clean = PageResult(
        "https://shop.example/",
        [PassResult("no choice", screenshot=JPEG), PassResult("accept all", [tracker])],
        status=200,
        banner="consent_gate",
    )
    clean.passes.append(PassResult("reject all", cookies=[_cookie("cg_consent", "necessary")]))
    tracking = PageResult(
        f"https://shop.example/{EVIL}",
        [PassResult("no choice", [tracker], [_cookie(EVIL, "analytics")])],
        status=200,
        banner="consent_gate",
    )
    tracking.passes += [PassResult("accept all"), PassResult("reject all")]
    foreign = PageResult(
        "https://shop.example/legacy",
        [
            PassResult("no choice"),
            PassResult("accept all", clicked=False, note="OneTrust's banner"),
            PassResult("reject all", clicked=False, note="OneTrust's banner"),
        ],
        status=200,
        banner="OneTrust",
    )
    return AuditReport(
        "https://shop.example/", [clean, tracking, foreign], datetime(2026, 12, 6, tzinfo=UTC)
    )


class _Tree(HTMLParser):
    """The elements of a document, and the text of each summary-table row."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.rows: list[str] = []
        self._table = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self._table = dict(attrs).get("id") or ""
        if tag == "tr" and self._table == "summary-table":
            self.rows.append("")
        if tag in ("td", "th") and self.rows:
            self.rows[-1] += " "

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = ""

    def handle_data(self, data: str) -> None:
        if self._table == "summary-table" and self.rows:
            self.rows[-1] += data


def test_json_has_a_schema_version_timestamp_tool_version_and_cookie_attributes() -> None:
    data = json.loads(to_json(_report()))
    assert data["schema"] == "consent-gate-audit"
    assert data["schema_version"] == 2
    assert data["generated_at"] == "2026-12-06T00:00:00+00:00"
    assert data["tool"] == {"name": "consent-gate", "version": consent_gate.__version__}
    assert data["ok"] is False
    assert data["summary"]["pages"] == 3
    assert data["summary"]["passes_failed"] == 1
    assert data["summary"]["passes_not_clicked"] == 2
    assert data["summary"]["foreign_banners"] == ["OneTrust"]
    assert [p["verdict"] for p in data["pages"]] == ["pass", "fail", "not clicked"]
    legacy = data["pages"][2]
    assert legacy["foreign_banner"] == "OneTrust"
    assert [p["clicked"] for p in legacy["passes"]] == [True, False, False]
    cookie = data["pages"][1]["passes"][0]["cookies"][0]
    assert cookie == {
        "name": EVIL,
        "domain": ".shop.example",
        "path": "/",
        "expires": "2030-03-17T17:46:40+00:00",
        "lifetime": "390 days",
        "secure": True,
        "http_only": False,
        "same_site": "Lax",
        "size": len(EVIL) + 12,
        "category": "analytics",
        "tracks": True,
    }
    request = data["pages"][1]["passes"][0]["requests"][0]
    assert request["category"] == "analytics"
    assert request["tracks"] is True
    assert set(request) == {
        "url",
        "host",
        "method",
        "resource_type",
        "service",
        "category",
        "tracks",
    }


def test_html_report_opens_with_a_summary_in_words_and_escapes_page_data() -> None:
    html = to_html(_report())
    tree = _Tree()
    tree.feed(html)
    # Nothing the audited site said became markup.
    assert "script" not in {tag for tag, _ in tree.tags}
    assert not any("onerror" in attrs for _, attrs in tree.tags)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # The summary table comes before any page's details, one row per page, verdicts in words.
    assert html.index('id="summary-table"') < html.index('id="page-1"')
    header, *rows = [" ".join(row.split()) for row in tree.rows]
    assert header == "page verdict no choice accept all reject all"
    assert rows[0].startswith("https://shop.example/ PASS PASS")
    assert rows[1].startswith(f"https://shop.example/{EVIL} FAIL FAIL (1 request(s), 1 cookie(s))")
    assert rows[2] == (
        "https://shop.example/legacy NOT CLICKED PASS (0 request(s), 0 cookie(s)) "
        "NOT CLICKED (0 request(s), 0 cookie(s)) NOT CLICKED (0 request(s), 0 cookie(s))"
    )
    assert "this site shows\nOneTrust" in html or "this site shows OneTrust" in html
    # Colours back the words up: each verdict has its class.
    classes = {attrs.get("class") for _, attrs in tree.tags}
    assert {
        "verdict verdict-pass",
        "verdict verdict-fail",
        "verdict verdict-not-clicked",
    } <= classes
    # Cookie attributes and the embedded screenshot.
    assert "<th>SameSite</th>" in html
    assert "Lax" in html
    images = [attrs["src"] for tag, attrs in tree.tags if tag == "img"]
    assert images == ["data:image/jpeg;base64,/9j/4GZha2UtanBlZw=="]


def test_text_report_names_the_foreign_banner_and_strips_control_characters() -> None:
    report = _report()
    report.pages[1].url = "https://shop.example/\x1b[2Jcleared"
    text = to_text(report)
    assert "\x1b" not in text
    assert text.splitlines()[0] == (
        "Audit of https://shop.example/: FAIL - 1/3 page(s) passed, 1 pass(es) tracked, "
        "2 choice(s) could not be made"
    )
    assert (
        "banner: OneTrust, not consent_gate's: accept all and reject all could not be clicked"
        in (text)
    )
    assert to_dict(report)["ok"] is False


class _Page:
    """Stands in for a Playwright page whose screenshots are `sizes` bytes, quality by quality."""

    def __init__(self, *sizes: int) -> None:
        self.sizes = list(sizes)
        self.qualities: list[int] = []

    def screenshot(self, *, type: str, quality: int) -> bytes:
        assert type == "jpeg"
        self.qualities.append(quality)
        return b"\xff" * self.sizes.pop(0)


def test_screenshots_are_bounded() -> None:
    fits = _Page(1000)
    assert _screenshot(fits) == (b"\xff" * 1000, "")  # type: ignore[arg-type]
    assert fits.qualities == [60]
    second = _Page(MAX_SCREENSHOT + 1, MAX_SCREENSHOT)
    assert _screenshot(second)[0] is not None  # type: ignore[arg-type]
    assert second.qualities == [60, 30]
    image, note = _screenshot(_Page(MAX_SCREENSHOT + 1, MAX_SCREENSHOT + 1))  # type: ignore[arg-type]
    assert image is None
    assert note == "screenshot left out: larger than 250 kB"


def test_suggest_reads_the_unknown_hosts_of_every_page_of_an_audit() -> None:
    report = _report()
    unknown = RequestFinding(
        url="https://cdn.unclassified.example/x.js",
        host="cdn.unclassified.example",
        method="GET",
        resource_type="script",
        service="",
        category="unknown",
    )
    report.pages[2].passes[0].requests.append(unknown)
    assert suggest.read(to_json(report)) == [
        ("cdn.unclassified.example", 1, "audit: script (no choice)")
    ]
