"""The policy: which categories, services and cookies exist, and how consent is kept.

A policy is validated once, when the site starts; every mistake raises `PolicyError` naming the
key, so a typo never silently lets a tracker through.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache, cached_property
from importlib import resources
from typing import Any, Literal, TypeVar, get_args

from . import i18n
from .errors import ConfigError

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
    "PolicyError",
    "ReportSettings",
    "Service",
    "UnknownSettings",
    "extended_catalogue",
    "is_dsn",
    "load_catalogue",
    "parse_lifetime",
]

_ID = re.compile(r"[a-z][a-z0-9_-]*\Z")
_HOST = re.compile(r"[a-z0-9*]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?\Z")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# A DNS name of two labels or more, as a cookie Domain attribute names one.
DOMAIN_NAME = re.compile(rf"(?=.{{1,253}}\Z){_LABEL}(?:\.{_LABEL})+")
_LIFETIME = re.compile(
    r"(\d+)\s*(minute|hour|day|week|month|year)s?\Z",
)
_UNIT_SECONDS = {
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "month": 30 * 86400,
    "year": 365 * 86400,
}
_DAY = 86400
_ALLOWED_SCRIPT = re.compile(r"(/(?![/\\])|https?://[^/\s]+/)\S{0,500}\Z")
_DSN_SCHEMES = ("sqlite:///", "postgresql://", "postgres://")
_T = TypeVar("_T")
_S = TypeVar("_S", bound=str)


class PolicyError(ConfigError):
    """A policy that cannot be used. The message starts with the first offending key; `problems`
    holds every (key, message) found, so a file's mistakes can be fixed in one go."""

    def __init__(self, key: str, message: str, *more: tuple[str, str]) -> None:
        self.key = key
        self.problems = ((key, message), *more)
        super().__init__("\n".join(f"{k}: {m}" for k, m in self.problems))


class _Problems:
    """Collects a policy's problems instead of stopping at the first. One per key: a second
    problem at the same key is the first one's echo (a missing `category` is also unknown)."""

    def __init__(self) -> None:
        self._found: dict[str, str] = {}

    def add(self, key: str, message: str) -> None:
        self._found.setdefault(key, message)

    def merge(self, error: PolicyError) -> None:
        for key, message in error.problems:
            self.add(key, message)

    def raise_any(self) -> None:
        if self._found:
            first, *more = self._found.items()
            raise PolicyError(*first, *more)


def is_dsn(text: str) -> bool:
    """Whether `text` names a consent log the gate can open (as `[log] dsn` or `store`)."""
    return text.startswith(_DSN_SCHEMES) and text != _DSN_SCHEMES[0]


def parse_lifetime(text: str) -> int | None:
    """Seconds for "2 years", "30 minutes", ...; None for "session"."""
    value = text.strip().lower()
    if value == "session":
        return None
    match = _LIFETIME.match(value)
    if match is None:
        raise ValueError(f"{text!r} is not 'session' or '<number> <minutes|hours|days|...>'")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


@dataclass(frozen=True)
class CookieSpec:
    """A cookie a service sets, as the cookie-policy page describes it."""

    name: str
    purpose: str
    lifetime: str = "session"
    party: Literal["first", "third"] = "first"

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


Layout = Literal["bar", "box", "modal"]
Theme = Literal["auto", "light", "dark"]
# Where each layout may sit. Box corners are logical ("start" is the left in English, the right
# in Arabic), so a box follows the reading direction of the banner's language.
POSITIONS: Mapping[str, tuple[str, ...]] = {
    "bar": ("bottom", "top"),
    "box": ("bottom-end", "bottom-start", "top-end", "top-start"),
    "modal": ("center",),
}
_BRAND = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}\Z")


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
    ip: Literal["off", "truncated"] = "off"
    retention_years: int = 5  # kept this long after a record's consent expires
    per_minute: int = 60  # records one client address may add per minute (decisions beyond: 429)
    fsync: bool = False  # answer only once the journal is on disk: survives an OS crash too
    journal: str = ""  # the journal's directory; "" is next to the SQLite file or in the cwd


