"""What a policy is: categories, services and their cookies, and how consent is kept.

Built from Python or by `reader` from TOML, a policy is checked on construction (`validation`),
so a typo never silently lets a tracker through.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any, Literal

from .. import i18n
from .choices import (
    GOOGLE_SIGNALS,
    POSITIONS,
    CspMode,
    Dnt,
    GcmMode,
    GpcStance,
    IpLogging,
    Layout,
    Party,
    Theme,
    ThirdParties,
)
from .problems import Problems
from .validation import DAY, parse_lifetime, validate

__all__ = [
    "DEFAULT_CATEGORIES",
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
    "ReportSettings",
    "Service",
    "UnknownSettings",
]


@dataclass(frozen=True)
class CookieSpec:
    """A cookie a service sets, as the cookie-policy page describes it."""

    name: str
    purpose: str
    lifetime: str = "session"
    party: Party = "first"

    @property
    def max_age(self) -> int | None:
        return parse_lifetime(self.lifetime)

    @property
    def is_pattern(self) -> bool:
        return "*" in self.name


@dataclass(frozen=True)
class Category:
    """A purpose a visitor can accept or refuse; `required` ones cannot be refused."""

    id: str
    title: str
    description: str = ""
    required: bool = False
    translations: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def text(self, key: Literal["title", "description"], lang: str) -> str:
        """The site's translation; else the locale's text of a built-in category the site did
        not reword; else the policy's own text."""
        own: str = getattr(self, key)
        translated = self.translations.get(lang, {}).get(key)
        if translated:
            return translated
        shipped = _builtin_text(self.id, key, lang)
        if shipped and own == _builtin_text(self.id, key, "en"):
            return shipped
        return own


def _builtin_text(category_id: str, key: str, lang: str) -> str:
    if lang not in i18n.LANGUAGES:
        return ""
    return i18n.keys(lang).get(f"categories.{category_id}.{key}", "")


@dataclass(frozen=True)
class Service:
    """A third party (or first-party tool) whose elements and cookies belong to one category."""

    id: str
    name: str
    category: str
    provider: str = ""
    privacy_url: str = ""
    description: str = ""
    hosts: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    snippets: tuple[str, ...] = ()
    cookies: tuple[CookieSpec, ...] = ()
    source: str = ""  # where the entry's facts come from (catalogue provenance)


@dataclass(frozen=True)
class BannerSettings:
    """What the banner looks like, which languages it speaks and who sees it."""

    languages: tuple[str, ...] = i18n.LANGUAGES  # offered to visitors (default: all shipped)
    default_language: str = "en"  # when nothing the visitor asks for is offered
    hide_from_bots: bool = True  # crawlers get neither banner nor trackers
    # The page's own <html lang> (when offered) wins over the visitor's Accept-Language: for
    # sites whose pages each exist in one language, so the banner matches the page.
    page_language: bool = False
    layout: Layout = "bar"
    position: str = ""  # one of POSITIONS[layout]; "" is the layout's first
    theme: Theme = "auto"  # auto follows the visitor's system setting
    brand: str = ""  # "#0b6e4f": buttons, links and focus rings; "" keeps the neutral blue
    settings_button: bool = True  # the "Cookie settings" pill once a choice is made

    @property
    def placement(self) -> str:
        return self.position or POSITIONS[self.layout][0]


@dataclass(frozen=True)
class PageSettings:
    """How the generated policy and preferences pages fit into the site."""

    stylesheet: str = ""  # the site's own CSS ("/static/site.css"), linked after the gate's
    templates: str = ""  # a directory whose templates override the gate's (e.g. `_page.html`)


@dataclass(frozen=True)
class LogSettings:
    """Where the consent log keeps its records (GDPR art. 7(1): the site must prove consent)."""

    enabled: bool = True
    dsn: str = "sqlite:///consent-log.sqlite3"  # relative paths: the working directory
    ip: IpLogging = "off"
    retention_years: int = 5  # kept this long after a record's consent expires
    per_minute: int = 60  # records one client address may add per minute (decisions beyond: 429)
    fsync: bool = False  # answer only once the journal is on disk: survives an OS crash too
    journal: str = ""  # the journal's directory; "" is next to the SQLite file or in the cwd


@dataclass(frozen=True)
class GpcSettings:
    """Global Privacy Control: a browser's opt-out of sale/sharing (CCPA/CPRA and other US state
    laws make it binding), honoured by default; it never counts as consent to anything."""

    stance: GpcStance = "honour"
    sale_sharing: tuple[str, ...] = ("marketing",)  # optional categories GPC refuses
    last_update: str = ""  # ISO date for /.well-known/gpc.json "lastUpdate"; "" leaves it out


@dataclass(frozen=True)
class ReportSettings:
    """How many reports (CSP violations, fingerprinting attempts) the gate takes in."""

    per_minute: int = 60  # per client address
    max_entries: int = 1000  # distinct keys kept per kind of report (in memory and in the store)
    flush_seconds: int = 10  # how often each process adds its counts to the store (0: never)


