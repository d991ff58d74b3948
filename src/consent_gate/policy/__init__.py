"""The policy: which categories, services and cookies exist, and how consent is kept.

A policy is validated once, when the site starts; every mistake raises `PolicyError` naming the
key, so a typo never silently lets a tracker through. `model` says what a policy is, `reader`
reads one from TOML, `validation` checks it, `choices` states each setting's allowed words once
and `catalogue` holds the built-in services.
"""

from .catalogue import extended_catalogue, load_catalogue
from .choices import CSP_DIRECTIVES, HANDLER_DIRECTIVE
from .model import (
    DEFAULT_CATEGORIES,
    BannerSettings,
    Category,
    CookieSpec,
    CspSettings,
    FingerprintSettings,
    GoogleConsentMode,
    GpcSettings,
    LogSettings,
    PageSettings,
    Policy,
    ReportSettings,
    Service,
    UnknownSettings,
)
from .problems import PolicyError
from .validation import DOMAIN_NAME, is_dsn, parse_lifetime

__all__ = [
    "CSP_DIRECTIVES",
    "DEFAULT_CATEGORIES",
    "DOMAIN_NAME",
    "HANDLER_DIRECTIVE",
    "BannerSettings",
    "Category",
    "CookieSpec",
    "CspSettings",
    "FingerprintSettings",
    "GoogleConsentMode",
    "GpcSettings",
    "LogSettings",
    "PageSettings",
    "Policy",
    "PolicyError",
    "ReportSettings",
    "Service",
    "UnknownSettings",
    "extended_catalogue",
    "is_dsn",
    "load_catalogue",
    "parse_lifetime",
]
