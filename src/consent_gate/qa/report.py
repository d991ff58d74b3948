"""An audit as JSON (for CI), plain text (for the terminal) and HTML (for people).

Everything in a report that came from the audited site (URLs, cookie names, CMP markers) is
untrusted: the HTML is rendered by Jinja2 with autoescape, the text has control characters
replaced, and JSON is JSON.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, Template

from .. import __version__
from .audit import AuditReport, PageResult, PassResult

__all__ = ["SCHEMA", "SCHEMA_VERSION", "summary", "to_dict", "to_html", "to_json", "to_text"]

SCHEMA = "consent-gate-audit"
SCHEMA_VERSION = 2  # 1: a single page, no schema fields; 2: pages, cookie attributes
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def summary(report: AuditReport) -> dict[str, Any]:
    """Counts for the top of a report."""
    verdicts = [p.verdict for p in report.passes]
    return {
        "pages": len(report.pages),
        "pages_passed": sum(p.verdict == "pass" for p in report.pages),
        "pages_with_errors": sum(p.verdict == "error" for p in report.pages),
        "passes": len(verdicts),
        "passes_failed": verdicts.count("fail"),
        "passes_not_clicked": verdicts.count("not clicked"),
        "tracking_requests": sum(
            r.tracks for p in report.passes if p.name != "accept all" for r in p.requests
        ),
        "tracking_cookies": sum(
            c.tracks for p in report.passes if p.name != "accept all" for c in p.cookies
        ),
        "foreign_banners": sorted({p.foreign_banner for p in report.pages if p.foreign_banner}),
    }


def to_dict(report: AuditReport) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "generated_at": report.started.astimezone(UTC).isoformat(timespec="seconds"),
        "tool": {"name": "consent-gate", "version": __version__},
        "url": report.url,
        "ok": report.ok,
        "summary": summary(report),
        "pages": [_page(page) for page in report.pages],
    }


def _page(page: PageResult) -> dict[str, Any]:
    return {
        "url": page.url,
        "landed_url": page.landed or None,
        "verdict": page.verdict,
        "status": page.status,
        "error": page.error or None,
        "banner": page.banner,
        "foreign_banner": page.foreign_banner,
        "passes": [_pass(p) for p in page.passes],
    }


def _pass(result: PassResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "verdict": result.verdict,
        "clicked": result.clicked,
        "note": result.note or None,
        "requests": [
            {
                "url": r.url,
                "host": r.host,
                "method": r.method,
                "resource_type": r.resource_type,
                "service": r.service or None,
                "category": r.category,
                "tracks": r.tracks,
            }
            for r in result.requests
        ],
        "cookies": [
            {
                "name": c.name,
                "domain": c.domain,
                "path": c.path,
                "expires": _iso(c.expires),
                "lifetime": c.lifetime,
                "secure": c.secure,
                "http_only": c.http_only,
                "same_site": c.same_site or None,
                "size": c.size,
                "category": c.category,
                "tracks": c.tracks,
            }
            for c in result.cookies
        ],
    }


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def to_json(report: AuditReport) -> str:
    return json.dumps(to_dict(report), indent=2)


def to_text(report: AuditReport) -> str:
    def clean(text: str) -> str:
        return _CONTROL.sub("?", text)

    counts = summary(report)
    lines = [
        f"Audit of {clean(report.url)}: {'PASS' if report.ok else 'FAIL'} - "
        f"{counts['pages_passed']}/{counts['pages']} page(s) passed, "
        f"{counts['passes_failed']} pass(es) tracked, "
        f"{counts['passes_not_clicked']} choice(s) could not be made"
    ]
    for page in report.pages:
        lines.append(f"\n# {clean(page.url)} [{page.verdict.upper()}]")
        if page.error:
            lines.append(f"  could not load: {clean(page.error)}")
        if page.foreign_banner:
            lines.append(
                f"  banner: {clean(page.foreign_banner)}, not consent_gate's: "
                "accept all and reject all could not be clicked"
            )
        elif page.banner is None and not page.error:
            lines.append("  banner: none found: accept all and reject all could not be clicked")
        for p in page.passes:
            lines.append(f"== {p.name} [{p.verdict.upper()}]" + (f" ({p.note})" if p.note else ""))
            if not p.clicked and not p.requests and not p.cookies:
                continue
            lines.append(f"  cookies ({len(p.cookies)}):")
            lines += [
                f"    {'!' if c.tracks else ' '} {clean(c.name):<28} {c.category:<12} "
                f"{c.lifetime:<12} {clean(c.domain)}{clean(c.path)}"
                f"{' Secure' if c.secure else ''}{' HttpOnly' if c.http_only else ''}"
                f"{' SameSite=' + c.same_site if c.same_site else ''}"
                for c in p.cookies
            ]
            lines.append(f"  third-party requests ({len(p.requests)}):")
            lines += [
                f"    {'!' if r.tracks else ' '} {r.category:<12} {r.service or '-':<22} "
                f"{r.resource_type:<10} {clean(r.url)[:110]}"
                for r in p.requests
            ]
    return "\n".join(lines)


@cache
def _template() -> Template:
    env = Environment(
        loader=PackageLoader("consent_gate", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["data_uri"] = lambda image: (
        "data:image/jpeg;base64," + base64.b64encode(image).decode("ascii")
    )
    return env.get_template("audit.html")


def to_html(report: AuditReport) -> str:
    return _template().render(report=report, summary=summary(report), data=to_dict(report))
