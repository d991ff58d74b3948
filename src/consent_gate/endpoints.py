"""The gate's own endpoints: record a choice, and the pages and assets generated from the policy.

A choice arrives as an HTML form (works without JavaScript: 303 back to the page) or as JSON
from the banner. Cross-site requests are refused, and every malformed request gets a 400 that
says what is wrong - never a 500.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
from typing import Any
from urllib.parse import SplitResult, parse_qs, parse_qsl, urlsplit

from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.responses import Response as StarletteResponse

from . import evidence
from ._types import Headers, Receive, Scope, Send
from .assets import Asset, Assets
from .banner import Banner
from .consent import ACTIONS, Consent, ConsentCodec, ReadConsent, TooManyServicesError
from .cookies import CookieRules, expire_headers
from .http import content_type, cookie_names, header, origin_of
from .policy import Policy
from .reports import Reports
from .routing import NO_STORE, GateRoute, RequestError, missing, mounted
from .signals import PrivacySignals
from .storage.journal import JournalError
from .storage.log import ConsentLog

__all__ = ["Endpoints", "RequestError", "safe_next"]

MAX_BODY = 16 * 1024
MAX_REPORT = 64 * 1024  # browsers batch reports
BODY_SECONDS = 10.0  # for the whole body: a browser sends a choice or a report at once
_ACTIONS = (*ACTIONS, "allow", "gpc")
_SURROGATE = re.compile("[\ud800-\udfff]")
# How a choice was given, from the transport and the `via` field the gate's own UI sends.
_FORM_METHODS = {"banner": "form", "preferences": "preferences", "placeholder": "placeholder"}
_JSON_METHODS = {
    "banner": "banner",
    "placeholder": "placeholder",
    "script": "script",
    "gpc": "gpc-js",
}


class Endpoints:
    """The gate's routes under `{prefix}/`; everything is prepared once, at start-up."""

    def __init__(
        self,
        policy: Policy,
        codec: ConsentCodec,
        cookie_rules: CookieRules,
        banner: Banner,
        assets: Assets,
        read: ReadConsent,
        log: ConsentLog | None = None,
        reports: Reports | None = None,
        reports_token: str | None = None,
        signals: PrivacySignals | None = None,
    ) -> None:
        self.policy = policy
        self.signals = signals if signals is not None else PrivacySignals(policy, codec, log)
        self.log = log
        self.reports = reports if reports is not None else Reports()
        self._reports_token = reports_token.encode() if reports_token else None
        self.read = read
        self.codec = codec
        self.cookie_rules = cookie_rules
        self.banner = banner
        self.assets = assets
        self._policy_json = json.dumps(banner.policy_json(), indent=2).encode()
        self._optional = set(policy.optional_categories)
        self._category_of = {s.id: s.category for s in policy.services}
        self._budget = evidence.Budget(policy.log.per_minute, "decisions")
        # The most asked first (the router tries them in turn): browsers' reports and the
        # banner's files. Kinds and files are looked up per request (they may come later).
        routes = [
            GateRoute("/reports/{kind}", self._report, ["POST"], self.reports.__contains__),
            GateRoute("/static/{name:path}", self._static, exists=assets.__contains__),
            GateRoute("/consent", self._decide, ["POST"]),
            GateRoute("/dialog", self._dialog),
            GateRoute("/preferences", self._preferences),
            GateRoute("/policy", self._policy_page),
            GateRoute("/policy.json", self._policy_document),
        ]
        if self._reports_token is not None:  # without a token the summary is not served
            routes.append(GateRoute("/reports", self._summary))
        self.router = mounted(policy.prefix, routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The router gets a copy, so what it notes in the scope stays out of the caller's. Its
        # root_path is left out: the gate took the request for its prefix by the whole path
        # (a gate mounted under /shop serves, and links, a prefix such as /shop/consent-gate),
        # and Starlette's routes would match what follows root_path instead.
        await self.router({**scope, "root_path": ""}, receive, send)

    async def _preferences(self, scope: Scope, receive: Receive) -> StarletteResponse:
        consent, query, lang = self._page_request(scope)
        next_url = safe_next(query.get("next"), scope)
        page = self.banner.preferences_page(consent, next_url=next_url, lang=lang)
        return HTMLResponse(page, headers=NO_STORE)

    async def _dialog(self, scope: Scope, receive: Receive) -> StarletteResponse:
        consent, query, lang = self._page_request(scope)
        next_url = safe_next(query.get("next"), scope)
        dialog = self.banner.dialog(consent, next_url=next_url, lang=lang)
        return HTMLResponse(dialog, headers=NO_STORE)

    async def _policy_page(self, scope: Scope, receive: Receive) -> StarletteResponse:
        consent, _, lang = self._page_request(scope)
        return HTMLResponse(self.banner.policy_page(consent, lang), headers=NO_STORE)

    async def _policy_document(self, scope: Scope, receive: Receive) -> StarletteResponse:
        return StarletteResponse(self._policy_json, media_type="application/json")

    async def _summary(self, scope: Scope, receive: Receive) -> StarletteResponse:
        """For the site owner: without the token the gate was given, it is not there."""
        if not self._may_read_reports(scope["headers"]):
            return missing()
        return JSONResponse(self.reports.summary(), headers=NO_STORE)

    async def _static(self, scope: Scope, receive: Receive) -> StarletteResponse:
        asset = self.assets[scope["path_params"]["name"]]
        versioned = _query(scope).get("v") == asset.version
        return _file(asset, versioned, scope["headers"])

    def _page_request(self, scope: Scope) -> tuple[Consent, dict[str, str], str]:
        """What a page of the gate's is made for: the visitor's consent, the query, and the
        language (`?lang=` first, then Accept-Language)."""
        consent = self.read(scope["headers"], secure=scope.get("scheme") == "https")
        query = _query(scope)
        accept_language = header(scope["headers"], b"accept-language")
        return consent, query, self.banner.language(accept_language, None, query.get("lang"))

    async def _decide(self, scope: Scope, receive: Receive) -> StarletteResponse:
        headers: Headers = scope["headers"]
        current = self.read(headers, secure=scope.get("scheme") == "https")
        _refuse_cross_site(scope)
        media, _ = content_type(header(headers, b"content-type"))
        body = await _read_body(receive)
        next_url: str | None = None
        gpc_reported = False
        if media == "application/json":
            action, categories, services, via, gpc_reported = _from_json(body)
            method = _JSON_METHODS.get(via, "api")
        elif media == "application/x-www-form-urlencoded":
            action, categories, services, next_url, via = _from_form(body)
            method = _FORM_METHODS.get(via, "form")
        else:
            raise RequestError(
                "send the choice as application/json or an HTML form "
                "(application/x-www-form-urlencoded)",
                415,
            )
        accepted = self._accepted(action, categories, services, current)
        apart = self._apart(action, accepted, services or [], current)
        signals = self.signals.present(headers, gpc_reported or action == "gpc")
        try:
            if signals.get("gpc") != "honoured":
                if action == "gpc":
                    raise RequestError("this site does not honour Global Privacy Control")
                consent = self.codec.decide(accepted, services=apart, signals=signals)
            elif action == "gpc":
                consent = self.codec.opt_out(current, self.signals.sale_sharing, signals)
                action = "gpc_opt_out"
            else:  # GPC never counts as consent: its categories stay refused whatever is chosen
                consent = self.codec.decide(
                    accepted - self.signals.sale_sharing,
                    services=self._outside(apart, self.signals.sale_sharing),
                    signals=signals,
                )
        except TooManyServicesError as exc:
            raise RequestError(str(exc)) from None
        target = safe_next(next_url, scope) if next_url else _referer_path(scope)
        if self.log is not None:
            if not self._budget.allow(scope):
                raise RequestError(
                    "too many decisions from your address; try again in a minute", 429
                )
            client = scope.get("client")
            try:  # journaled (and with fsync on, on disk) before it is acknowledged
                self.log.record(
                    consent,
                    action=action,
                    method=method,
                    page=evidence.page(target),
                    previous=current,
                    headers=evidence.headers(headers),
                    client=client[0] if client else None,
                )
                await self.log.durable()
            except JournalError:  # logged by the log; a decision it cannot keep is not taken
                raise RequestError(
                    "the decision could not be recorded; please try again later", 503
                ) from None
        cookie = self.codec.set_cookie(consent, secure=scope.get("scheme") == "https")
        refused = self.cookie_rules.refused(cookie_names(headers), consent.held)
        host = (header(headers, b"host") or b"").decode("latin-1")
        set_cookies = [cookie, *expire_headers(refused, host, self.policy.site_domains)]
        if media == "application/json":
            response: StarletteResponse = JSONResponse(
                {
                    "decided": consent.decided,
                    "action": action,
                    "id": consent.id,
                    "choices": {c: consent.allows(c) for c in self.policy.optional_categories},
                    "services": dict(consent.services),
                    "signals": dict(consent.signals),
                    "revision": consent.revision,
                },
                headers=NO_STORE,
            )
        else:
            response = RedirectResponse(target, status_code=303, headers=NO_STORE)
        for line in set_cookies:
            response.raw_headers.append((b"set-cookie", line))
        return response

    async def _report(self, scope: Scope, receive: Receive) -> StarletteResponse:
        kind: str = scope["path_params"]["kind"]
        client = scope.get("client")
        if not self.reports.rate_limit.allow(client[0] if client else ""):
            raise RequestError("too many reports; try again later", 429)
        body = await _read_body(receive, MAX_REPORT)
        try:
            self.reports.receive(kind, _parse_json(body), scope["headers"])
        except (ValueError, RecursionError) as exc:
            raise RequestError(f"not a {kind} report: {exc}") from None
        return StarletteResponse(status_code=204, headers=NO_STORE)

    def _may_read_reports(self, headers: Headers) -> bool:
        """The summary is for the site owner: it needs the token the gate was given."""
        if self._reports_token is None:
            return False
        given = header(headers, b"authorization") or b""
        return hmac.compare_digest(given, b"Bearer " + self._reports_token)

    def _accepted(
        self,
        action: str,
        categories: list[str] | None,
        services: list[str] | None,
        current: Consent,
    ) -> set[str]:
        if action not in _ACTIONS:
            raise RequestError(f"unknown action {action!r}; use one of {', '.join(_ACTIONS)}")
        chosen = set(categories or ())
        known = {c.id for c in self.policy.categories}
        unknown = sorted(chosen - known)
        if unknown:
            raise RequestError(f"unknown categories: {', '.join(unknown)}")
        unknown = sorted(set(services or ()) - self._category_of.keys())
        if unknown:
            raise RequestError(f"unknown services: {', '.join(unknown)}")
        chosen &= self._optional  # required ones are on anyway
        if action == "accept_all":
            return set(self._optional)
        if action in ("reject_all", "withdraw", "gpc"):
            return set()
        if action == "allow":
            if not chosen and not services:
                raise RequestError("'allow' needs at least one category or service")
            return {c for c in self._optional if current.allows(c)} | chosen
        return chosen

    def _apart(
        self, action: str, accepted: set[str], services: list[str], current: Consent
    ) -> dict[str, bool]:
        """The services chosen apart from their category. "allow" adds its services to the
        visitor's; "save" reads the dialog's switches: under an allowed category whose
        services are all off, the category speaks for them (a switched-on category without
        JavaScript); else each service shown is on or off as its switch is. Choices of
        services the dialog does not show (a placeholder's) are kept."""
        given = set(services)
        if action == "allow":
            return {**current.services, **dict.fromkeys(given, True)}
        if action != "save":
            return {}
        shown_ids = {s.id for shown in self.banner.shown_services.values() for s in shown}
        apart = {s: ok for s, ok in current.services.items() if s not in shown_ids}
        for category, shown in self.banner.shown_services.items():
            ids = [s.id for s in shown]
            if category in accepted and not given.intersection(ids):
                continue
            apart.update({s: s in given for s in ids})
        return apart

    def _outside(self, services: dict[str, bool], categories: frozenset[str]) -> dict[str, bool]:
        """`services` but grants within `categories` (an opt-out signal refuses them)."""
        category = self._category_of
        return {s: ok for s, ok in services.items() if not ok or category[s] not in categories}


def safe_next(value: str | None, scope: Scope) -> str:
    """A same-origin path to go back to; anything else (other hosts, schemes) becomes "/"."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def _query(scope: Scope) -> dict[str, str]:
    return dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))


def _referer_path(scope: Scope) -> str:
    referer = header(scope["headers"], b"referer")
    if referer is None:
        return "/"
    parts = urlsplit(referer.decode("latin-1"))
    if not _same_origin(parts, scope):
        return "/"
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""), scope)


def _same_origin(parts: SplitResult, scope: Scope) -> bool:
    return f"{parts.scheme}://{parts.netloc}".lower() == origin_of(scope)


def _refuse_cross_site(scope: Scope) -> None:
    """Only the site's own pages may record a choice (no CSRF consent, no consent forcing)."""
    headers: Headers = scope["headers"]
    site = header(headers, b"sec-fetch-site")
    if site is not None and site not in (b"same-origin", b"none"):
        raise RequestError("cross-site consent requests are refused", 403)
    origin = header(headers, b"origin")
    if origin == b"null" and site == b"same-origin":
        return  # a same-origin form post from a page with Referrer-Policy: no-referrer
    if origin is not None:
        if origin.decode("latin-1").lower() != origin_of(scope):
            raise RequestError("cross-origin consent requests are refused", 403)
        return
    referer = header(headers, b"referer")
    if referer is not None and not _same_origin(urlsplit(referer.decode("latin-1")), scope):
        raise RequestError("cross-origin consent requests are refused", 403)


def _file(asset: Asset, versioned: bool, headers: Headers) -> StarletteResponse:
    """A file of the gate's: cached for good under its current version, else revalidated."""
    cache = {
        "cache-control": "public, max-age=31536000, immutable" if versioned else "no-cache",
        "vary": "Accept-Encoding",
    }
    if _takes_gzip(header(headers, b"accept-encoding") or b""):
        cache["content-encoding"] = "gzip"
        return StarletteResponse(asset.gzipped, media_type=asset.media, headers=cache)
    return StarletteResponse(asset.body, media_type=asset.media, headers=cache)


def _takes_gzip(accept_encoding: bytes) -> bool:
    """Whether the browser takes gzip: named (or `*`) without `q=0`."""
    for item in accept_encoding.lower().split(b","):
        coding, _, params = item.partition(b";")
        if coding.strip() in (b"gzip", b"*"):
            weight = params.strip().removeprefix(b"q=")
            return not weight or weight.strip(b"0.") != b""
    return False


async def _read_body(receive: Receive, limit: int = MAX_BODY) -> bytes:
    """The whole body, bounded in size and in time: a stalled or dripping body would otherwise
    hold its connection and task open for as long as the client likes."""
    try:
        async with asyncio.timeout(BODY_SECONDS):
            return await _read_chunks(receive, limit)
    except TimeoutError:
        raise RequestError(
            f"the request body did not arrive within {BODY_SECONDS:g} seconds", 408
        ) from None


async def _read_chunks(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RequestError("the client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise RequestError(f"the request body is larger than {limit} bytes", 413)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _parse_json(body: bytes) -> Any:
    """JSON in UTF-8 that holds text only: ValueError otherwise, RecursionError if too deep.

    `json.loads` turns a `\\ud800` escape (and, given bytes, an encoded surrogate) into a lone
    surrogate, which no encoder takes: echoed in an error message or kept in a report, it
    would make a 500 of every response that carries it.
    """
    data = json.loads(body.decode("utf-8"))
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise ValueError("a string holds a lone UTF-16 surrogate (such as \\ud800)")
        elif isinstance(item, dict):
            stack += item.keys()
            stack += item.values()
        elif isinstance(item, list):
            stack += item
    return data


def _from_json(body: bytes) -> tuple[str, list[str] | None, list[str] | None, str, bool]:
    try:
        data: Any = _parse_json(body)
    except (ValueError, RecursionError) as exc:  # too deeply nested: RecursionError
        raise RequestError(f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RequestError('expected a JSON object like {"action": "save", "categories": [...]}')
    action = data.get("action")
    if not isinstance(action, str):
        raise RequestError('"action" must be a string')
    categories = data.get("categories")
    if categories is not None and (
        not isinstance(categories, list) or not all(isinstance(c, str) for c in categories)
    ):
        raise RequestError('"categories" must be a list of category ids')
    services = data.get("services")
    if services is not None and (
        not isinstance(services, list) or not all(isinstance(s, str) for s in services)
    ):
        raise RequestError('"services" must be a list of service ids')
    via = data.get("via")
    # banner.js reports `navigator.globalPrivacyControl`: a proxy may have stripped Sec-GPC.
    gpc = data.get("gpc") is True
    return action, categories, services, via if isinstance(via, str) else "", gpc


def _from_form(body: bytes) -> tuple[str, list[str], list[str], str | None, str]:
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise RequestError(f"the form could not be read: {exc}") from None
    actions = fields.get("action", [])
    if len(actions) != 1:
        raise RequestError("the form needs exactly one 'action' field")
    next_values = fields.get("next", [])
    via = fields.get("via", [""])[0]
    next_url = next_values[0] if next_values else None
    return actions[0], fields.get("category", []), fields.get("service", []), next_url, via
