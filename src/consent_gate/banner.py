"""The banner and the pages generated from the policy, rendered with autoescaping Jinja2.

Templates compile once. The banner snippet is rendered once per consent state and cached; only
the page address (for the no-JavaScript round trip) is filled in per response.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import escape

from .consent import Consent
from .cookies import CookieRules
from .policy import Policy
from .rules import Match

__all__ = ["Banner", "static_dir"]

_NEXT = "__cg_next__"
_NEXT_QUOTED = "__cg_next_q__"
STATIC_FILES = ("banner.js", "banner.css")


def static_dir() -> Path:
    """`static/banner/`: inside the installed wheel, or at the top of a source checkout."""
    packaged = Path(str(resources.files("consent_gate"))) / "static" / "banner"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "static" / "banner"


@cache
def texts(lang: str = "en") -> dict[str, dict[str, str]]:
    source = resources.files("consent_gate").joinpath("locales", f"{lang}.toml")
    data: dict[str, dict[str, str]] = tomllib.loads(source.read_text("utf-8"))
    return data


@dataclass(frozen=True)
class _Choice:
    id: str
    title: str
    description: str
    required: bool
    checked: bool


class Banner:
    """Everything the visitor sees of the gate, rendered from one policy."""

    def __init__(self, policy: Policy, cookie_rules: CookieRules) -> None:
        self.policy = policy
        self.lang = "en"
        self.endpoint = f"{policy.prefix}/consent"
        self.preferences_url = f"{policy.prefix}/preferences"
        self.policy_url = f"{policy.prefix}/policy"
        self.static_url = f"{policy.prefix}/static"
        directory = static_dir()
        digest = hashlib.sha256()
        for name in STATIC_FILES:
            digest.update((directory / name).read_bytes())
        self.static_version = digest.hexdigest()[:12]
        self._cookie_patterns = {
            category: sorted(set(names)) for category, names in cookie_rules.by_category.items()
        }
        self._env = Environment(
            loader=PackageLoader("consent_gate", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._snippet = self._env.get_template("banner.html")
        self._preferences = self._env.get_template("preferences.html")
        self._policy_page = self._env.get_template("policy.html")
        self._placeholder = self._env.get_template("placeholder.html")
        self._snippets: dict[tuple[bool, bool, tuple[bool, ...]], str] = {}
        self._placeholders: dict[Match, str] = {}

    def snippet(self, consent: Consent, *, next_url: str, prompt: bool) -> str:
        """The markup injected into a page: banner (when `prompt`), dialog and settings link."""
        key = (prompt, consent.decided, tuple(consent.choices.values()))
        cached = self._snippets.get(key)
        if cached is None:
            cached = self._snippet.render(
                self._context(consent, dialog=True),
                prompt=prompt,
                config=self._config(consent),
            )
            self._snippets[key] = cached
        return _fill(cached, next_url)

    def first_layer(self) -> str:
        """The snippet a visitor sees before deciding (page address unfilled): what the log
        archives as the banner version, so one deployment has one version whatever the state."""
        undecided = Consent(
            {c.id: c.required for c in self.policy.categories}, self.policy.revision
        )
        self.snippet(undecided, next_url="", prompt=True)
        return self._snippets[(True, False, tuple(undecided.choices.values()))]

    def preferences_page(self, consent: Consent, *, next_url: str, message: str = "") -> str:
        return _fill(
            self._preferences.render(self._context(consent, dialog=False), message=message),
            next_url,
        )

    def policy_page(self, consent: Consent) -> str:
        return self._policy_page.render(
            self._context(consent, dialog=False), services=self._services()
        )

    def placeholder(self, match: Match, *, next_url: str) -> str:
        """A small page shown inside a held-back frame, escaped for a srcdoc attribute."""
        cached = self._placeholders.get(match)
        if cached is None:
            service = next((s for s in self.policy.services if s.id == match.service), None)
            category = self.policy.category(match.category)
            t = texts(self.lang)["placeholder"]
            html = self._placeholder.render(
                lang=self.lang,
                t=t,
                blocked=t["blocked"].format(
                    service=service.name if service else category.title,
                    category=category.text("title", self.lang),
                ),
                allow=t["allow"].format(category=category.text("title", self.lang)),
                category=category.id,
                endpoint=self.endpoint,
                next=_NEXT,
            )
            cached = str(escape(html))
            self._placeholders[match] = cached
        return cached.replace(_NEXT, str(escape(escape(next_url))))

    def policy_json(self) -> dict[str, Any]:
        """The machine-readable policy, DNT stance included."""
        policy = self.policy
        return {
            "revision": policy.revision,
            "site": {"name": policy.site_name, "contact": policy.contact},
            "do_not_track": {
                "honoured": policy.dnt == "honour",
                "statement": texts(self.lang)["policy"][f"dnt_{policy.dnt}"],
            },
            "consent_cookie": {
                "name": policy.cookie_name,
                "max_age_seconds": policy.max_age,
            },
            "categories": [
                {
                    "id": c.id,
                    "title": c.title,
                    "description": c.description,
                    "required": c.required,
                }
                for c in policy.categories
            ],
            "services": [
                {
                    "id": s.id,
                    "name": s.name,
                    "category": s.category,
                    "provider": s.provider,
                    "privacy_url": s.privacy_url,
                    "cookies": [
                        {
                            "name": c.name,
                            "purpose": c.purpose,
                            "lifetime": c.lifetime,
                            "party": c.party,
                        }
                        for c in s.cookies
                    ],
                }
                for s in policy.listed_services
            ],
        }

    def _context(self, consent: Consent, *, dialog: bool) -> dict[str, Any]:
        lang = self.lang
        return {
            "lang": lang,
            "t": texts(lang),
            "policy": self.policy,
            "consent": consent,
            "dialog": dialog,
            "decided": consent.decided,
            "categories": [
                _Choice(
                    c.id,
                    c.text("title", lang),
                    c.text("description", lang),
                    c.required,
                    c.required or consent.allows(c.id),
                )
                for c in self.policy.categories
            ],
            "endpoint": self.endpoint,
            "preferences_url": self.preferences_url,
            "policy_url": self.policy_url,
            "static": self.static_url,
            "version": self.static_version,
            "next": _NEXT,
            "next_quoted": _NEXT_QUOTED,
        }

    def _config(self, consent: Consent) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "decided": consent.decided,
            "choices": {c: consent.allows(c) for c in self.policy.optional_categories},
            "cookies": self._cookie_patterns,
            "revision": self.policy.revision,
        }

    def _services(self) -> list[tuple[Any, list[Any]]]:
        listed = self.policy.listed_services
        return [(c, [s for s in listed if s.category == c.id]) for c in self.policy.categories]


def _fill(rendered: str, next_url: str) -> str:
    return rendered.replace(_NEXT_QUOTED, quote(next_url, safe="/")).replace(
        _NEXT, str(escape(next_url))
    )
