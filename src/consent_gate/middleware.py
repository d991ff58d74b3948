"""The gate: a pure ASGI middleware wiring the policy, the consent cookie and the rewriter.

Per request it reads one cookie (verified once per value) and hands the response to a
`response.Responder`: HTML is decided once and streamed through the rewriter and the banner
injector; everything else passes through untouched, except Set-Cookie headers of refused
categories, which never reach the browser.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from . import bots, fingerprint, runtime
from ._types import ASGIApp, Headers, Message, Receive, Scope, Send
from .assets import Assets
from .banner import Banner
from .consent import Consent, ConsentCodec
from .consent_mode import ConsentMode, consent_aware
from .cookies import CookieRules
from .csp import Csp
from .errors import ConfigError, ConfigTypeError, NotGatedError
from .head import HeadScripts
from .http import cookie_values, lower_names
from .page_gate import OncePerPath, PageGate
from .policy import Policy, is_dsn
from .reports import Reports
from .response import Responder
from .rules import Rules
from .secret import weak_key_warnings
from .signals import PrivacySignals
from .storage import redacted
from .unknown import UnknownParties

if TYPE_CHECKING:
    from .endpoints import Endpoints
    from .storage.log import ConsentLog, StoreFactory
    from .storage.report_flush import ReportFlusher

__all__ = ["ConsentGate", "consent_of"]

logger = logging.getLogger("consent_gate")

# ASGI extensions that send a body other than in body messages: a file by path or descriptor.
_BODY_ELSEWHERE = frozenset({"http.response.pathsend", "http.response.zerocopysend"})


class ConsentGate:
    """Wraps an ASGI app so no tracker of a refused category runs, loads or sets a cookie."""

    def __init__(
        self,
        app: ASGIApp,
        secret_key: str | bytes | Sequence[str | bytes],
        policy: Policy | str | os.PathLike[str] | None = None,
        store: str | StoreFactory | None = None,
        reports_token: str | None = None,
    ) -> None:
        """`policy`: a `Policy` or the path of its TOML file (default: `Policy.default()`).
        `store`: a DSN or a store factory instead of the policy's `[log] dsn`.
        `reports_token`: lets `GET {prefix}/reports` with `Authorization: Bearer <token>` read
        what browsers reported (without it, reports are only logged)."""
        self.app = app
        self.policy = _policy(policy)
        self.codec = ConsentCodec(secret_key, self.policy)
        for warning in weak_key_warnings(secret_key):
            logger.warning("consent_gate: %s", warning)
        _check_store(store)
        self.reports = Reports(self.policy.reports.per_minute, self.policy.reports.max_entries)
        self.rules = Rules(
            self.policy, consent_aware(self.policy), UnknownParties(self.policy, self.reports)
        )
        self.cookie_rules = CookieRules(self.policy)
        self.banner = Banner(self.policy, self.cookie_rules)
        self.log = _consent_log(self.policy, self.banner, store)
        if self.policy.banner.hide_from_bots:
            bots.prepare()
        self.report_flusher = _report_flusher(self.policy, self.log, self.reports)
        self.head = HeadScripts()
        if self.policy.google_consent_mode.enabled:
            self.head.add(ConsentMode(self.policy))
        self.assets = Assets(self.policy.prefix)
        for name, body in self.banner.static_files.items():
            self.assets.add(name, body, self.banner.static_version)
        fingerprint.install(self.policy, self.head, self.reports, self.assets)
        self.signals = PrivacySignals(self.policy, self.codec, self.log)
        # What a rewritten page depends on besides its URL: caches must key on all of it.
        self.vary = [b"Cookie", b"Accept-Language"]
        if self.policy.gpc.stance == "honour":
            self.vary.append(b"Sec-GPC")
        if self.policy.dnt == "honour":
            self.vary.append(b"DNT")
        self.csp = Csp(self.policy)
        # Last: it wraps what the parts before it patched (fetch), and ends the head script.
        runtime.install(self.policy, self.rules, self.csp.enabled, self.head, self.assets)
        if self.csp.enabled:
            self.reports.register(self.csp.report_kind(self.read))
        self.endpoints = _endpoints()(
            self.policy,
            self.codec,
            self.cookie_rules,
            self.banner,
            self.assets,
            self.read,
            self.log,
            self.reports,
            reports_token,
            self.signals,
        )
        # What a response may use of the gate, and nothing more.
        self.page = PageGate(
            cookie_rules=self.cookie_rules,
            rules=self.rules,
            banner=self.banner,
            head=self.head,
            csp=self.csp,
            signals=self.signals,
            undecided=self.codec.undecided,
            hide_from_bots=self.policy.banner.hide_from_bots,
            asked=frozenset(self.policy.asked_categories),  # derived from every service
            vary=tuple(self.vary),
            site_domains=tuple(self.policy.site_domains),
            unrewritable=OncePerPath(logger),
        )
        self._excluded = _paths(self.policy.exclude)
        self._prefix = self.policy.prefix
        self._well_known = self.signals.served
        self._cookie_names = {
            secure: self.codec.cookie_name(secure=secure).encode("latin-1")
            for secure in (False, True)
        }
        # When built rather than at lifespan start-up: not every server runs lifespan (Django's
        # ASGI handler does not), and a wrong argument fails here too.
        logger.info("consent_gate: %s", self.describe())

    def describe(self) -> str:
        """What the gate does, logged once: the first place to look when a page is not gated
        as expected or decisions are not where they should be."""
        policy = self.policy
        gpc = policy.gpc
        return "; ".join(
            [
                f"active, endpoints under {policy.prefix}",
                f"policy revision {policy.revision}",
                f"CSP {policy.csp.mode}",
                f"Do Not Track {'honoured' if policy.dnt == 'honour' else 'ignored'}",
                "Global Privacy Control "
                + (
                    f"honoured for {', '.join(gpc.sale_sharing)}"
                    if gpc.stance == "honour"
                    else "ignored"
                ),
                f"consent log to {self.log.where}" if self.log else "consent log off",
            ]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan" and self.log is not None:
                receive = _lifespan(self.log, receive, send, self.report_flusher)
            await self.app(scope, receive, send)
            return
        headers = scope["headers"] = lower_names(scope["headers"])
        path: str = scope["path"]
        if path.startswith(self._prefix) and path[len(self._prefix) : len(self._prefix) + 1] in (
            "",
            "/",
        ):
            await self.endpoints(scope, receive, send)
            return
        if path == self._well_known:
            await self.signals.well_known(scope, receive, send)
            return
        first = dict(reversed(headers))  # each name's first value, looked up in C from here
        consent = self._consent(headers, first, scope.get("scheme") == "https")
        scope["consent"] = consent
        if self._excluded is not None and self._excluded.fullmatch(path):
            # Left alone (the site's `exclude`), but for the cookie firewall.
            await self.app(
                scope, receive, Responder(self.page, scope, consent, send, rewrite=False).send
            )
            return
        scope["headers"] = _decodable_codings(headers, first)
        extensions = scope.get("extensions")
        if extensions and not _BODY_ELSEWHERE.isdisjoint(extensions):
            # The body must come as body messages for the rewriter to see it.
            extensions = dict(extensions)
            for name in _BODY_ELSEWHERE:
                extensions.pop(name, None)
            scope["extensions"] = extensions
        await self.app(scope, receive, Responder(self.page, scope, consent, send).send)

    def read(self, headers: Headers, *, secure: bool) -> Consent:
        """The visitor's consent from the request's cookie ("undecided" when there is none),
        with the privacy signals the policy honours applied. `secure`: an https request."""
        return self._consent(headers, dict(reversed(headers)), secure)

    def _consent(self, headers: Headers, first: Mapping[bytes, bytes], secure: bool) -> Consent:
        """`read`, given the first value of each header name too (`first`)."""
        if b"cookie" in first:
            consent = self.codec.from_cookies(cookie_values(headers, self._cookie_names[secure]))
        else:
            consent = self.codec.undecided
        return self.signals.apply(consent, first)


def consent_of(request: Any) -> Consent:
    """The visitor's consent for a request that carries its ASGI scope (Starlette, FastAPI,
    Django's ASGIRequest, Litestar, Quart) or for the scope itself."""
    scope = getattr(request, "scope", request)
    if not isinstance(scope, Mapping):  # a WSGI request (Django's runserver) has no scope
        raise NotGatedError(
            f"no ASGI scope on this {type(request).__name__}: ConsentGate is ASGI middleware, "
            "so serve the app through ASGI (Django: asgi.py under uvicorn, not runserver)"
        )
    try:
        consent: Consent = scope["consent"]
    except KeyError:
        raise NotGatedError("no consent in this scope: is ConsentGate wrapping the app?") from None
    return consent