@dataclass(frozen=True)
class GpcSettings:
    """Global Privacy Control: a browser's opt-out of sale/sharing (CCPA/CPRA and other US state
    laws make it binding), honoured by default; it never counts as consent to anything."""

    stance: Literal["honour", "ignore"] = "honour"
    sale_sharing: tuple[str, ...] = ("marketing",)  # optional categories GPC refuses
    last_update: str = ""  # ISO date for /.well-known/gpc.json "lastUpdate"; "" leaves it out


@dataclass(frozen=True)
class ReportSettings:
    """How many reports (CSP violations, fingerprinting attempts) the gate takes in."""

    per_minute: int = 60  # per client address
    max_entries: int = 1000  # distinct keys kept per kind of report (in memory and in the store)
    flush_seconds: int = 10  # how often each process adds its counts to the store (0: never)


_GOOGLE_SIGNALS: Mapping[str, tuple[str, ...]] = {
    "ad_storage": ("marketing",),
    "analytics_storage": ("analytics",),
    "ad_user_data": ("marketing",),
    "ad_personalization": ("marketing",),
    "functionality_storage": ("preferences",),
    "personalization_storage": ("preferences",),
    "security_storage": (),
}


@dataclass(frozen=True)
class GoogleConsentMode:
    """Google Consent Mode v2: which of Google's consent signals each category grants.

    A signal is granted when every category listed for it is allowed (none listed: always).
    "basic" leaves Google's tags held back until consent; "advanced" lets the scripts of
    `services` load while consent is denied, so they send Google cookieless pings.
    """

    enabled: bool = False
    mode: Literal["basic", "advanced"] = "basic"
    signals: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(_GOOGLE_SIGNALS))
    services: tuple[str, ...] = ("google-analytics", "google-ads", "google-tag-manager")
    wait_for_update: int = 0  # milliseconds tags wait for an update; 0: not sent
    ads_data_redaction: bool = True  # redact ad click ids while ad_storage is denied
    url_passthrough: bool = False  # pass click ids through links while cookies are denied


_PATH_PATTERN = re.compile(r"/[!-~]*")  # printable ASCII, no space: a path as a server sees it
CSP_DIRECTIVES = ("script-src", "img-src", "connect-src", "frame-src")
# Inline event handlers are refused ('none') unless the site lists its own by hash, with
# 'unsafe-hashes': an injected `onfocus=` must not run, whoever wrote the markup.
HANDLER_DIRECTIVE = "script-src-attr"
# A source a site may add: a host (optionally with scheme, port, path), a harmless scheme, or a
# keyword/hash that does not switch host lists off ('unsafe-inline', 'strict-dynamic', * would).
_CSP_SOURCE = re.compile(
    r"(?:(?:https?|wss?)://)?(?:\*\.)?[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::(?:[0-9]{1,5}|\*))?"
    r"(?:/[^\s;,']*)?\Z"
    r"|(?:data|blob|mediastream|filesystem):\Z"
    r"|'(?:self|unsafe-eval|wasm-unsafe-eval|unsafe-hashes|report-sample)'\Z"
    r"|'sha(?:256|384|512)-[A-Za-z0-9+/_-]+={0,2}'\Z"
)