@dataclass(frozen=True)
class GoogleConsentMode:
    """Google Consent Mode v2: which of Google's consent signals each category grants.

    A signal is granted when every category listed for it is allowed (none listed: always).
    "basic" leaves Google's tags held back until consent; "advanced" lets the scripts of
    `services` load while consent is denied, so they send Google cookieless pings.
    """

    enabled: bool = False
    mode: GcmMode = "basic"
    signals: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(GOOGLE_SIGNALS))
    services: tuple[str, ...] = ("google-analytics", "google-ads", "google-tag-manager")
    wait_for_update: int = 0  # milliseconds tags wait for an update; 0: not sent
    ads_data_redaction: bool = True  # redact ad click ids while ad_storage is denied
    url_passthrough: bool = False  # pass click ids through links while cookies are denied


@dataclass(frozen=True)
class CspSettings:
    """The Content-Security-Policy the gate adds to HTML responses, built from consent."""

    mode: CspMode = "report-only"
    # Extra sources per directive the site needs whatever the consent (its CDNs, APIs).
    sources: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class FingerprintSettings:
    """The fingerprinting guard: which categories lift it, which scripts it never stops."""

    guard: bool = True
    categories: tuple[str, ...] = ()  # all must be allowed; () means the default (see README)
    allow_scripts: tuple[str, ...] = ()  # "/static/draw.js" or "https://cdn.example/x.js"; * globs


@dataclass(frozen=True)
class UnknownSettings:
    """Third parties nobody classified: scripts, frames and pixels from a host that is not the
    site's own, not in the catalogue or the policy, and not a common CDN (`unknown.py`).

    "allow" lets them load and reports each host once; "hold" holds them back like a service
    of `category` until the visitor allows that category (see the README for the default)."""

    third_parties: ThirdParties = "allow"
    category: str = "marketing"


DEFAULT_CATEGORIES: tuple[Category, ...] = tuple(
    Category(
        category_id,
        _builtin_text(category_id, "title", "en"),
        _builtin_text(category_id, "description", "en"),
        required=category_id == "necessary",
    )
    for category_id in ("necessary", "preferences", "analytics", "marketing")
)


@dataclass(frozen=True)
class Policy:
    """Everything the gate needs to decide, validated on construction."""

    revision: int = 1
    updated: date | None = None  # shown as "last updated" on the policy page
    categories: tuple[Category, ...] = DEFAULT_CATEGORIES
    services: tuple[Service, ...] = ()
    uses: tuple[str, ...] = ()
    # Paths the gate leaves alone ("/admin/*", "/docs"): `*` matches anything, "/" included.
    exclude: tuple[str, ...] = ()
    site_name: str = ""
    contact: str = ""
    # The registrable domains the site is served under ("example.com"): where trackers set
    # their cookies, so where the gate expires refused ones (see `cookies.cookie_domains`).
    site_domains: tuple[str, ...] = ()
    cookie_name: str = "consent_gate"
    max_age: int = 182 * DAY
    dnt: Dnt = "ignore"
    gpc: GpcSettings = GpcSettings()
    prefix: str = "/consent-gate"
    log: LogSettings = LogSettings()
    banner: BannerSettings = BannerSettings()
    pages: PageSettings = PageSettings()
    reports: ReportSettings = ReportSettings()
    google_consent_mode: GoogleConsentMode = GoogleConsentMode()
    csp: CspSettings = CspSettings()
    fingerprinting: FingerprintSettings = FingerprintSettings()
    unknown: UnknownSettings = UnknownSettings()
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # lang -> key -> text

    def __post_init__(self) -> None:
        problems = Problems()
        validate(self, problems)
        problems.raise_any()

    @classmethod
    def default(cls) -> Policy:
        """The four standard categories and the built-in catalogue of services."""
        from .catalogue import load_catalogue  # it reads through the reader, which imports this

        return cls(services=load_catalogue())

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> Policy:
        """Read a policy file (see the README for its layout)."""
        from .reader import read_file  # the reader builds policies: it imports this module

        return read_file(path)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Policy:
        """Build from the TOML layout; site services extend or override the catalogue by id."""
        from .reader import read  # the reader builds policies: it imports this module

        return read(data)

    def category(self, category_id: str) -> Category:
        for category in self.categories:
            if category.id == category_id:
                return category
        raise KeyError(category_id)

    @property
    def asked_categories(self) -> tuple[str, ...]:
        """Optional categories the visitor is asked about: those of a service the site uses.
        A category with nothing in it would be a switch that changes nothing."""
        used = {s.category for s in self.listed_services}
        if self.unknown.third_parties == "hold":
            used.add(self.unknown.category)  # it releases what nobody classified
        return tuple(c for c in self.optional_categories if c in used)

    @property
    def optional_categories(self) -> tuple[str, ...]:
        """Categories a visitor chooses; the rest are always on."""
        return tuple(c.id for c in self.categories if not c.required)

    @cached_property  # per policy page otherwise: hashing a thousand services is 5 ms
    def listed_services(self) -> tuple[Service, ...]:
        """What the policy page lists: the services the site says it uses, else all it knows
        but the extended catalogue's (see `extended_catalogue`)."""
        if not self.uses:
            from .catalogue import extended_catalogue  # the reader's, which imports this module

            extended = extended_catalogue()
            return tuple(s for s in self.services if s not in extended)
        by_id = {s.id: s for s in self.services}
        return tuple(by_id[i] for i in self.uses)
