"""The `consent-gate` command: check a policy and see what the gate would do with a page."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO, TextIO

import click

from . import suggest as suggestions
from .consent_mode import consent_aware
from .fingerprint import covering_categories
from .html import HtmlRewriter
from .log_cli import log
from .policy import Policy, PolicyError
from .reports_cli import reports
from .rules import Rules, Unknown
from .storage import redacted
from .unknown import UnknownParties

_POLICY = click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Policy TOML file (default: the built-in policy and catalogue).",
)


def _load(policy_path: Path | None) -> Policy:
    try:
        return Policy.from_toml(policy_path) if policy_path else Policy.default()
    except PolicyError as exc:
        raise click.ClickException(f"invalid policy: {exc}") from None


@click.group()
@click.version_option(package_name="consent-gate")
def main() -> None:
    """Cookie-consent and tracking gate for ASGI sites."""


main.add_command(log)
main.add_command(reports)


@main.command()
@click.argument("policy_path", type=click.Path(dir_okay=False, path_type=Path))
def check(policy_path: Path) -> None:
    """Validate a policy file; each mistake is reported with the key that holds it."""
    try:
        policy = Policy.from_toml(policy_path)
    except PolicyError as exc:
        count = len(exc.problems)
        click.echo(f"{policy_path}: {count} problem{'s' if count > 1 else ''}", err=True)
        for key, message in exc.problems:
            click.echo(f"  {key}: {message}", err=True)
        sys.exit(1)
    cookies = sum(len(s.cookies) for s in policy.services)
    click.echo(
        f"{policy_path}: OK - revision {policy.revision}, {len(policy.categories)} categories, "
        f"{len(policy.services)} services, {cookies} cookies."
    )
    # Every stance the gate takes on the visitor's behalf, said out loud.
    gpc = policy.gpc
    guard = policy.fingerprinting
    gcm = policy.google_consent_mode
    stances = [
        f"Do Not Track: {'honoured' if policy.dnt == 'honour' else 'ignored'}",
        "Global Privacy Control: "
        + (f"honoured for {', '.join(gpc.sale_sharing)}" if gpc.stance == "honour" else "ignored"),
        f"Content-Security-Policy: {policy.csp.mode}",
        "fingerprinting guard: "
        + (f"on until {' + '.join(covering_categories(policy))}" if guard.guard else "off"),
        f"Google Consent Mode: {gcm.mode if gcm.enabled else 'off'}",
        "unknown third parties: "
        + (
            f"held until {policy.unknown.category}"
            if policy.unknown.third_parties == "hold"
            else "allowed (reported)"
        ),
        "consent log: "
        + (
            f"{redacted(policy.log.dsn)}, journal fsync {'on' if policy.log.fsync else 'off'}"
            if policy.log.enabled
            else "off"
        ),
    ]
    for stance in stances:
        click.echo(f"  {stance}")


@main.command()
@_POLICY
def services(policy_path: Path | None) -> None:
    """List the services the gate knows, with their category and what identifies them."""
    policy = _load(policy_path)
    for service in policy.services:
        marks = [*service.hosts, *service.urls]
        click.echo(f"{service.id:28} {service.category:12} {', '.join(marks) or '(snippets)'}")


@main.command()
@_POLICY
@click.argument("url")
def classify(policy_path: Path | None, url: str) -> None:
    """Tell which service and category a script, pixel or frame URL belongs to."""
    policy = _load(policy_path)
    match = Rules(policy, unknown=UnknownParties(policy)).classifier.url(url)
    if isinstance(match, Unknown):
        stance = (
            f"as a script, frame or pixel it is held until {match.category}"
            if policy.unknown.third_parties == "hold"
            else "it would load without consent, and be reported"
        )
        click.echo(f"{url}: an unknown third party ({stance})")
        sys.exit(1)
    if match is None:
        click.echo(f"{url}: not a tracker the policy knows, and not a third party it judges")
        sys.exit(1)
    click.echo(f"{url}: {match.service} ({match.category})")


@main.command()
@_POLICY
@click.option(
    "--category",
    default="marketing",
    show_default=True,
    help="The category to propose for every host (review each one).",
)
@click.argument("sources", nargs=-1, required=True)
def suggest(policy_path: Path | None, category: str, sources: tuple[str, ...]) -> None:
    """Turn unclassified third parties the gate or browsers reported into [services.x] tables
    for review. SOURCES, in any mix: the gate's log, a saved GET {prefix}/reports summary, an
    `audit --json` report (files, or - for stdin), or the live reports endpoint
    (https://site/consent-gate/reports, read with $CONSENT_GATE_REPORTS_TOKEN)."""
    policy = _load(policy_path)
    found = []
    for source in sources:
        try:
            found += suggestions.read(_read_source(source))
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"{source}: {exc}") from None
    click.echo(suggestions.suggest(found, policy, category), nl=False)


