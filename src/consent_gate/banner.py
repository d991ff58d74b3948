"""The banner and the pages generated from the policy, rendered with autoescaping Jinja2.

Templates compile once. The banner snippet and the placeholders are rendered once per language
and consent state and cached with holes (`slots`) for the page address (the no-JavaScript round
trip) and the CSP nonce; pages rendered per request get every value through Jinja2.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from markupsafe import escape

from . import i18n
from .consent import HOST_PREFIX, Consent
from .cookies import CookieRules
from .head import js_value
from .policy import Category, Policy, Service
from .rules import Match
from .slots import Holes, Slotted
from .theme import brand_css

if TYPE_CHECKING:
    from jinja2 import Environment

__all__ = ["Banner", "static_dir"]

STATIC_FILES = ("banner.js", "banner.css")
_MAX_SNIPPETS = 1024  # banner states kept rendered


def static_dir() -> Path:
    """`static/banner/`: inside the installed wheel, or at the top of a source checkout."""
    packaged = Path(str(resources.files("consent_gate"))) / "static" / "banner"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "static" / "banner"


def _environment(templates: str) -> Environment:
    """Jinja2, imported here rather than with the module: it costs ~25 ms to import, and only
    building a gate needs it."""
    from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined

    ours = PackageLoader("consent_gate", "templates")
    return Environment(
        # The site's templates (`[pages] templates`) first: it may override any of ours.
        loader=ChoiceLoader([FileSystemLoader(templates), ours]) if templates else ours,
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _texts(lang: str, overrides: dict[str, str]) -> dict[str, Any]:
    """A language's texts with the site's `[texts.<lang>]` overrides applied."""
    merged = copy.deepcopy(i18n.locale(lang))
    for key, value in overrides.items():
        *sections, last = key.split(".")
        table = merged
        for section in sections:
            table = table[section]
        table[last] = value
    return merged


@dataclass(frozen=True)
class _ServiceChoice:
    id: str
    name: str
    checked: bool


@dataclass(frozen=True)
class _Choice:
    id: str
    title: str
    description: str
    required: bool
    checked: bool
    locked: bool  # refused by an honoured opt-out signal (GPC)
    sale_sharing: bool  # GPC would lock it: banner.js locks it when only the page sees GPC
    services: tuple[_ServiceChoice, ...] = ()

    @property
    def mixed(self) -> bool:
        """Some of its services on, some off: the category's switch says so."""
        return len({s.checked for s in self.services}) > 1


