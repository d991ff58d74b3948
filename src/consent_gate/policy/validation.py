"""The checks a policy passes when it is built, from TOML or from Python alike."""

from __future__ import annotations

import os
import re
from datetime import date, datetime
from typing import TYPE_CHECKING

from .. import i18n
from .choices import (
    CSP_DIRECTIVES,
    GOOGLE_SIGNALS,
    HANDLER_DIRECTIVE,
    POSITIONS,
    CspMode,
    Dnt,
    GcmMode,
    GpcStance,
    IpLogging,
    Party,
    ThirdParties,
    one_of,
    options,
)
from .problems import Problems

if TYPE_CHECKING:
    from .model import CspSettings, LogSettings, Policy, ReportSettings, Service

__all__ = ["DAY", "DOMAIN_NAME", "check_service", "is_dsn", "parse_lifetime", "validate"]

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
DAY = 86400
_ALLOWED_SCRIPT = re.compile(r"(/(?![/\\])|https?://[^/\s]+/)\S{0,500}\Z")
_DSN_SCHEMES = ("sqlite:///", "postgresql://", "postgres://")
_BRAND = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}\Z")
_PATH_PATTERN = re.compile(r"/[!-~]*")  # printable ASCII, no space: a path as a server sees it
# A source a site may add: a host (optionally with scheme, port, path), a harmless scheme, or a
# keyword/hash that does not switch host lists off ('unsafe-inline', 'strict-dynamic', * would).
_CSP_SOURCE = re.compile(
    r"(?:(?:https?|wss?)://)?(?:\*\.)?[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::(?:[0-9]{1,5}|\*))?"
    r"(?:/[^\s;,']*)?\Z"
    r"|(?:data|blob|mediastream|filesystem):\Z"
    r"|'(?:self|unsafe-eval|wasm-unsafe-eval|unsafe-hashes|report-sample)'\Z"
    r"|'sha(?:256|384|512)-[A-Za-z0-9+/_-]+={0,2}'\Z"
)


def is_dsn(text: str) -> bool:
    """Whether `text` names a consent log the gate can open (as `[log] dsn` or `store`)."""
    return text.startswith(_DSN_SCHEMES) and text != _DSN_SCHEMES[0]


def parse_lifetime(text: str) -> int | None:
    """Seconds for "2 years", "30 minutes", ...; None for "session" and for "persistent" (a
    web storage item, which has no expiry: it stays until a script removes it)."""
    value = text.strip().lower()
    if value in ("session", "persistent"):
        return None
    match = _LIFETIME.match(value)
    if match is None:
        raise ValueError(
            f"{text!r} is not 'session', 'persistent' or '<number> <minutes|hours|days|...>'"
        )
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def check_service(service: Service, key: str, problems: Problems) -> None:
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
        if cookie.party not in options(Party):
            problems.add(f"{key}.cookies[{index}].party", f"must be {one_of(Party)}")
    if not (service.hosts or service.urls or service.snippets or service.cookies):
        problems.add(key, "a service needs hosts, urls, snippets or cookies")


def validate(policy: Policy, problems: Problems) -> None:
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
        check_service(service, f"services.{service.id}", problems)
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
    if policy.max_age <= 0 or policy.max_age > 395 * DAY:
        problems.add("consent.max_age_days", "must be between 1 and 395 days (13 months)")
    if policy.dnt not in options(Dnt):
        problems.add("consent.dnt", f"must be {one_of(Dnt)}")
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


def _check_unknown(policy: Policy, problems: Problems) -> None:
    settings = policy.unknown
    if settings.third_parties not in options(ThirdParties):
        problems.add("unknown.third_parties", f"must be {one_of(ThirdParties)}")
    optional = policy.optional_categories
    if settings.third_parties == "hold" and settings.category not in optional:
        problems.add(
            "unknown.category",
            f"{settings.category!r} is not an optional category, so it could never release "
            f"what is held (optional: {', '.join(optional)})",
        )


def _check_gpc(policy: Policy, problems: Problems) -> None:
    gpc = policy.gpc
    if gpc.stance not in options(GpcStance):
        problems.add("consent.gpc", f"must be {one_of(GpcStance)}")
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


def _check_log(log: LogSettings, problems: Problems) -> None:
    if not is_dsn(log.dsn):
        problems.add(
            "log.dsn",
            f"{log.dsn!r} is not 'sqlite:///path/to/file.sqlite3' or 'postgresql://user@host/db'",
        )
    if log.ip not in options(IpLogging):
        problems.add("log.ip", f"must be {one_of(IpLogging)}")
    if isinstance(log.retention_years, bool) or not 1 <= log.retention_years <= 100:
        problems.add("log.retention_years", "must be a whole number from 1 to 100")
    if isinstance(log.per_minute, bool) or not 1 <= log.per_minute <= 1_000_000:
        problems.add("log.per_minute", "must be a whole number from 1 to 1000000")
    if not isinstance(log.fsync, bool):
        problems.add("log.fsync", "must be true or false")


def _check_reports(reports: ReportSettings, problems: Problems) -> None:
    if isinstance(reports.per_minute, bool) or not 1 <= reports.per_minute <= 10_000:
        problems.add("reports.per_minute", "must be a whole number from 1 to 10000")
    if isinstance(reports.max_entries, bool) or not 10 <= reports.max_entries <= 1_000_000:
        problems.add("reports.max_entries", "must be a whole number from 10 to 1000000")
    if isinstance(reports.flush_seconds, bool) or not 0 <= reports.flush_seconds <= 3600:
        problems.add("reports.flush_seconds", "must be a whole number from 0 to 3600")


def _check_google_consent_mode(policy: Policy, problems: Problems) -> None:
    settings = policy.google_consent_mode
    key = "google_consent_mode"
    if settings.mode not in options(GcmMode):
        problems.add(f"{key}.mode", f"must be {one_of(GcmMode)}")
    ids = [c.id for c in policy.categories]
    for signal, categories in settings.signals.items():
        if signal not in GOOGLE_SIGNALS:
            problems.add(
                f"{key}.signals.{signal}",
                f"not a Consent Mode signal (known: {', '.join(GOOGLE_SIGNALS)})",
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


def _check_csp(csp: CspSettings, problems: Problems) -> None:
    if csp.mode not in options(CspMode):
        problems.add("csp.mode", f"must be {one_of(CspMode)}")
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


def _check_fingerprinting(policy: Policy, problems: Problems) -> None:
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


def _check_banner(policy: Policy, problems: Problems) -> None:
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