@dataclass(frozen=True)
class CspSettings:
    """The Content-Security-Policy the gate adds to HTML responses, built from consent."""

    mode: Literal["off", "report-only", "enforce"] = "report-only"
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

    third_parties: Literal["allow", "hold"] = "allow"
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
    max_age: int = 182 * _DAY
    dnt: Literal["ignore", "honour"] = "ignore"
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
        problems = _Problems()
        _validate(self, problems)
        problems.raise_any()

    @classmethod
    def default(cls) -> Policy:
        """The four standard categories and the built-in catalogue of services."""
        return cls(services=load_catalogue())

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> Policy:
        try:
            with open(path, "rb") as file:
                data = tomllib.load(file)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(str(path), f"not valid TOML: {exc}") from None
        except OSError as exc:
            raise PolicyError(str(path), f"cannot read the policy file: {exc.strerror}") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Policy:
        """Build from the TOML layout; site services extend or override the catalogue by id."""
        problems = _Problems()
        reader = _Reader(data, "", problems)
        catalogue = reader.get("catalogue", bool, True)
        services = {s.id: s for s in load_catalogue()} if catalogue else {}
        site_services = reader.table("services")
        for service_id in site_services.names():
            services[service_id] = _service(service_id, site_services.table(service_id))
        site = reader.table("site")
        consent = reader.table("consent")
        endpoints = reader.table("endpoints")
        log = reader.table("log")
        banner = reader.table("banner")
        pages = reader.table("pages")
        texts = reader.table("texts")
        reports = reader.table("reports")
        gcm = reader.table("google_consent_mode")
        csp = reader.table("csp")
        csp_sources = csp.table("sources")
        fingerprinting = reader.table("fingerprinting")
        unknown = reader.table("unknown")
        try:
            policy: Policy | None = cls(
                revision=reader.get("revision", int, 1),
                updated=reader.get("updated", date, None),
                categories=_categories(reader.table("categories")),
                services=tuple(services.values()),
                uses=tuple(reader.strings("uses")),
                exclude=tuple(reader.strings("exclude")),
                site_name=site.get("name", str, ""),
                contact=site.get("contact", str, ""),
                site_domains=tuple(site.strings("domains")),
                cookie_name=consent.get("cookie_name", str, "consent_gate"),
                max_age=consent.get("max_age_days", int, 182) * _DAY,
                dnt=consent.choice("dnt", ("ignore", "honour"), "ignore"),
                gpc=GpcSettings(
                    stance=consent.choice("gpc", ("honour", "ignore"), "honour"),
                    sale_sharing=tuple(consent.strings("sale_sharing", GpcSettings.sale_sharing)),
                    last_update=consent.get("gpc_last_update", str, ""),
                ),
                prefix=endpoints.get("prefix", str, "/consent-gate"),
                log=LogSettings(
                    enabled=log.get("enabled", bool, True),
                    dsn=log.get("dsn", str, LogSettings.dsn),
                    ip=log.choice("ip", ("off", "truncated"), "off"),
                    retention_years=log.get("retention_years", int, 5),
                    per_minute=log.get("per_minute", int, LogSettings.per_minute),
                    fsync=log.get("fsync", bool, False),
                    journal=log.get("journal", str, ""),
                ),
                banner=BannerSettings(
                    languages=tuple(banner.strings("languages")) or i18n.LANGUAGES,
                    default_language=banner.get("default_language", str, "en"),
                    hide_from_bots=banner.get("hide_from_bots", bool, True),
                    page_language=banner.get("page_language", bool, False),
                    layout=banner.choice("layout", get_args(Layout), "bar"),
                    position=banner.get("position", str, ""),
                    theme=banner.choice("theme", get_args(Theme), "auto"),
                    brand=banner.get("brand", str, ""),
                    settings_button=banner.get("settings_button", bool, True),
                ),
                pages=PageSettings(
                    stylesheet=pages.get("stylesheet", str, ""),
                    templates=pages.get("templates", str, ""),
                ),
                reports=ReportSettings(
                    per_minute=reports.get("per_minute", int, ReportSettings.per_minute),
                    max_entries=reports.get("max_entries", int, ReportSettings.max_entries),
                    flush_seconds=reports.get("flush_seconds", int, ReportSettings.flush_seconds),
                ),
                google_consent_mode=_google_consent_mode(gcm),
                csp=CspSettings(
                    mode=csp.choice("mode", ("off", "report-only", "enforce"), "report-only"),
                    sources={d: tuple(csp_sources.strings(d)) for d in csp_sources.names()},
                ),
                fingerprinting=FingerprintSettings(
                    guard=fingerprinting.get("guard", bool, True),
                    categories=tuple(fingerprinting.strings("categories")),
                    allow_scripts=tuple(fingerprinting.strings("allow_scripts")),
                ),
                unknown=UnknownSettings(
                    third_parties=unknown.choice("third_parties", ("allow", "hold"), "allow"),
                    category=unknown.get("category", str, UnknownSettings.category),
                ),
                texts={lang: texts.table(lang).text_table() for lang in texts.names()},
            )
        except PolicyError as error:  # what the file holds, checked together with how it reads
            problems.merge(error)
            policy = None
        for sub in (
            reader,
            site,
            consent,
            endpoints,
            log,
            banner,
            pages,
            texts,
            reports,
            gcm,
            csp,
            fingerprinting,
            unknown,
        ):
            sub.reject_unknown()
        problems.raise_any()
        assert policy is not None
        return policy

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
            extended = extended_catalogue()
            return tuple(s for s in self.services if s not in extended)
        by_id = {s.id: s for s in self.services}
        return tuple(by_id[i] for i in self.uses)


