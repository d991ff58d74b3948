"""consent_gate: a cookie-consent and tracking gate for ASGI sites.

from consent_gate import ConsentGate, Policy
app = ConsentGate(app, secret_key="...", policy=Policy.from_toml("consent.toml"))

Names load on first use: installing the package registers a pytest plugin, and importing
`consent_gate.qa.plugin` must not pull in the gate (or anything heavy) for projects that never
use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_attributes

__version__ = "0.2.0"

if TYPE_CHECKING:
    from .consent import Consent
    from .errors import ConfigError, ConsentGateError, NotGatedError, StorageError
    from .middleware import ConsentGate, consent_of
    from .policy import Category, CookieSpec, Policy, PolicyError, Service

_HOMES = {
    "Category": ".policy",
    "ConfigError": ".errors",
    "Consent": ".consent",
    "ConsentGate": ".middleware",
    "ConsentGateError": ".errors",
    "CookieSpec": ".policy",
    "NotGatedError": ".errors",
    "Policy": ".policy",
    "PolicyError": ".policy",
    "Service": ".policy",
    "StorageError": ".errors",
    "consent_of": ".middleware",
}

__all__ = [
    "Category",
    "ConfigError",
    "Consent",
    "ConsentGate",
    "ConsentGateError",
    "CookieSpec",
    "NotGatedError",
    "Policy",
    "PolicyError",
    "Service",
    "StorageError",
    "__version__",
    "consent_of",
]


__getattr__ = lazy_attributes(__name__, _HOMES)
