"""The run-time gate: trackers a page's own scripts start later are held in the browser too.

The rewriter holds back what the markup carries; `static/banner/runtime.js`, loaded right after
the gate's inline head script, holds what scripts create, insert, set or request afterwards, by
the same rules: the classifier's hosts and URL globs go to the page as they are, so a new
catalogue entry reaches the browser by itself. The file is static (served by the gate under its
version, cached for good, pinned by its integrity); only its configuration is inline, built once
per set of refused categories. With the CSP on, `static/banner/violations.js` (inline, small)
turns the page's violations into one deduplicated report, and the gate's CSP leaves out
`report-uri` wherever it runs.
"""

from __future__ import annotations

import base64
import hashlib

from .banner import static_dir
from .consent import Consent
from .consent_mode import consent_aware
from .head import HeadScripts, compact, js_value
from .policy import Policy
from .rules import Match, Rules

__all__ = ["FILE", "HELD_PATH", "RuntimeGate", "install"]

FILE = "runtime.js"

HELD_PATH = "/held"  # under the gate's prefix: where refused WebSockets and workers connect
# Tag APIs whose vendor snippet does nothing when the API already exists: on consent to the
# category of the URL the snippet loads, the stub steps aside for it.
_STEP_ASIDE = {"fbq": "https://connect.facebook.net/en_US/fbevents.js"}
# Where runtime.js finds its configuration (configurable: it deletes it once read).
_CONFIG = 'Symbol.for("consent-gate.runtime-config")'


class RuntimeGate:
    """The head part while something is refused: the violation collector (CSP on) and the
    gate's configuration, which runtime.js takes. Refusing nothing, a page has neither, and its
    CSP keeps report-uri."""

    def __init__(self, policy: Policy, rules: Rules, csp: bool) -> None:
        classifier = rules.classifier
        matches = [*classifier.hosts_table.values(), *(m for _, _, m in classifier.globs)]
        categories = sorted({m.category for m in matches})
        index = {category: i for i, category in enumerate(categories)}
        aware = consent_aware(policy)

        def rule(match: Match) -> int:
            return 2 * index[match.category] + (match.service in aware)

        self._config = {
            "c": categories,
            "h": {host: rule(m) for host, m in classifier.hosts_table.items()},
            "u": [[host, path, rule(m)] for host, path, m in classifier.globs if host],
            "p": [[path, rule(m)] for host, path, m in classifier.globs if not host],
            "e": f"{policy.prefix}/consent",
            "b": f"{policy.prefix}{HELD_PATH}",
            "s": {
                name: match.category
                for name, url in _STEP_ASIDE.items()
                if (match := classifier.url(url)) is not None
            },
        }
        report = js_value(f"{policy.prefix}/reports/csp")
        violations = compact((static_dir() / "violations.js").read_text("utf-8"))
        self._collector = f"{violations}({report});" if csp else ""
        self._cache: dict[frozenset[str], str] = {}

    def __call__(self, consent: Consent) -> str:
        refused = consent.refused
        source = self._cache.get(refused)
        if source is None:
            source = ""
            if refused:
                config = js_value({**self._config, "r": sorted(refused)})
                handover = (
                    f"Object.defineProperty(window,{_CONFIG},{{value:{config},configurable:true}});"
                )
                source = "\n".join(filter(None, [self._collector, handover]))
            self._cache[refused] = source
        return source


def install(policy: Policy, rules: Rules, csp: bool, head: HeadScripts) -> None:
    """Add the gate's configuration to the head script, and runtime.js after it, for visitors
    who refuse something."""
    head.add(RuntimeGate(policy, rules, csp))
    body = (static_dir() / FILE).read_bytes()
    version = hashlib.sha256(body).hexdigest()[:12]
    integrity = "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode("ascii")
    head.add_file(
        lambda consent: bool(consent.refused),
        f"{policy.prefix}/static/{FILE}?v={version}",
        integrity,
    )