def _read_source(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    if source.startswith(("https://", "http://")):
        token = os.environ.get("CONSENT_GATE_REPORTS_TOKEN", "")
        request = urllib.request.Request(source, headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body: bytes = response.read()
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the connection
            raise OSError(f"HTTP {exc.code} (is $CONSENT_GATE_REPORTS_TOKEN right?)") from None
        return body.decode("utf-8")
    return Path(source).read_text(encoding="utf-8")


@main.command()
@_POLICY
@click.option(
    "--accept",
    "accepted",
    multiple=True,
    metavar="CATEGORY",
    help="A category the visitor accepted (repeatable); the rest are refused.",
)
@click.argument("page", type=click.File("rb"))
def rewrite(policy_path: Path | None, accepted: tuple[str, ...], page: BinaryIO) -> None:
    """Print PAGE (a file or -) as the gate would serve it, and count what it held back."""
    policy = _load(policy_path)
    unknown = set(accepted) - set(policy.optional_categories)
    if unknown:
        raise click.BadParameter(f"unknown categories: {', '.join(sorted(unknown))}")
    refused = frozenset(policy.optional_categories) - set(accepted)
    blocker = Rules(policy, consent_aware(policy)).blocking(refused)
    html = page.read()
    if blocker is None:
        out = html
    else:
        rewriter = HtmlRewriter(blocker, lambda match: b"held back by consent_gate")
        out = rewriter.feed(html) + rewriter.close()
    sys.stdout.buffer.write(out)
    sys.stdout.buffer.flush()
    click.echo(f"held back: {out.count(b'data-cg-category=')} element(s)", err=True)


class AuditFailure(click.ClickException):
    """The audit could not run: one line, exit code 2 (1 means the site did not pass)."""

    exit_code = 2


@main.command()
@_POLICY
@click.argument("url")
@click.option("--json", "json_path", type=click.File("w"), help="Write the report as JSON ('-').")
@click.option("--html", "html_path", type=click.File("w"), help="Write an HTML report here.")
@click.option(
    "--pages",
    default=10,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Pages to audit: URL, then its sitemap's pages, then same-origin links as found.",
)
@click.option("--settle", default=1.5, show_default=True, help="Seconds to wait for late requests.")
@click.option(
    "--stub",
    is_flag=True,
    help="Answer third-party requests with local stubs: they are recorded, never sent.",
)
def audit(
    policy_path: Path | None,
    url: str,
    json_path: TextIO | None,
    html_path: TextIO | None,
    pages: int,
    settle: float,
    stub: bool,
) -> None:
    """Open URL's pages in Chromium with no choice, after Accept all and after Reject all, and
    report every cookie and third-party request. Exit status: 0 every page passed; 1 something
    tracked before a choice or after Reject all, or a choice could not be made (no banner of
    this package's); 2 the audit could not run."""
    from .qa.recorder import origin_of

    if not url.lower().startswith(("http:", "https:")) or origin_of(url) is None:
        raise AuditFailure(f"{url!r} is not an http(s) URL")
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright

        from .qa import report as reports
        from .qa.audit import AuditError, first_line
        from .qa.audit import audit as run_audit
        from .qa.browser import launch_chromium
    except ImportError as exc:
        missing = (exc.name or "playwright").partition(".")[0]
        raise AuditFailure(
            f"audit needs the qa extra ({missing} is missing): pip install 'consent-gate[qa]'"
        ) from None
    policy = _load(policy_path)
    try:
        with sync_playwright() as playwright:
            try:
                browser = launch_chromium(playwright)
            except (RuntimeError, PlaywrightError) as exc:
                raise AuditFailure(f"cannot start Chromium: {first_line(exc)}") from None
            try:
                report = run_audit(
                    url,
                    browser,
                    policy=policy,
                    settle=settle,
                    pages=pages,
                    stub=stub,
                    progress=lambda step: click.echo(step, err=True),
                )
            finally:
                browser.close()
    except AuditError as exc:
        raise AuditFailure(str(exc)) from None
    except PlaywrightError as exc:
        raise AuditFailure(f"the browser failed: {first_line(exc)}") from None
    # With the JSON on stdout (`--json -`), the table goes to stderr so stdout stays parseable.
    click.echo(reports.to_text(report), err=json_path is not None and json_path.name == "<stdout>")
    if json_path:
        json_path.write(reports.to_json(report) + "\n")
    if html_path:
        html_path.write(reports.to_html(report))
    sys.exit(0 if report.ok else 1)
