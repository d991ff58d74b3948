"""The banner's languages: locale files, and which one a request gets.

Texts are data (`locales/<lang>.toml`, every file with exactly the keys of `en.toml`). The
language comes from `Accept-Language` (q-values honoured), else from the page's `<html lang>`,
else the site's default; the gate's own pages also take a `lang` query parameter.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from functools import cache, lru_cache
from importlib import resources
from typing import Any

__all__ = [
    "LANGUAGES",
    "RTL",
    "direction",
    "flatten",
    "html_lang",
    "keys",
    "locale",
    "negotiate",
    "parse_accept_language",
]

RTL = frozenset({"ar", "fa", "he", "ur"})
_TAG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*\Z")
_Q = re.compile(r"q\s*=\s*(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)\Z", re.IGNORECASE)
_HTML_LANG = re.compile(
    rb"<html\b[^>]*?\slang\s*=\s*[\"']?\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)", re.IGNORECASE
)


def _shipped() -> tuple[str, ...]:
    folder = resources.files("consent_gate").joinpath("locales")
    names = (item.name for item in folder.iterdir() if item.name.endswith(".toml"))
    return tuple(sorted(name.removesuffix(".toml") for name in names))


LANGUAGES: tuple[str, ...] = _shipped()


@cache
def locale(lang: str) -> dict[str, Any]:
    """The texts of one shipped language, by section (`banner`, `policy`, `categories`)."""
    source = resources.files("consent_gate").joinpath("locales", f"{lang}.toml")
    return tomllib.loads(source.read_text("utf-8"))


@cache
def keys(lang: str) -> dict[str, str]:
    """The texts of one shipped language by dotted key (`banner.title`)."""
    return flatten(locale(lang))


def flatten(texts: Mapping[str, object], prefix: str = "") -> dict[str, str]:
    """`{"banner": {"title": ...}}` as `{"banner.title": ...}`: the keys site owners override."""
    flat: dict[str, str] = {}
    for key, value in texts.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat


def direction(lang: str) -> str:
    return "rtl" if lang.split("-")[0].lower() in RTL else "ltr"


@lru_cache(maxsize=256)
def parse_accept_language(header: str) -> tuple[str, ...]:
    """Language ranges of an `Accept-Language` value, best first (q=0 and junk dropped).

    Equal q-values keep the header's order; a malformed q makes that range count as absent.
    """
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:32]):
        tag, _, params = part.partition(";")
        tag = tag.strip()
        if tag != "*" and not _TAG.match(tag):
            continue
        quality = 1.0
        if params.strip():
            found = _Q.match(params.strip())
            if found is None:
                continue
            quality = float(found.group(1))
        if quality > 0:
            ranked.append((-quality, index, tag.lower()))
    return tuple(tag for _, _, tag in sorted(ranked))


def negotiate(
    ranges: Iterable[str], available: Iterable[str], default: str, hint: str | None = None
) -> str:
    """The first available language a range asks for (`de-AT` -> `de`); else `hint`, `default`.

    `*` stands for the default. The hint (the page's own language) counts only without ranges.
    """
    offered = {lang.lower(): lang for lang in available}
    asked = list(ranges)
    for tag in asked:
        if tag == "*":
            return default
        for candidate in (tag, tag.split("-")[0]):
            if candidate in offered:
                return offered[candidate]
    if not asked and hint:
        primary = hint.lower().split("-")[0]
        if primary in offered:
            return offered[primary]
    return default


def html_lang(head: bytes) -> str | None:
    """The `lang` of the `<html>` start tag in the first bytes of a page, if they hold it."""
    found = _HTML_LANG.search(head)
    return found.group(1).decode("ascii") if found else None