def load_catalogue() -> tuple[Service, ...]:
    """The built-in services: the hand-written catalogue, then the extended one generated
    from public data (tools/catalogue), whose entries never replace a hand-written one."""
    curated = _catalogue_file("catalogue.toml")
    ids = {s.id for s in curated}
    return curated + tuple(s for s in extended_catalogue() if s.id not in ids)


@cache
def extended_catalogue() -> frozenset[Service]:
    """The generated entries: recognised and held back like any service, but listed on the
    policy page and allowed in the CSP only when the site's `uses` names them (a thousand
    services nobody chose would bloat both)."""
    return frozenset(_catalogue_file("catalogue-extended.json"))


@cache
def _catalogue_file(name: str) -> tuple[Service, ...]:
    """One catalogue file, parsed once per process: every policy built after the first one
    reuses it (the services are immutable). The generated one is JSON, parsed in C: tomllib
    took a second over its thousand entries."""
    text = resources.files("consent_gate").joinpath(name).read_text("utf-8")
    data = json.loads(text) if name.endswith(".json") else tomllib.loads(text)
    problems = _Problems()
    reader = _Reader(data, name.rpartition(".")[0], problems)
    reader.get("_comment", str, "")
    services = reader.table("services")
    found = tuple(_service(key, services.table(key)) for key in services.names())
    reader.reject_unknown()
    problems.raise_any()
    return found


def _categories(reader: _Reader) -> tuple[Category, ...]:
    """Default categories, overridden or extended by the site's tables, in a stable order."""
    merged = {c.id: c for c in DEFAULT_CATEGORIES}
    for category_id in reader.names():
        sub = reader.table(category_id)
        base = merged.get(category_id)
        translations = sub.table("translations")
        merged[category_id] = Category(
            id=category_id,
            title=sub.get("title", str, base.title if base else category_id.title()),
            description=sub.get("description", str, base.description if base else ""),
            required=sub.get("required", bool, base.required if base else False),
            translations={
                lang: _translation(translations.table(lang)) for lang in translations.names()
            },
        )
        sub.reject_unknown()
    return tuple(merged.values())


def _translation(reader: _Reader) -> dict[str, str]:
    found = {key: reader.get(key, str, "") for key in ("title", "description")}
    reader.reject_unknown()
    return {k: v for k, v in found.items() if v}


