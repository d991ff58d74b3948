"""What the responder may use of the gate: the few collaborators a page needs, built once."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .banner import Banner
from .consent import Consent
from .cookies import CookieRules
from .csp import Csp
from .head import HeadScripts
from .rules import Rules
from .signals import PrivacySignals

__all__ = ["OncePerPath", "PageGate"]


@dataclass(frozen=True, slots=True)
class PageGate:
    """The gate as one response sees it: a narrow view, so a response cannot reach the
    endpoints, the log's lifecycle or the policy's other parts."""

    cookie_rules: CookieRules  # which Set-Cookie lines and cookies a refusal holds
    rules: Rules  # the blocker for a refusal
    banner: Banner  # snippet, placeholders, language
    head: HeadScripts  # the scripts that must run before the page's
    csp: Csp  # the response's nonce and policy headers
    signals: PrivacySignals  # records an opt-out a request carried
    undecided: Consent  # what a crawler gets: every tracker held back
    hide_from_bots: bool
    asked: frozenset[str]  # the categories the banner asks about
    vary: tuple[bytes, ...]  # what a rewritten page depends on besides its URL
    site_domains: tuple[str, ...]  # where refused cookies are expired
    unrewritable: OncePerPath  # warns of HTML that fails closed


class OncePerPath:
    """Warns once per (path, reason), in bounded memory: a crawler of random paths must not
    grow it, nor fill the log with the same line."""

    def __init__(self, log: logging.Logger, limit: int = 4096) -> None:
        self._log = log
        self._limit = limit
        self._seen: set[tuple[str, str]] = set()

    def note(self, path: str, reason: str) -> None:
        key = (path[:512], reason)
        if key in self._seen:
            return
        if len(self._seen) >= self._limit:
            self._seen.clear()
        self._seen.add(key)
        self._log.warning(
            "consent_gate: %s is a page the gate cannot rewrite: %s. Sent unchanged with an "
            "enforced Content-Security-Policy instead: the browser blocks inline scripts and "
            "the hosts of refused categories on it. Fix the response or exclude the path.",
            key[0],
            reason,
        )
