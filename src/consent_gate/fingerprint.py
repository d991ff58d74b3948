"""The fingerprinting guard: device readbacks stay blank until the visitor consents.

Blocking a fingerprinting library only works when the catalogue knows it; the guard covers the
rest. `static/banner/guard.js`, with the policy's configuration, is served as one cached file
that the head loads before any script of the page for every visitor who has not allowed all the
covering categories, and its reports name the scripts that tried.
"""

from __future__ import annotations

import re
from typing import Any

from .assets import Assets
from .banner import static_dir
from .consent import Consent
from .head import HeadScripts, js_value
from .policy import Policy
from .reports import ReportKind, Reports

__all__ = [
    "API_NAMES",
    "FILE",
    "REPORT",
    "FingerprintGuard",
    "covering_categories",
    "install",
    "parse",
]

# What guard.js reports: one name per guarded API.
API_NAMES = frozenset(
    {
        "canvas.toDataURL",
        "canvas.toBlob",
        "canvas.getImageData",
        "offscreen.convertToBlob",
        "offscreen.getImageData",
        "webgl.getParameter",
        "webgl.readPixels",
        "webgl.getSupportedExtensions",
        "audio.startRendering",
        "audio.getFloatFrequencyData",
        "audio.getByteFrequencyData",
        "audio.getFloatTimeDomainData",
        "audio.getByteTimeDomainData",
        "navigator.hardwareConcurrency",
        "navigator.deviceMemory",
        "navigator.getHighEntropyValues",
        "navigator.enumerateDevices",
    }
)
FILE = "guard.js"
MAX_ATTEMPTS = 32  # entries in one report; guard.js sends larger batches in several
MAX_COUNT = 1000  # attempts one entry may count
_SCRIPT = re.compile(r"(https?|file)://[^\s\x00-\x1f\x7f]{1,500}\Z")
_PAGE = re.compile(r"/[^\s\x00-\x1f\x7f]{0,500}\Z")


def covering_categories(policy: Policy) -> tuple[str, ...]:
    """The categories a visitor must all allow to lift the guard.

    Default: a category named "fingerprinting" if the policy has one, else analytics and
    marketing (those of them the policy has), else every optional category.
    """
    if policy.fingerprinting.categories:
        return policy.fingerprinting.categories
    optional = policy.optional_categories
    if "fingerprinting" in optional:
        return ("fingerprinting",)
    return tuple(c for c in ("analytics", "marketing") if c in optional) or optional


class FingerprintGuard:
    """Whether the guard applies to a visitor, and its file: guard.js called with the policy's
    configuration."""

    def __init__(self, policy: Policy) -> None:
        self.categories = covering_categories(policy)
        self.enabled = policy.fingerprinting.guard
        config = {
            "report": f"{policy.prefix}/reports/{REPORT.name}",
            "consent": f"{policy.prefix}/consent",
            "allow": list(policy.fingerprinting.allow_scripts),
            "categories": list(self.categories),
            "own": f"{policy.prefix}/static/",  # the gate's scripts: never the caller
        }
        source = (static_dir() / FILE).read_text("utf-8").strip()
        self.script = f"{source}({js_value(config)});\n".encode()

    def __call__(self, consent: Consent) -> bool:
        return self.enabled and not all(consent.allows(c) for c in self.categories)


def parse(body: Any) -> list[tuple[str, str, str]]:
    """The (script, api, page) keys of one report, each as often as it was attempted.

    The body is validated as a whole before anything is counted:
    `{"page": "/path", "attempts": [{"script": url, "api": name, "count": n}, ...]}`.
    """
    if not isinstance(body, dict) or set(body) != {"page", "attempts"}:
        raise ValueError("expected an object with 'page' and 'attempts'")
    page, attempts = body["page"], body["attempts"]
    if not isinstance(page, str) or not _PAGE.match(page):
        raise ValueError("'page' must be a path")
    if not isinstance(attempts, list) or not 1 <= len(attempts) <= MAX_ATTEMPTS:
        raise ValueError(f"'attempts' must be a list of 1 to {MAX_ATTEMPTS} entries")
    keys: list[tuple[str, str, str]] = []
    for entry in attempts:
        if not isinstance(entry, dict) or set(entry) != {"script", "api", "count"}:
            raise ValueError("each attempt is an object with 'script', 'api' and 'count'")
        script, api, count = entry["script"], entry["api"], entry["count"]
        if not isinstance(script, str) or not _SCRIPT.match(script):
            raise ValueError("'script' must be an http(s) URL")
        if not isinstance(api, str) or api not in API_NAMES:  # a list or object is unhashable
            raise ValueError("unknown 'api'")
        if type(count) is not int or not 1 <= count <= MAX_COUNT:
            raise ValueError(f"'count' must be a whole number from 1 to {MAX_COUNT}")
        keys += [(script, api, page)] * count
    return keys


REPORT = ReportKind("fingerprint", ("script", "api", "page"), parse)


def install(policy: Policy, head: HeadScripts, reports: Reports, assets: Assets) -> None:
    """Add the guard to a gate's head and its reports to the gate's books."""
    guard = FingerprintGuard(policy)
    if guard.enabled:
        asset = assets.add(FILE, guard.script)
        head.add_file(guard, assets.url(FILE), asset.integrity)
    reports.register(REPORT)