def _google_consent_mode(reader: _Reader) -> GoogleConsentMode:
    """The `[google_consent_mode]` table; `signals` entries replace the defaults one by one."""
    default = GoogleConsentMode()
    given = reader.table("signals")
    signals = dict(default.signals)
    for name in given.names():
        signals[name] = tuple(given.strings(name))
    given.reject_unknown()
    services = reader.strings("services") if "services" in reader.data else default.services
    return GoogleConsentMode(
        enabled=reader.get("enabled", bool, default.enabled),
        mode=reader.choice("mode", ("basic", "advanced"), default.mode),
        signals=signals,
        services=tuple(services),
        wait_for_update=reader.get("wait_for_update", int, default.wait_for_update),
        ads_data_redaction=reader.get("ads_data_redaction", bool, default.ads_data_redaction),
        url_passthrough=reader.get("url_passthrough", bool, default.url_passthrough),
    )


def _service(service_id: str, reader: _Reader) -> Service:
    cookies = []
    for item in reader.tables("cookies"):
        cookies.append(
            CookieSpec(
                name=item.require("name", str),
                purpose=item.require("purpose", str),
                lifetime=item.get("lifetime", str, "session"),
                party=item.choice("party", ("first", "third"), "first"),
            )
        )
        item.reject_unknown()
    service = Service(
        id=service_id,
        name=reader.require("name", str),
        category=reader.require("category", str),
        provider=reader.get("provider", str, ""),
        privacy_url=reader.get("privacy_url", str, ""),
        description=reader.get("description", str, ""),
        hosts=tuple(h.lower() for h in reader.strings("hosts")),
        urls=tuple(u.lower() for u in reader.strings("urls")),
        snippets=tuple(reader.strings("snippets")),
        cookies=tuple(cookies),
        source=reader.get("source", str, ""),
    )
    reader.reject_unknown()
    _check_service(service, reader.path, reader.problems)
    return service


def _check_service(service: Service, key: str, problems: _Problems) -> None:
    """The same checks for services from TOML and from Python."""
    if not _ID.match(service.id):
        problems.add(key, "service ids are lowercase letters, digits, - and _")
    for index, host in enumerate(service.hosts):
        if not _HOST.match(host):
            problems.add(
                f"{key}.hosts[{index}]",
                f"{host!r} is not a lower-case host name "
                "(write 'cdn.example.com', no scheme or path)",
            )
    for index, url in enumerate(service.urls):
        if "://" in url or "/" not in url or url != url.lower():
            problems.add(
                f"{key}.urls[{index}]",
                f"{url!r} should be lower-case host/path with no scheme, e.g. 'example.com/track*'",
            )
    if any(len(s.strip()) < 4 for s in service.snippets):
        problems.add(f"{key}.snippets", "each snippet needs at least 4 characters")
    for index, cookie in enumerate(service.cookies):
        try:
            parse_lifetime(cookie.lifetime)
        except ValueError as exc:
            problems.add(f"{key}.cookies[{index}].lifetime", str(exc))
        if cookie.party not in ("first", "third"):
            problems.add(f"{key}.cookies[{index}].party", "must be 'first' or 'third'")
    if not (service.hosts or service.urls or service.snippets or service.cookies):
        problems.add(key, "a service needs hosts, urls, snippets or cookies")


