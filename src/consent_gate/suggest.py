"""Turn what the gate and browsers saw of unclassified third parties into policy tables.

Inputs, in any mix: the gate's log (its "new unknown report" and "new csp report" lines), the
reports summary (`GET {prefix}/reports`, saved as JSON) and `consent-gate audit --json` files.
The output is TOML for a person to review: one `[services.<id>]` per registrable domain, with
what was seen as comments, a category to confirm and the provider to fill in. Nothing is
guessed that the inputs do not say.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .policy import Policy
from .rules import Classifier
from .unknown import BENIGN_HOSTS, site_of

__all__ = ["Sighting", "read", "suggest"]

_LOG_LINE = re.compile(
    r"new (?P<kind>unknown|csp) report: host=(?P<host>[^,\s]+)(?:, (?P<rest>.*))?"
)
_HOST = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?\Z")


@dataclass
class Sighting:
    """One third-party host and the evidence for it."""

    host: str
    count: int = 0
    evidence: set[str] = field(default_factory=set)


def read(text: str) -> list[tuple[str, int, str]]:
    """(host, count, evidence) from one input's text: a reports summary or audit (JSON), or
    log lines. ValueError when it is neither."""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and ("passes" in data or "pages" in data):
        return list(_audit(data))
    if isinstance(data, dict):
        return list(_summary(data))
    found = []
    for line in text.splitlines():
        match = _LOG_LINE.search(line)
        if match is None:
            continue
        rest = dict(part.split("=", 1) for part in (match["rest"] or "").split(", ") if "=" in part)
        if match["kind"] == "unknown":
            evidence = f"gate: {rest.get('decision', 'seen')}"
        else:
            evidence = f"csp {rest.get('directive', '?')} on {rest.get('page', '?')}"
        found.append((match["host"], 1, evidence))
    if not found and text.strip():
        raise ValueError("neither a reports summary, an audit report nor gate log lines")
    return found


def _summary(data: dict[str, Any]) -> Iterable[tuple[str, int, str]]:
    for row in data.get("unknown", {}).get("reports", ()):
        yield row["host"], int(row.get("count", 1)), f"gate: {row.get('decision', 'seen')}"
    for row in data.get("csp", {}).get("reports", ()):
        evidence = f"csp {row.get('directive', '?')} on {row.get('page', '?')}"
        yield row["host"], int(row.get("count", 1)), evidence


def _audit(data: dict[str, Any]) -> Iterable[tuple[str, int, str]]:
    # Since schema_version 2 an audit has pages, each with its passes; before, one page's.
    steps = [step for page in data.get("pages", [data]) for step in page.get("passes", ())]
    for step in steps:
        for request in step.get("requests", ()):
            if request.get("category") == "unknown":
                evidence = f"audit: {request.get('resource_type', '?')} ({step['name']})"
                yield request["host"], 1, evidence


def suggest(found: Iterable[tuple[str, int, str]], policy: Policy, category: str) -> str:
    """TOML tables for the hosts neither the policy, the site's domains nor the benign CDNs
    cover, most seen first; shared hosts the catalogue claims by path are only listed."""
    classifier = Classifier(policy.services)
    own = policy.site_domains
    sightings: dict[str, Sighting] = {}
    partly_known: dict[str, int] = {}
    for raw_host, count, evidence in found:
        host = raw_host.strip().lower().rstrip(".")
        name = host.partition(":")[0]
        if not _HOST.match(host) or "." not in name:
            continue  # "inline", "eval", a data: URL, "localhost": not somebody else's host
        if any(_within(name, d) for d in (*own, *BENIGN_HOSTS)):
            continue
        if classifier.url(f"https://{host}/") is not None:
            continue
        if any(_within(name, known) for known in classifier.hosts):
            partly_known[host] = partly_known.get(host, 0) + count
            continue
        sighting = sightings.setdefault(host, Sighting(host))
        sighting.count += count
        sighting.evidence.add(evidence)
    by_site: dict[str, list[Sighting]] = {}
    for sighting in sightings.values():
        by_site.setdefault(site_of(sighting.host), []).append(sighting)
    ranked = sorted(by_site.items(), key=lambda item: (-sum(s.count for s in item[1]), item[0]))
    lines = [
        "# Third parties the gate saw but nobody classified. Review each table: confirm the",
        f"# category (here {category!r} for all), fill in the provider and its privacy policy,",
        "# then add it to your policy file. Hosts cover their subdomains.",
        "",
    ]
    taken = {s.id for s in policy.services}
    for site, group in ranked:
        service_id = _slug(site)
        while service_id in taken:
            service_id += "-site"
        taken.add(service_id)
        group.sort(key=lambda s: (-s.count, s.host))
        seen = sorted({e for s in group for e in s.evidence})
        lines += [
            f"# seen {sum(s.count for s in group)} times: {'; '.join(seen)}",
            f"[services.{service_id}]",
            f"name = {json.dumps(site)}",
            f'category = "{category}"  # confirm: necessary, preferences, analytics, marketing',
            'provider = ""  # legal entity and address of the data recipient',
            'privacy_url = ""',
            f"hosts = {json.dumps([s.host for s in group])}",
            "",
        ]
    if partly_known:
        lines.append("# Seen on shared hosts whose trackers the policy claims by path (`urls`);")
        lines.append("# look at the requests themselves before adding a glob:")
        lines += [f"#   {h} ({n})" for h, n in sorted(partly_known.items(), key=lambda i: -i[1])]
    if not ranked and not partly_known:
        lines.append("# Nothing unclassified: every host seen is known.")
    return "\n".join(lines) + "\n"


def _within(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def _slug(site: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", site.lower()).strip("-")
    return slug if slug[:1].isalpha() else "site-" + slug
