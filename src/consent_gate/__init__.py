"""consent_gate: a cookie-consent and tracking gate for ASGI sites.

from consent_gate import ConsentGate, Policy
app = ConsentGate(app, secret_key="...", policy=Policy.from_toml("consent.toml"))
"""

from .consent import Consent
from .middleware import ConsentGate, consent_of
from .policy import Category, CookieSpec, Policy, PolicyError, Service

__all__ = [
    "Category",
    "Consent",
    "ConsentGate",
    "CookieSpec",
    "Policy",
    "PolicyError",
    "Service",
    "consent_of",
]
