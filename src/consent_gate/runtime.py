"""The run-time gate: trackers a page's own scripts start later are held in the browser too.

The rewriter holds back what the markup carries; `static/banner/runtime.js`, loaded right after
the gate's inline head script, holds what scripts create, insert, set or request afterwards, by
the same rules: the classifier's hosts and URL globs go to the page as they are, so a new
catalogue entry reaches the browser by itself. The file is static (served by the gate under its
version, cached for good, pinned by its integrity); only its configuration is inline, built once
per refusal. With the CSP on, `static/banner/violations.js` (inline, small)
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
from .refusal import Refusal
from .rules import MAX_CACHED, Match, Rules

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
        self._classifier = rules.classifier
        self._aware = consent_aware(policy)
        # The services a visitor can allow one by one in place (the dialog's): their own keys.
        self._listed = frozenset(s.id for s in policy.listed_services)
        self._prefix = policy.prefix
        report = js_value(f"{policy.prefix}/reports/csp")
        violations = compact((static_dir() / "violations.js").read_text("utf-8"))
        self._collector = f"{violations}({report});" if csp else ""
        self._cache: dict[Refusal, str] = {}

    def __call__(self, consent: Consent) -> str:
        refused = consent.held
        source = self._cache.get(refused)
        if source is None:
            source = ""
            if refused:
                config = js_value(self._config(refused))
                handover = (
                    f"Object.defineProperty(window,{_CONFIG},{{value:{config},configurable:true}});"
                )
                source = "\n".join(filter(None, [self._collector, handover]))
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            self._cache[refused] = source
        return source

    def _config(self, refusal: Refusal) -> dict[str, object]:
        """The rules for one refusal. A service the dialog lists, or one decided apart from
        its category, gets a rule key of its own, "category/service", held or not as the
        visitor chose; runtime.js releases it on an answer that allows that service."""
        classifier = self._classifier
        apart = self._listed | refusal.granted | refusal.denied
        keys: dict[str, int] = {}

        def rule(match: Match) -> int:
            key = f"{match.category}/{match.service}" if match.service in apart else match.category
            return 2 * keys.setdefault(key, len(keys)) + (match.service in self._aware)

        matches = [*classifier.hosts_table.values(), *(m for _, _, m in classifier.globs)]
        for category in sorted({m.category for m in matches}):
            keys.setdefault(category, len(keys))
        config = {
            "h": {host: rule(m) for host, m in classifier.hosts_table.items()},
            "u": [[host, path, rule(m)] for host, path, m in classifier.globs if host],
            "p": [[path, rule(m)] for host, path, m in classifier.globs if not host],
            "e": f"{self._prefix}/consent",
            "b": f"{self._prefix}{HELD_PATH}",
            "s": {
                name: match.category
                for name, url in _STEP_ASIDE.items()
                if (match := classifier.url(url)) is not None
            },
        }
        held = [k for k in keys if refusal.holds(*k.split("/", 1))]
        return {"c": list(keys), **config, "r": held + sorted(refusal.categories - set(keys))}


def install(policy: Policy, rules: Rules, csp: bool, head: HeadScripts) -> None:
    """Add the gate's configuration to the head script, and runtime.js after it, for visitors
    who refuse something."""
    head.add(RuntimeGate(policy, rules, csp))
    body = (static_dir() / FILE).read_bytes()
    version = hashlib.sha256(body).hexdigest()[:12]
    integrity = "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode("ascii")
    head.add_file(
        lambda consent: bool(consent.held),
        f"{policy.prefix}/static/{FILE}?v={version}",
        integrity,
    )
