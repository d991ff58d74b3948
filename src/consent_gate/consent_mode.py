"""Google Consent Mode v2: Google's tags learn the visitor's choice before any of them runs.

The head script sets `gtag("consent", "default", ...)` from the stored choice, so a returning
visitor's tags start with the right signals and a new visitor's start denied. It then turns every
`consentgate:change` the banner fires (each choice, and a withdrawal just before its reload) into
`gtag("consent", "update", ...)` with the same category-to-signal mapping.
"""

from __future__ import annotations

from collections.abc import Mapping

from .consent import Consent
from .head import js_value
from .policy import Policy

__all__ = ["ConsentMode", "consent_aware"]

# Pushes the `arguments` object itself: gtag.js reads commands only in that shape.
_PRELUDE = (
    "var w=window;w.dataLayer=w.dataLayer||[];"
    "function gtag(){w.dataLayer.push(arguments);}"
    'if(typeof w.gtag!=="function")w.gtag=gtag;'
)
# A signal is granted when every optional category listed for it is allowed.
_LISTENER = (
    'document.addEventListener("consentgate:change",function(e){'
    "var c=(e.detail&&e.detail.choices)||{},u={},k,i,g;"
    "for(k in m){g=true;for(i=0;i<m[k].length;i++)if(c[m[k][i]]!==true)g=false;"
    'u[k]=g?"granted":"denied";}'
    'gtag("consent","update",u);});'
)


def consent_aware(policy: Policy) -> frozenset[str]:
    """Services whose scripts load while refused: Google's tags, in advanced mode only."""
    settings = policy.google_consent_mode
    if settings.enabled and settings.mode == "advanced":
        return frozenset(settings.services)
    return frozenset()


class ConsentMode:
    """The head-script part: consent defaults for one visitor, then updates from the banner."""

    def __init__(self, policy: Policy) -> None:
        self._settings = policy.google_consent_mode
        required = {c.id for c in policy.categories if c.required}
        # Required categories are always allowed; the banner's choices list only the rest.
        self._signals: Mapping[str, tuple[str, ...]] = {
            signal: tuple(c for c in categories if c not in required)
            for signal, categories in self._settings.signals.items()
        }
        self._listener = f"var m={js_value(self._signals)};{_LISTENER}"
        self._cache: dict[frozenset[str], str] = {}

    def signals(self, consent: Consent) -> dict[str, str]:
        """Each signal, "granted" or "denied", for this visitor's choice."""
        return {
            signal: "granted" if all(consent.allows(c) for c in categories) else "denied"
            for signal, categories in self._signals.items()
        }

    def __call__(self, consent: Consent) -> str:
        source = self._cache.get(consent.refused)
        if source is None:
            source = self._cache[consent.refused] = self._source(consent)
        return source

    def _source(self, consent: Consent) -> str:
        settings = self._settings
        signals = self.signals(consent)
        default: dict[str, object] = dict(signals)
        if settings.wait_for_update:
            default["wait_for_update"] = settings.wait_for_update
        calls = [f'gtag("consent","default",{js_value(default)});']
        if settings.ads_data_redaction and signals.get("ad_storage") == "denied":
            calls.append('gtag("set","ads_data_redaction",true);')
        if settings.url_passthrough:
            calls.append('gtag("set","url_passthrough",true);')
        return "(function(){" + _PRELUDE + "".join(calls) + self._listener + "})();"