def _lifespan(
    log: ConsentLog, receive: Receive, send: Send, reports: ReportFlusher | None = None
) -> Receive:
    """Open the log at start-up; write out its queue (and the report counts) before the app
    hears of shutdown.

    A log that cannot start fails the server's start-up: raising alone would not, since a
    server in its default lifespan mode takes an exception there for an app without lifespan
    support and serves on, answering every decision 503.
    """

    async def wrapped() -> Message:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await log.startup()
            except Exception as exc:
                text = f"consent_gate: the consent log cannot start: {exc}"
                await send({"type": "lifespan.startup.failed", "message": text})
                raise
        elif message["type"] == "lifespan.shutdown":
            await log.shutdown()
            if reports is not None:
                import asyncio  # loaded by the server already; not at the gate's import

                await asyncio.to_thread(reports.close)
        return message

    return wrapped


def _endpoints() -> type[Endpoints]:
    """The endpoints' module, imported when a gate is built: with Starlette's responses it
    costs ~80 ms, which `import consent_gate` alone should not pay."""
    from .endpoints import Endpoints

    return Endpoints


def _consent_log(
    policy: Policy, banner: Banner, store: str | StoreFactory | None
) -> ConsentLog | None:
    """The consent log, if the policy keeps one. Its modules (journal, writer process, stores)
    are imported here, when a gate is built, not with the gate's module."""
    if not policy.log.enabled:
        return None
    from .storage.log import ConsentLog, shown_version

    shown = {
        lang: shown_version(banner.first_layer(lang), banner.policy_json())
        for lang in dict.fromkeys([banner.default_lang, *banner.languages])
    }
    return ConsentLog(policy, shown, store)