def _validate(policy: Policy, problems: _Problems) -> None:
    if isinstance(policy.revision, bool) or policy.revision < 1:
        problems.add("revision", "must be a whole number of at least 1")
    ids = [c.id for c in policy.categories]
    for category in policy.categories:
        if not _ID.match(category.id):
            problems.add(f"categories.{category.id}", "ids are lowercase letters and digits")
    if len(set(ids)) != len(ids):
        problems.add("categories", "category ids must be unique")
    if "necessary" not in ids or not policy.category("necessary").required:
        problems.add("categories.necessary", "must exist and be required")
    for service in policy.services:
        _check_service(service, f"services.{service.id}", problems)
        if service.category not in ids:
            problems.add(
                f"services.{service.id}.category",
                f"unknown category {service.category!r} (known: {', '.join(ids)})",
            )
    known = {s.id for s in policy.services}
    for index, used in enumerate(policy.uses):
        if used not in known:
            problems.add(f"uses[{index}]", f"no service {used!r} in the policy or catalogue")
    for index, pattern in enumerate(policy.exclude):
        if not _PATH_PATTERN.fullmatch(pattern) or pattern.startswith(policy.prefix):
            problems.add(
                f"exclude[{index}]",
                f"{pattern!r} is not a path pattern such as '/admin/*' or '/docs' (one that "
                f"does not start with the gate's own {policy.prefix!r})",
            )
    for index, domain in enumerate(policy.site_domains):
        if not DOMAIN_NAME.fullmatch(domain):
            problems.add(
                f"site.domains[{index}]",
                f"{domain!r} is not a lower-case domain name of two labels or more "
                "(write 'example.com': no scheme, port, path or leading dot)",
            )
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", policy.cookie_name):
        problems.add("consent.cookie_name", "use letters, digits, '.', '_' and '-' only")
    if policy.max_age <= 0 or policy.max_age > 395 * _DAY:
        problems.add("consent.max_age_days", "must be between 1 and 395 days (13 months)")
    if policy.dnt not in ("ignore", "honour"):
        problems.add("consent.dnt", "must be 'ignore' or 'honour'")
    if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", policy.prefix):
        problems.add("endpoints.prefix", "must be a path such as '/consent-gate'")
    _check_gpc(policy, problems)
    _check_log(policy.log, problems)
    _check_banner(policy, problems)
    _check_reports(policy.reports, problems)
    _check_google_consent_mode(policy, problems)
    _check_csp(policy.csp, problems)
    _check_fingerprinting(policy, problems)
    _check_unknown(policy, problems)


def _check_unknown(policy: Policy, problems: _Problems) -> None:
    settings = policy.unknown
    if settings.third_parties not in ("allow", "hold"):
        problems.add("unknown.third_parties", "must be 'allow' or 'hold'")
    optional = policy.optional_categories
    if settings.third_parties == "hold" and settings.category not in optional:
        problems.add(
            "unknown.category",
            f"{settings.category!r} is not an optional category, so it could never release "
            f"what is held (optional: {', '.join(optional)})",
        )


def _check_gpc(policy: Policy, problems: _Problems) -> None:
    gpc = policy.gpc
    if gpc.stance not in ("honour", "ignore"):
        problems.add("consent.gpc", "must be 'honour' or 'ignore'")
    optional = policy.optional_categories
    for index, category in enumerate(gpc.sale_sharing):
        if category not in optional:
            problems.add(
                f"consent.sale_sharing[{index}]",
                f"{category!r} is not an optional category (optional: {', '.join(optional)})",
            )
    if gpc.stance == "honour" and not gpc.sale_sharing:
        problems.add(
            "consent.sale_sharing",
            "name the categories that sell or share data (or set consent.gpc = 'ignore')",
        )
    if gpc.last_update:
        try:
            date.fromisoformat(gpc.last_update)
        except ValueError:
            problems.add("consent.gpc_last_update", "write a date as YYYY-MM-DD")


def _check_log(log: LogSettings, problems: _Problems) -> None:
    if not is_dsn(log.dsn):
        problems.add(
            "log.dsn",
            f"{log.dsn!r} is not 'sqlite:///path/to/file.sqlite3' or 'postgresql://user@host/db'",
        )
    if log.ip not in ("off", "truncated"):
        problems.add("log.ip", "must be 'off' or 'truncated'")
    if isinstance(log.retention_years, bool) or not 1 <= log.retention_years <= 100:
        problems.add("log.retention_years", "must be a whole number from 1 to 100")
    if isinstance(log.per_minute, bool) or not 1 <= log.per_minute <= 1_000_000:
        problems.add("log.per_minute", "must be a whole number from 1 to 1000000")
    if not isinstance(log.fsync, bool):
        problems.add("log.fsync", "must be true or false")