class Banner:
    """Everything the visitor sees of the gate, rendered from one policy."""

    def __init__(self, policy: Policy, cookie_rules: CookieRules) -> None:
        self.policy = policy
        self.languages = policy.banner.languages
        self.default_lang = policy.banner.default_language
        self.page_language = policy.banner.page_language
        self._texts = {
            lang: _texts(lang, dict(policy.texts.get(lang, {}))) for lang in self.languages
        }
        self.endpoint = f"{policy.prefix}/consent"
        self.preferences_url = f"{policy.prefix}/preferences"
        self.dialog_url = f"{policy.prefix}/dialog"
        self.policy_url = f"{policy.prefix}/policy"
        self.static_url = f"{policy.prefix}/static"
        asked = set(policy.asked_categories)
        # What the visitor sees: necessary categories, and those with a service in them.
        self._asked = tuple(c for c in policy.categories if c.required or c.id in asked)
        # The services the dialog offers one by one, under their optional category.
        self.shown_services: dict[str, tuple[Service, ...]] = {
            c.id: tuple(s for s in policy.listed_services if s.category == c.id)
            for c in self._asked
            if not c.required
        }
        listed = {
            category: [[s.id, s.name] for s in services]
            for category, services in self.shown_services.items()
            if services
        }
        directory = static_dir()
        # What the gate serves under static/: the files, the site's brand colours in the CSS.
        cookie_patterns = {
            service: [category, sorted(set(names))]
            for service, (category, names) in cookie_rules.by_service.items()
        }
        self.static_files = {name: (directory / name).read_bytes() for name in STATIC_FILES}
        self.static_files["banner.css"] += brand_css(policy.banner.brand).encode()
        # What banner.js needs that depends only on the policy: cached with the file.
        self.static_files["banner.js"] = (
            self.static_files["banner.js"].rstrip()
            # The dialog's service switches, built by banner.js: [[id, name], ...] per category.
            + f"({js_value({'cookies': cookie_patterns, 'listed': listed})});\n".encode()
        )
        digest = hashlib.sha256()
        for body in self.static_files.values():
            digest.update(body)
        self.static_version = digest.hexdigest()[:12]
        self._env = _environment(policy.pages.templates)
        self._snippet = self._env.get_template("banner.html")
        self._preferences = self._env.get_template("preferences.html")
        self._dialog = self._env.get_template("_dialog.html")
        self._policy_page = self._env.get_template("policy.html")
        self._placeholder = self._env.get_template("placeholder.html")
        self._gpc_honoured = policy.gpc.stance == "honour"
        self._sale_sharing = policy.gpc.sale_sharing if self._gpc_honoured else ()
        self._holes = Holes(next=_text, next_quoted=_quoted, nonce=_nonce_attribute)
        self._snippets: dict[tuple[object, ...], Slotted] = {}
        self._placeholders: dict[tuple[Match, str, bool], Slotted] = {}
        # Browsers send a handful of Accept-Language values: negotiated once each.
        self._negotiated = lru_cache(maxsize=256)(self._negotiate)

    def language(
        self, accept_language: bytes | None, hint: str | None = None, asked: str | None = None
    ) -> str:
        """The language for one request: `asked` (a `lang` parameter) if offered, else the
        best offered `Accept-Language` range, else the page's `hint`, else the default. With
        `[banner] page_language`, an offered `hint` comes before the header."""
        if asked in self._texts:
            return asked
        if hint and self.page_language:
            primary = hint.lower().split("-")[0]
            if primary in self._texts:
                return primary
        return self._negotiated(accept_language, hint)

    def _negotiate(self, accept_language: bytes | None, hint: str | None) -> str:
        header = accept_language.decode("latin-1") if accept_language else ""
        ranges = i18n.parse_accept_language(header) if header else ()
        return i18n.negotiate(ranges, self.languages, self.default_lang, hint)

    def snippet(
        self,
        consent: Consent,
        *,
        next_url: str,
        prompt: bool,
        lang: str | None = None,
        nonce: str | None = None,
        origin: str = "",
    ) -> str:
        """The markup injected into a page: banner (when `prompt`), dialog and settings link.
        `nonce`: the response's CSP nonce, for the banner's script. `origin`: the page's, for
        a page whose `<base href>` would take the gate's own URLs elsewhere (made afresh)."""
        lang = lang or self.default_lang
        holes = {"next": next_url, "next_quoted": next_url, "nonce": nonce or ""}
        if origin:
            return self._render_snippet(consent, lang, prompt, origin).fill(holes)
        key = (lang, prompt, consent.state)
        cached = self._snippets.get(key)
        if cached is None:
            if len(self._snippets) >= _MAX_SNIPPETS:
                self._snippets.clear()  # per-service choices make many states possible
            cached = self._snippets[key] = self._render_snippet(consent, lang, prompt)
        return cached.fill(holes)

    def _render_snippet(
        self, consent: Consent, lang: str, prompt: bool, origin: str = ""
    ) -> Slotted:
        markers = self._holes.markers
        rendered = self._snippet.render(
            self._context(consent, dialog=True, lang=lang, origin=origin, **markers),
            prompt=prompt,
            config=self._config(consent, origin),
        )
        return self._holes.cut(rendered)

    def first_layer(self, lang: str | None = None) -> str:
        """The snippet a visitor sees before deciding, for the page "/" and without a nonce:
        what the log archives as the banner version, one per language whatever the state."""
        undecided = Consent(
            {c.id: c.required for c in self.policy.categories}, self.policy.revision
        )
        return self.snippet(undecided, next_url="/", prompt=True, lang=lang)

    def dialog(self, consent: Consent, *, next_url: str, lang: str | None = None) -> str:
        """The preferences dialog alone, for banner.js to fetch when a visitor who has decided
        opens it: their pages carry only the "Cookie settings" link, not the whole dialog."""
        return self._dialog.render(self._form_context(consent, True, next_url, lang))

    def preferences_page(
        self, consent: Consent, *, next_url: str, message: str = "", lang: str | None = None
    ) -> str:
        context = self._form_context(consent, False, next_url, lang)
        return self._preferences.render(context, message=message)

    def policy_page(self, consent: Consent, lang: str | None = None) -> str:
        context = self._context(consent, dialog=False, lang=lang or self.default_lang)
        return self._policy_page.render(context, services=self._services())

    def placeholder(
        self,
        match: Match,
        *,
        next_url: str,
        lang: str | None = None,
        locked: bool = False,
        origin: str = "",
    ) -> str:
        """A small page shown inside a held-back frame, escaped for a srcdoc attribute: what is
        held and who provides it, "load once" (banner.js shows it) and "allow" (a form, so it
        works without JavaScript); a `locked` category (GPC) gets the opt-out notice instead.
        It takes banner.css (from the browser's cache), so it follows the theme and brand.
        `origin`: the page's, after a `<base href>` (which a srcdoc document takes on)."""
        lang = lang or self.default_lang
        cached = None if origin else self._placeholders.get((match, lang, locked))
        if cached is None:
            service = next((s for s in self.policy.services if s.id == match.service), None)
            category = self.policy.category(match.category)
            title = self.category_text(category, "title", lang)
            t = self._texts[lang]["placeholder"]
            html = self._placeholder.render(
                lang=lang,
                dir=i18n.direction(lang),
                t=t,
                p=self._texts[lang]["policy"],
                service=service,
                category_title=title,
                blocked=t["blocked"].format(
                    service=service.name if service else title, category=title
                ),
                allow=(
                    t["allow_service"].format(service=service.name)
                    if service
                    else t["allow"].format(category=title)
                ),
                category=category.id,
                endpoint=origin + self.endpoint,
                static=origin + self.static_url,
                version=self.static_version,
                theme=self.policy.banner.theme,
                next=self._holes.markers["next"],
                gpc=self._texts[lang]["banner"]["gpc_honoured"] if locked else "",
            )
            # Escaped once more for the srcdoc attribute, the page address with it.
            cached = self._holes.cut(str(escape(html)), escape_markers=1)
            if not origin:
                self._placeholders[(match, lang, locked)] = cached
        return cached.fill({"next": next_url})

    def policy_json(self) -> dict[str, Any]:
        """The machine-readable policy, DNT and GPC stances included."""
        policy = self.policy
        texts = self._texts[self.default_lang]["policy"]
        return {
            "revision": policy.revision,
            "site": {"name": policy.site_name, "contact": policy.contact},
            "do_not_track": {
                "honoured": policy.dnt == "honour",
                "statement": texts[f"dnt_{policy.dnt}"],
            },
            "global_privacy_control": {
                "honoured": self._gpc_honoured,
                "sale_sharing": list(self._sale_sharing),
                "statement": texts[f"gpc_{policy.gpc.stance}"],
            },
            "consent_cookie": {
                "name": policy.cookie_name,
                "name_on_https": HOST_PREFIX + policy.cookie_name,
                "max_age_seconds": policy.max_age,
            },
            "categories": [
                {
                    "id": c.id,
                    "title": c.title,
                    "description": c.description,
                    "required": c.required,
                }
                for c in self._asked
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

    def category_text(
        self, category: Category, key: Literal["title", "description"], lang: str
    ) -> str:
        """A category's text: the site's `[texts.<lang>]` override first, then `Category.text`."""
        override = self.policy.texts.get(lang, {}).get(f"categories.{category.id}.{key}")
        return override or category.text(key, lang)

    def _form_context(
        self, consent: Consent, dialog: bool, next_url: str, lang: str | None
    ) -> dict[str, Any]:
        """For the choices rendered per request: they go back to `next_url` once saved."""
        return self._context(
            consent,
            dialog=dialog,
            lang=lang or self.default_lang,
            next=next_url,
            next_quoted=quote(next_url, safe="/"),
        )

    def _context(
        self,
        consent: Consent,
        *,
        dialog: bool,
        lang: str,
        next: str = "",
        next_quoted: str = "",
        nonce: str = "",
        origin: str = "",
    ) -> dict[str, Any]:
        settings = self.policy.banner
        return {
            "lang": lang,
            "dir": i18n.direction(lang),
            "t": self._texts[lang],
            "months": round(self.policy.max_age / (30 * 86400)),
            "category_text": self.category_text,
            "policy": self.policy,
            "consent": consent,
            "dialog": dialog,
            "decided": consent.decided,
            "categories": [
                _Choice(
                    c.id,
                    self.category_text(c, "title", lang),
                    self.category_text(c, "description", lang),
                    c.required,
                    c.required or consent.allows(c.id),
                    c.id in consent.locked,
                    c.id in self._sale_sharing,
                    tuple(
                        _ServiceChoice(s.id, s.name, consent.allows_service(s.id))
                        for s in self.shown_services.get(c.id, ())
                    ),
                )
                for c in self._asked
            ],
            "locked": bool(consent.locked),
            "gpc_honoured": self._gpc_honoured,
            "gpc_applied": consent.signals.get("gpc") == "honoured",
            "endpoint": origin + self.endpoint,
            "preferences_url": origin + self.preferences_url,
            "dialog_url": origin + self.dialog_url,
            "policy_url": origin + self.policy_url,
            "static": origin + self.static_url,
            "version": self.static_version,
            "next": next,
            "next_quoted": next_quoted,
            "nonce": nonce,
            "layout": settings.layout,
            "position": settings.placement,
            "theme": settings.theme,
            "settings_button": settings.settings_button,
            "site_stylesheet": self.policy.pages.stylesheet,
        }

    def _config(self, consent: Consent, origin: str = "") -> dict[str, Any]:
        return {
            "endpoint": origin + self.endpoint,
            "decided": consent.decided,
            "choices": {c: consent.allows(c) for c in self.policy.optional_categories},
            "services": dict(consent.services),
            "revision": self.policy.revision,
            # banner.js reports navigator.globalPrivacyControl when no header told the server.
            "gpc": {
                "honoured": self._gpc_honoured,
                "applied": consent.signals.get("gpc") == "honoured",
                "categories": list(self._sale_sharing),
            },
            # An enforced CSP was built for the old choice: newly allowed hosts need a new page.
            "reloadOnAllow": self.policy.csp.mode == "enforce",
        }

    def _services(self) -> list[tuple[Any, list[Any]]]:
        listed = self.policy.listed_services
        return [(c, [s for s in listed if s.category == c.id]) for c in self._asked]


def _text(value: str) -> str:
    return str(escape(value))


@lru_cache(maxsize=1024)  # a page's address, on each of its requests
def _quoted(value: str) -> str:
    return str(escape(quote(value, safe="/")))


def _nonce_attribute(value: str) -> str:
    return f' nonce="{escape(value)}"' if value else ""
