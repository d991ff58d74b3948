"""The `consent-gate` command: check a policy and see what the gate would do with a page."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import BinaryIO

import click

from .log_cli import log
from .policy import Policy, PolicyError
from .rewriter import HtmlRewriter
from .rules import Rules

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


@main.command()
@click.argument("policy_path", type=click.Path(dir_okay=False, path_type=Path))
def check(policy_path: Path) -> None:
    """Validate a policy file; a mistake is reported with the key that holds it."""
    policy = _load(policy_path)
    cookies = sum(len(s.cookies) for s in policy.services)
    click.echo(
        f"{policy_path}: OK - revision {policy.revision}, {len(policy.categories)} categories, "
        f"{len(policy.services)} services, {cookies} cookies; DNT {policy.dnt}d."
    )


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
    match = Rules(_load(policy_path)).classifier.url(url)
    if match is None:
        click.echo(f"{url}: not a known tracker (it would load without consent)")
        sys.exit(1)
    click.echo(f"{url}: {match.service} ({match.category})")


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
    blocker = Rules(policy).blocking(frozenset(policy.optional_categories) - set(accepted))
    html = page.read()
    if blocker is None:
        out = html
    else:
        rewriter = HtmlRewriter(blocker, lambda match: b"held back by consent_gate")
        out = rewriter.feed(html) + rewriter.close()
    sys.stdout.buffer.write(out)
    sys.stdout.buffer.flush()
    click.echo(f"held back: {out.count(b'data-cg-category=')} element(s)", err=True)
