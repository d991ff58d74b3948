"""The run-time gate: trackers a page's own scripts start later are held in the browser too.

The rewriter holds back what the markup carries; `static/banner/runtime.js`, loaded right after
the gate's inline head script, holds what scripts create, insert, set or request afterwards, by
the same rules: the classifier's hosts and URL globs go to the page as they are, so a new
catalogue entry reaches the browser by itself, and so do the first-party cookie names each
category or service claims (a script's cookie writes of refused ones are held too). The file
is built once from the policy (served by the gate under its version, cached for good, pinned by
its integrity); only the refused categories, and the services decided apart from them, are
inline. Each service the dialog lists has a rule key of its own ("marketing/youtube"), so
allowing it alone releases it in place. With the CSP on, the file starts with
`static/banner/violations.js`, which turns the page's violations into one deduplicated report,
and the gate's CSP leaves out `report-uri` wherever it runs.
"""

from __future__ import annotations

from .assets import Assets
from .banner import static_dir
from .consent import Consent
from .consent_mode import consent_aware
from .cookies import HOST_PREFIX
from .head import HeadScripts, js_value
from .policy import Policy
from .refusal import Refusal
from .rules import MAX_CACHED, Match, Rules

__all__ = ["FILE", "HELD_PATH", "RuntimeGate", "bundle", "install"]

FILE = "runtime.js"

HELD_PATH = "/held"  # under the gate's prefix: where refused WebSockets and workers connect
# Tag APIs whose vendor snippet does nothing when the API already exists: on consent to the
# category of the URL the snippet loads, the stub steps aside for it.
_STEP_ASIDE = {"fbq": "https://connect.facebook.net/en_US/fbevents.js"}
# Where runtime.js finds its configuration (configurable: it deletes it once read).
_CONFIG = 'Symbol.for("consent-gate.runtime-config")'


class RuntimeGate:
    """The head part while something is refused: the refused categories (and services decided
    apart from them), handed to runtime.js. Everything else it needs depends only on the
    policy, so it travels in the cached file."""

    def __init__(self) -> None:
        self._cache: dict[Refusal, str] = {}

    def __call__(self, consent: Consent) -> str:
        held = consent.held
        source = self._cache.get(held)
        if source is None:
            source = ""
            if held:
                config: dict[str, list[str]] = {"r": sorted(held.categories)}
                if held.granted:
                    config["g"] = sorted(held.granted)
                if held.denied:
                    config["d"] = sorted(held.denied)
                source = (
                    f"Object.defineProperty(window,{_CONFIG},"
                    f"{{value:{js_value(config)},configurable:true}});"
                )
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()  # per-service choices make many refusals possible
            self._cache[held] = source
        return source


def bundle(policy: Policy, rules: Rules, csp: bool) -> bytes:
    """runtime.js with the policy's part of its configuration ahead of it (and, with the CSP
    on, the violation collector): the same for every visitor, so one cached file."""
    classifier = rules.classifier
    matches = [*classifier.hosts_table.values(), *(m for _, _, m in classifier.globs)]
    listed = {s.id for s in policy.listed_services}

    def key(match: Match) -> str:
        return f"{match.category}/{match.service}" if match.service in listed else match.category

    # The names a page's script can write (first-party cookies), by key: such a write is held
    # while every key claiming its name is. Third-party names live on the vendors' hosts.
    cookies: dict[str, list[str]] = {}
    for service in policy.services:
        for cookie in service.cookies:
            if cookie.party == "first":
                cookies.setdefault(key(Match(service.category, service.id)), []).append(cookie.name)

    keys = sorted({key(m) for m in matches})
    index = {k: i for i, k in enumerate(keys)}
    aware = consent_aware(policy)

    def rule(match: Match) -> int:
        return 2 * index[key(match)] + (match.service in aware)

    config = {
        "c": keys,
        "h": {host: rule(m) for host, m in classifier.hosts_table.items()},
        "u": [[host, path, rule(m)] for host, path, m in classifier.globs if host],
        "p": [[path, rule(m)] for host, path, m in classifier.globs if not host],
        "e": f"{policy.prefix}/consent",
        "b": f"{policy.prefix}{HELD_PATH}",
        "s": {
            name: key(match)
            for name, url in _STEP_ASIDE.items()
            if (match := classifier.url(url)) is not None
        },
        "k": cookies,
        "o": [policy.cookie_name, HOST_PREFIX + policy.cookie_name],  # the gate's own
    }
    parts = [
        # Joins the inline part's refused categories; without them runtime.js does nothing.
        f"((s)=>{{const v=window[{_CONFIG}];if(v)Object.assign(v,s);}})({js_value(config)});",
        (static_dir() / FILE).read_text("utf-8"),
    ]
    if csp:
        report = js_value(f"{policy.prefix}/reports/csp")
        parts.insert(0, f"{(static_dir() / 'violations.js').read_text('utf-8').strip()}({report});")
    return "\n".join(parts).encode("utf-8")


def install(policy: Policy, rules: Rules, csp: bool, head: HeadScripts, assets: Assets) -> None:
    """Add the refused categories to the head script, and runtime.js after it, for visitors
    who refuse something."""
    head.add(RuntimeGate())
    asset = assets.add(FILE, bundle(policy, rules, csp))
    head.add_file(lambda consent: bool(consent.held), assets.url(FILE), asset.integrity)