def _check_reports(reports: ReportSettings, problems: _Problems) -> None:
    if isinstance(reports.per_minute, bool) or not 1 <= reports.per_minute <= 10_000:
        problems.add("reports.per_minute", "must be a whole number from 1 to 10000")
    if isinstance(reports.max_entries, bool) or not 10 <= reports.max_entries <= 1_000_000:
        problems.add("reports.max_entries", "must be a whole number from 10 to 1000000")
    if isinstance(reports.flush_seconds, bool) or not 0 <= reports.flush_seconds <= 3600:
        problems.add("reports.flush_seconds", "must be a whole number from 0 to 3600")


def _check_google_consent_mode(policy: Policy, problems: _Problems) -> None:
    settings = policy.google_consent_mode
    key = "google_consent_mode"
    if settings.mode not in ("basic", "advanced"):
        problems.add(f"{key}.mode", "must be 'basic' or 'advanced'")
    ids = [c.id for c in policy.categories]
    for signal, categories in settings.signals.items():
        if signal not in _GOOGLE_SIGNALS:
            problems.add(
                f"{key}.signals.{signal}",
                f"not a Consent Mode signal (known: {', '.join(_GOOGLE_SIGNALS)})",
            )
        for index, category in enumerate(categories):
            if category not in ids:
                problems.add(
                    f"{key}.signals.{signal}[{index}]",
                    f"unknown category {category!r} (known: {', '.join(ids)})",
                )
    if isinstance(settings.wait_for_update, bool) or not 0 <= settings.wait_for_update <= 10_000:
        problems.add(f"{key}.wait_for_update", "must be a whole number from 0 to 10000 (ms)")
    if not settings.enabled or settings.mode != "advanced":
        return  # only advanced mode uses the services: they need not exist otherwise
    known = {s.id for s in policy.services}
    for index, service in enumerate(settings.services):
        if service not in known:
            problems.add(
                f"{key}.services[{index}]", f"no service {service!r} in the policy or catalogue"
            )


def _check_csp(csp: CspSettings, problems: _Problems) -> None:
    if csp.mode not in ("off", "report-only", "enforce"):
        problems.add("csp.mode", "must be 'off', 'report-only' or 'enforce'")
    for directive, sources in csp.sources.items():
        if directive not in (*CSP_DIRECTIVES, HANDLER_DIRECTIVE):
            problems.add(
                f"csp.sources.{directive}",
                f"the gate builds only {', '.join((*CSP_DIRECTIVES, HANDLER_DIRECTIVE))}; "
                "set others in the app's own CSP",
            )
        for index, source in enumerate(sources):
            if not _CSP_SOURCE.match(source):
                problems.add(
                    f"csp.sources.{directive}[{index}]",
                    f"{source!r} is not a host ('cdn.example.com', 'https://*.example.com'), "
                    "'data:'/'blob:', a hash or 'unsafe-eval'; sources that open every host "
                    "('*', 'https:', 'unsafe-inline', 'strict-dynamic') would switch the gate off",
                )


def _check_fingerprinting(policy: Policy, problems: _Problems) -> None:
    settings = policy.fingerprinting
    for index, category_id in enumerate(settings.categories):
        key = f"fingerprinting.categories[{index}]"
        if category_id not in {c.id for c in policy.categories}:
            problems.add(key, f"unknown category {category_id!r}")
        elif policy.category(category_id).required:
            problems.add(key, f"{category_id!r} is required: it would never hold the guard")
    for index, script in enumerate(settings.allow_scripts):
        if not _ALLOWED_SCRIPT.match(script):
            problems.add(
                f"fingerprinting.allow_scripts[{index}]",
                f"{script!r} is not a same-origin path ('/static/draw.js') or an http(s) URL",
            )


