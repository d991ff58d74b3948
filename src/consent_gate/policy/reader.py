"""Policies from TOML: typed access to each table, and every mistake reported with its key."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, TypeVar

from .. import i18n
from .catalogue import load_catalogue
from .choices import (
    CspMode,
    Dnt,
    GcmMode,
    GpcStance,
    IpLogging,
    Layout,
    Party,
    Theme,
    ThirdParties,
    options,
)
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
from .problems import PolicyError, Problems
from .validation import DAY, check_service

__all__ = ["Reader", "read", "read_file", "read_service"]

_T = TypeVar("_T")
_S = TypeVar("_S", bound=str)


def read_file(path: str | os.PathLike[str]) -> Policy:
    try:
        with open(path, "rb") as file:
            data = tomllib.load(file)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(str(path), f"not valid TOML: {exc}") from None
    except OSError as exc:
        raise PolicyError(str(path), f"cannot read the policy file: {exc.strerror}") from None
    return read(data)


def read(data: Mapping[str, Any]) -> Policy:
    problems = Problems()
    reader = Reader(data, "", problems)
    catalogue = reader.get("catalogue", bool, True)
    services = {s.id: s for s in load_catalogue()} if catalogue else {}
    site_services = reader.table("services")
    for service_id in site_services.names():
        services[service_id] = read_service(service_id, site_services.table(service_id))
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
        policy: Policy | None = Policy(
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
            max_age=consent.get("max_age_days", int, 182) * DAY,
            dnt=consent.choice("dnt", options(Dnt), "ignore"),
            gpc=GpcSettings(
                stance=consent.choice("gpc", options(GpcStance), "honour"),
                sale_sharing=tuple(consent.strings("sale_sharing", GpcSettings.sale_sharing)),
                last_update=consent.get("gpc_last_update", str, ""),
            ),
            prefix=endpoints.get("prefix", str, "/consent-gate"),
            log=LogSettings(
                enabled=log.get("enabled", bool, True),
                dsn=log.get("dsn", str, LogSettings.dsn),
                ip=log.choice("ip", options(IpLogging), "off"),
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
                layout=banner.choice("layout", options(Layout), "bar"),
                position=banner.get("position", str, ""),
                theme=banner.choice("theme", options(Theme), "auto"),
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
                mode=csp.choice("mode", options(CspMode), "report-only"),
                sources={d: tuple(csp_sources.strings(d)) for d in csp_sources.names()},
            ),
            fingerprinting=FingerprintSettings(
                guard=fingerprinting.get("guard", bool, True),
                categories=tuple(fingerprinting.strings("categories")),
                allow_scripts=tuple(fingerprinting.strings("allow_scripts")),
            ),
            unknown=UnknownSettings(
                third_parties=unknown.choice("third_parties", options(ThirdParties), "allow"),
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


def _categories(reader: Reader) -> tuple[Category, ...]:
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


def _translation(reader: Reader) -> dict[str, str]:
    found = {key: reader.get(key, str, "") for key in ("title", "description")}
    reader.reject_unknown()
    return {k: v for k, v in found.items() if v}


def _google_consent_mode(reader: Reader) -> GoogleConsentMode:
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
        mode=reader.choice("mode", options(GcmMode), default.mode),
        signals=signals,
        services=tuple(services),
        wait_for_update=reader.get("wait_for_update", int, default.wait_for_update),
        ads_data_redaction=reader.get("ads_data_redaction", bool, default.ads_data_redaction),
        url_passthrough=reader.get("url_passthrough", bool, default.url_passthrough),
    )


def read_service(service_id: str, reader: Reader) -> Service:
    cookies = []
    for item in reader.tables("cookies"):
        cookies.append(
            CookieSpec(
                name=item.require("name", str),
                purpose=item.require("purpose", str),
                lifetime=item.get("lifetime", str, "session"),
                party=item.choice("party", options(Party), "first"),
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
    check_service(service, reader.path, reader.problems)
    return service


class Reader:
    """Typed access to one TOML table that remembers which keys were read. A value of the wrong
    type is reported and read as the default, so the rest of the file is still checked."""

    def __init__(self, data: Mapping[str, Any], path: str, problems: Problems) -> None:
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

    def table(self, key: str) -> Reader:
        return Reader(self.get(key, dict, {}), self._key(key), self.problems)

    def tables(self, key: str) -> list[Reader]:
        readers = []
        for index, item in enumerate(self.get(key, list, [])):
            if isinstance(item, dict):
                readers.append(Reader(item, f"{self._key(key)}[{index}]", self.problems))
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