def _report_flusher(
    policy: Policy, log: ConsentLog | None, reports: Reports
) -> ReportFlusher | None:
    """Reports also counted in the consent log's store, for one view of every process."""
    if log is None or not policy.reports.flush_seconds:
        return None
    from .storage.report_flush import ReportFlusher

    flusher = ReportFlusher(
        log.opener(),
        interval=policy.reports.flush_seconds,
        limit=policy.reports.max_entries,
        where=log.store,
    )
    reports.sink = flusher.add
    return flusher


def _policy(policy: object) -> Policy:
    """The `policy` argument: a `Policy`, the path of a TOML file, or None for the default."""
    if policy is None:
        return Policy.default()
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, str | os.PathLike):
        return Policy.from_toml(policy)
    raise ConfigTypeError(
        f"policy: expected a Policy or the path of a TOML file, got {type(policy).__name__}"
    )


def _check_store(store: object) -> None:
    """A wrong `store` fails here, naming it, not later in the writer once visitors decide."""
    if store is None or callable(store):
        return
    if not isinstance(store, str):
        raise ConfigTypeError(
            "store: expected a DSN ('sqlite:///path', 'postgresql://...') or a function that "
            f"returns a SqlStore, got {type(store).__name__}"
        )
    if not is_dsn(store):
        raise ConfigError(
            f"store: {redacted(store)!r} is not 'sqlite:///path' or 'postgresql://...'"
        )


def _paths(patterns: Sequence[str]) -> re.Pattern[str] | None:
    """One expression for the site's `exclude` patterns; `*` matches anything."""
    if not patterns:
        return None
    return re.compile("|".join(re.escape(p).replace(r"\*", ".*") for p in patterns))


def _decodable_codings(headers: Headers, first: Mapping[bytes, bytes]) -> Headers:
    """Ask the app for HTML only in codings the gate can undo (no br or zstd on navigations).
    `first`: each header name's first value."""
    accept = first.get(b"accept")
    coding = first.get(b"accept-encoding")  # the first one speaks for all, as servers read it
    if accept is None or coding is None:
        return headers
    value = _decodable(accept, coding)
    if value is None:
        return headers
    if len(first) == len(headers):  # no name repeated: the one line is replaced in C
        copy = list(headers)
        copy[copy.index((b"accept-encoding", coding))] = (b"accept-encoding", value)
        return copy
    return [(key, value) if key == b"accept-encoding" else (key, v) for key, v in headers]


@lru_cache(maxsize=64)
def _decodable(accept: bytes, coding: bytes) -> bytes | None:
    """For a request that accepts HTML, its Accept-Encoding value with only the codings the
    gate can undo; None if it has no other, or asks for no HTML (browsers send a handful of
    pairs: cached)."""
    if b"text/html" not in accept:
        return None
    parts = coding.split(b",")
    kept = [
        part.strip()
        for part in parts
        if part.split(b";")[0].strip().lower() in (b"gzip", b"x-gzip", b"deflate", b"identity")
    ]
    if len(kept) == len(parts):
        return None
    return b", ".join(kept) or b"identity"