def _check_banner(policy: Policy, problems: _Problems) -> None:
    settings = policy.banner
    for index, lang in enumerate(settings.languages):
        if lang not in i18n.LANGUAGES:
            problems.add(
                f"banner.languages[{index}]",
                f"no texts for {lang!r} (shipped: {', '.join(i18n.LANGUAGES)})",
            )
    if settings.default_language not in settings.languages:
        problems.add("banner.default_language", "must be one of banner.languages")
    positions = POSITIONS[settings.layout]
    if settings.position and settings.position not in positions:
        problems.add(
            "banner.position",
            f"a {settings.layout} sits at {', '.join(positions)}, not {settings.position!r}",
        )
    if settings.brand and not _BRAND.match(settings.brand):
        problems.add(
            "banner.brand", f"expected a hex colour like '#0b6e4f', got {settings.brand!r}"
        )
    stylesheet = policy.pages.stylesheet
    if stylesheet and not _ALLOWED_SCRIPT.match(stylesheet):
        problems.add(
            "pages.stylesheet", f"{stylesheet!r} is not a same-origin path or an http(s) URL"
        )
    templates = policy.pages.templates
    if templates and not os.path.isdir(templates):
        problems.add("pages.templates", f"{templates!r} is not a directory")
    if isinstance(policy.updated, datetime):
        problems.add("updated", "expected a date like 2026-11-30, without a time")
    known = i18n.keys("en")
    for lang, overrides in policy.texts.items():
        if lang not in i18n.LANGUAGES:
            problems.add(f"texts.{lang}", f"no texts for {lang!r} to override")
            continue
        for key, value in overrides.items():
            if key not in known:
                problems.add(f"texts.{lang}.{key}", "unknown key (see locales/en.toml)")
            elif not isinstance(value, str):
                problems.add(f"texts.{lang}.{key}", "expected a string")


class _Reader:
    """Typed access to one TOML table that remembers which keys were read. A value of the wrong
    type is reported and read as the default, so the rest of the file is still checked."""

    def __init__(self, data: Mapping[str, Any], path: str, problems: _Problems) -> None:
        self.data = data
        self.path = path
        self.problems = problems
        self.seen: set[str] = set()

    def _key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def names(self) -> Iterable[str]:
        return list(self.data)

    def get(self, key: str, kind: type[_T], default: _T) -> _T:
        self.seen.add(key)
        if key not in self.data:
            return default
        value = self.data[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.problems.add(self._key(key), f"expected {_KIND_NAMES[kind]}, got {value!r}")
            return default
        return value

    def require(self, key: str, kind: type[_T]) -> _T:
        if key not in self.data:
            self.problems.add(self._key(key), "is required")
        return self.get(key, kind, kind())

    def choice(self, key: str, options: tuple[_S, ...], default: _S) -> _S:
        value = self.get(key, str, default)
        for option in options:
            if value == option:
                return option
        self.problems.add(self._key(key), f"must be one of {', '.join(options)}, got {value!r}")
        return default

    def strings(self, key: str, default: Iterable[str] = ()) -> list[str]:
        values = self.get(key, list, list(default))
        bad = [i for i, value in enumerate(values) if not isinstance(value, str) or not value]
        for index in bad:
            self.problems.add(f"{self._key(key)}[{index}]", "expected a non-empty string")
        return list(default) if bad else values

    def text_table(self) -> dict[str, str]:
        """A table of dotted text keys; `_check_banner` validates the keys and values."""
        self.seen.update(self.data)
        return dict(self.data)

    def table(self, key: str) -> _Reader:
        return _Reader(self.get(key, dict, {}), self._key(key), self.problems)

    def tables(self, key: str) -> list[_Reader]:
        readers = []
        for index, item in enumerate(self.get(key, list, [])):
            if isinstance(item, dict):
                readers.append(_Reader(item, f"{self._key(key)}[{index}]", self.problems))
            else:
                self.problems.add(f"{self._key(key)}[{index}]", "expected a table")
        return readers

    def reject_unknown(self) -> None:
        for key in sorted(set(self.data) - self.seen):
            self.problems.add(self._key(key), "unknown key")


_KIND_NAMES: dict[type, str] = {
    date: "a date like 2026-11-30",
    str: "a string",
    int: "a whole number",
    bool: "true or false",
    list: "a list",
    dict: "a table",
}
