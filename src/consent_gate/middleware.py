"""The gate: a pure ASGI middleware wiring the policy, the consent cookie and the rewriter.

Per request it reads one cookie and looks up a cached blocker; per HTML response it streams the
body through the rewriter and the banner injector. Everything else passes through untouched,
except Set-Cookie headers of refused categories, which never reach the browser.
"""

from __future__ import annotations

import codecs
import logging
import os
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from . import bots, fingerprint, i18n, runtime
from ._types import ASGIApp, Headers, Message, Receive, Scope, Send
from .assets import Assets
from .banner import Banner
from .consent import Consent, ConsentCodec
from .consent_mode import ConsentMode, consent_aware
from .cookies import CookieRules, expire_headers
from .csp import Csp
from .errors import ConfigError, ConfigTypeError, NotGatedError
from .head import HeadScripts
from .html import BodyEndInjector, HeadStartInjector, HtmlRewriter
from .http import (
    Decoder,
    Encoder,
    ascii_compatible,
    content_type,
    cookie_names,
    cookie_values,
    header,
    lower_names,
)
from .links import held_links, held_refresh
from .policy import Policy, is_dsn
from .refusal import Refusal
from .reports import Reports
from .rules import Match, Rules
from .secret import weak_key_warnings
from .signals import PrivacySignals
from .storage import redacted
from .unknown import UnknownParties
from .urls import page_url

if TYPE_CHECKING:
    from .endpoints import Endpoints
    from .storage.log import ConsentLog, StoreFactory
    from .storage.report_flush import ReportFlusher

__all__ = ["ConsentGate", "consent_of"]

logger = logging.getLogger("consent_gate")

_CODINGS = {b"": None, b"identity": None, b"gzip": "gzip", b"x-gzip": "gzip", b"deflate": "deflate"}
_NO_BODY = {204, 206, 304}
_LOADING_HEADERS = {b"link", b"refresh"}
_MAX_NEXT = 1024
_DROPPED = {b"content-length", b"etag", b"last-modified"}
_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")  # UTF-16 and UTF-32
_UTF8_BOM = b"\xef\xbb\xbf"
_WIDE = "its first bytes (a BOM or <meta charset>) name a charset that is not ASCII-compatible"
_DOCUMENT = re.compile(rb"<(?:!doctype|html|head|body)[\s/>]", re.IGNORECASE)
# What makes a browser take a response without a Content-Type for HTML (WHATWG MIME Sniffing,
# "identifying an unknown MIME type"): one of these tags first, after white space.
_SNIFFED_HTML = re.compile(
    rb"[\t\n\x0c\r ]*+(?:<!--|<(?:!doctype html|html|head|script|iframe|h1|div|font|table|a"
    rb"|style|title|b|body|br|p)[ >])",
    re.IGNORECASE,
)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([a-z0-9_.:+-]+)")


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
        self.unrewritable = OncePerPath(logger)
        self._excluded = _paths(self.policy.exclude)
        self.asked = frozenset(self.policy.asked_categories)  # derived from every service
        self._prefix = self.policy.prefix
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
        scope["headers"] = lower_names(scope["headers"])
        path: str = scope["path"]
        if path.startswith(self._prefix) and path[len(self._prefix) : len(self._prefix) + 1] in (
            "",
            "/",
        ):
            await self.endpoints(scope, receive, send)
            return
        if self.signals.serves(scope):
            await self.signals.well_known(scope, receive, send)
            return
        consent = self.read(scope["headers"], secure=scope.get("scheme") == "https")
        scope["consent"] = consent
        if self._excluded is not None and self._excluded.fullmatch(path):
            # Left alone (the site's `exclude`), but for the cookie firewall.
            await self.app(
                scope, receive, _Response(self, scope, consent, send, rewrite=False).send
            )
            return
        scope["headers"] = _decodable_codings(scope["headers"])
        if "http.response.pathsend" in scope.get("extensions", {}):
            # The body must come as body messages for the rewriter to see it.
            extensions = dict(scope["extensions"])
            del extensions["http.response.pathsend"]
            scope["extensions"] = extensions
        await self.app(scope, receive, _Response(self, scope, consent, send).send)

    def read(self, headers: Headers, *, secure: bool) -> Consent:
        """The visitor's consent from the request's cookie ("undecided" when there is none),
        with the privacy signals the policy honours applied. `secure`: an https request."""
        name = self._cookie_names[secure]
        return self.signals.apply(self.codec.from_cookies(cookie_values(headers, name)), headers)


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


class _Response:
    """One response on its way out: filtered headers and, for HTML, a rewritten body."""

    __slots__ = (
        "_consent",
        "_gate",
        "_held",
        "_lang",
        "_nonce",
        "_pipeline",
        "_prompt",
        "_rewrite",
        "_scope",
        "_send",
        "_sniff",
        "_utf8",
    )

    def __init__(
        self, gate: ConsentGate, scope: Scope, consent: Consent, send: Send, *, rewrite: bool = True
    ) -> None:
        self._gate = gate
        self._rewrite = rewrite  # False: only the Set-Cookie firewall (an excluded path)
        self._scope = scope
        self._consent = consent
        self._send = send
        self._held: Message | None = None  # a start message kept until the body is known
        self._pipeline: _Pipeline | None = None
        self._lang: str | None = None  # None: not known until the page's first bytes
        self._prompt = False
        self._nonce: str | None = None  # for the gate's inline scripts, once CSP asks for one
        self._sniff = False  # no Content-Type: HTML only if its first bytes look like it
        self._utf8 = False  # the page says it is UTF-8: the gate's text goes in as it is

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            await self._start(message)
        elif kind == "http.response.body" and self._pipeline is not None:
            await self._body(message)
        else:
            await self._release()
            await self._send(message)

    async def _start(self, message: Message) -> None:
        headers = lower_names(message.get("headers", []))
        refused = self._consent.held
        if refused and any(key == b"set-cookie" for key, _ in headers):
            rules = self._gate.cookie_rules
            headers = [
                (key, value)
                for key, value in headers
                if key != b"set-cookie" or rules.allows_set_cookie(value, refused)
            ]
        if refused and self._rewrite and any(key in _LOADING_HEADERS for key, _ in headers):
            headers = self._links(headers, refused)
        message = {**message, "headers": headers}
        if not self._rewrite:
            await self._send(message)
            return
        html, coding, refusal = self._rewritable(message["status"], headers)
        if refusal is not None:
            message["headers"] = self._unrewritable(headers, refusal)
        if not html or refusal is not None:
            await self._send(message)
            return
        self._held = message
        self._pipeline = self._gate_pipeline(coding)

    def _links(self, headers: Headers, refused: Refusal) -> Headers:
        """The headers without `Link` preloads, prefetches and preconnects to refused trackers,
        nor a `Refresh` to one."""
        blocker = self._gate.rules.blocking(refused)
        assert blocker is not None
        base = self._page_url()
        out: Headers = []
        for key, value in headers:
            if key == b"link":
                kept = held_links(value, blocker, base)
                if kept is None:
                    continue
                value = kept
            elif key == b"refresh" and held_refresh(value, blocker, base):
                continue
            out.append((key, value))
        return out

    def _rewritable(self, status: int, headers: Headers) -> tuple[bool, str | None, str | None]:
        """Whether this is HTML, the content coding to undo first, and why HTML cannot be
        rewritten (None when it can)."""
        if self._scope["method"] == "HEAD" or status < 200 or status in _NO_BODY:
            return False, None, None
        value = header(headers, b"content-type")
        if value is None or not value.strip():
            self._sniff = True  # the browser sniffs it: HTML if it starts like HTML
            charset = None
        else:
            if not value.lstrip()[:11].lower().startswith((b"text/html", b"application")):
                return False, None, None  # the common case, decided without parsing
            media, charset = content_type(value)
            if media == "application/xhtml+xml":
                return True, None, "it is XHTML (application/xhtml+xml), which is parsed as XML"
            if media != "text/html":
                return False, None, None
        if charset is not None and not ascii_compatible(charset):
            return True, None, f"its charset {charset!r} is not ASCII-compatible"
        coding = (header(headers, b"content-encoding") or b"").strip().lower()
        if coding not in _CODINGS:
            if self._sniff and b"text/html" not in (
                header(self._scope["headers"], b"accept") or b""
            ):
                return False, None, None  # not asked for as a page: left alone unread
            return True, None, f"its content coding {coding.decode('latin-1')!r} is unknown"
        return True, _CODINGS[coding], None

    def _unrewritable(self, headers: Headers, reason: str) -> Headers:
        """Fail closed on HTML the gate cannot rewrite: the browser is told to enforce what the
        markup would have held back (an enforced CSP whose nonce no script carries)."""
        gate, scope = self._gate, self._scope
        gate.unrewritable.note(scope["path"], reason)
        return gate.csp.lockdown(_per_visitor(headers, gate.vary), self._consent)

    def _gate_pipeline(self, coding: str | None) -> _Pipeline:
        gate, scope = self._gate, self._scope
        headers: Headers = scope["headers"]
        bot = gate.policy.banner.hide_from_bots and bots.is_bot(header(headers, b"user-agent"))
        if bot:
            self._consent = gate.codec.loads(None)  # undecided: every tracker held back
        consent = self._consent
        stamp = None
        if gate.csp.enabled and self._held is not None:
            self._nonce, stamps = gate.csp.nonce(self._held["headers"])
            if stamps and not consent.held:
                # Refusing nothing, no inline script is a tracker to stop: the policy allows
                # inline scripts and the page is left unscanned.
                self._nonce = None
            stamp = self._nonce if stamps else None
        fragment = _fragment_request(headers)
        if bot or fragment:
            snippet = None
        else:
            self._prompt = (
                not consent.decided
                and consent.signals.get("dnt") != "honoured"
                and not consent.locked.issuperset(gate.asked)
            )
            accept = header(headers, b"accept-language")
            # Without the header (or when the site says so) the page's <html lang> decides,
            # and the page's charset how the banner is encoded: both once its first bytes arrive.
            self._lang = gate.banner.language(accept) if accept else None
            snippet = b""
        next_url = self._next_url()
        blocker = gate.rules.blocking(consent.held)
        if blocker is not None:
            blocker = blocker.for_host((header(headers, b"host") or b"").decode("latin-1"))
        rewriter = None
        if blocker is not None:
            made: dict[Match, bytes] = {}

            def placeholder(match: Match) -> bytes:
                if match not in made:
                    locked = match.category in consent.locked
                    text = gate.banner.placeholder(
                        match, next_url=next_url, lang=self._lang, locked=locked
                    )
                    made[match] = self._encode(text)
                return made[match]

            rewriter = HtmlRewriter(blocker, placeholder, stamp, self._page_url())
        head = b"" if fragment else gate.head.render(consent, self._nonce)
        return _Pipeline(
            Decoder() if coding else None,
            rewriter,
            HeadStartInjector(head) if head else None,
            BodyEndInjector(snippet) if snippet is not None else None,
            Encoder(coding) if coding else None,
        )

    def _next_url(self) -> str:
        """Where the no-JavaScript form returns to. It is repeated in the banner and in every
        placeholder, so a long one is cut (query first, then to "/"): what a request makes
        the gate write stays bounded by a constant, not by the request's length."""
        scope = self._scope
        query = scope.get("query_string", b"")
        path: str = scope.get("root_path", "") + scope["path"]
        next_url = f"{path}?{query.decode('latin-1')}" if query else path
        if len(next_url) <= _MAX_NEXT:
            return next_url
        return path if len(path) <= _MAX_NEXT else "/"

    def _page_url(self) -> str:
        scope = self._scope
        host = (header(scope["headers"], b"host") or b"").decode("latin-1")
        path = quote(scope.get("root_path", "") + scope["path"], safe="/%:@!$&'()*+,;=")
        return page_url(scope.get("scheme", "http"), host, path)

    def _snippet(self) -> bytes:
        text = self._gate.banner.snippet(
            self._consent,
            next_url=self._next_url(),
            prompt=self._prompt,
            lang=self._lang,
            nonce=self._nonce,
        )
        return self._encode(text)

    def _encode(self, text: str) -> bytes:
        """The gate's text for this page: as UTF-8 on a UTF-8 page, else as character
        references, which read the same in every ASCII-compatible charset."""
        return text.encode("utf-8") if self._utf8 else text.encode("ascii", "xmlcharrefreplace")

    async def _body(self, message: Message) -> None:
        assert self._pipeline is not None
        body: bytes = message.get("body", b"")
        more: bool = message.get("more_body", False)
        held = self._held
        if held is not None:
            if not body and more:
                return  # wait for bytes to tell the page's encoding
            if self._sniff and not _SNIFFED_HTML.match(self._head(body)):
                await self._release()
                await self._send(message)
                return
            if not self._ascii_page(held["headers"], body):
                self._held = {**held, "headers": self._unrewritable(held["headers"], _WIDE)}
                await self._release()
                await self._send(message)
                return
            if not _DOCUMENT.search(self._head(body)):
                # A fragment (an htmx swap, a partial): neutralised, but a banner or head
                # script would pile up in the page it lands in.
                self._pipeline.head = self._pipeline.injector = None
            self._utf8 = _utf8_page(held["headers"], self._head(body))
            injector = self._pipeline.injector
            if injector is not None:
                banner = self._gate.banner
                if self._lang is None or banner.page_language:
                    accept = header(self._scope["headers"], b"accept-language")
                    self._lang = banner.language(accept, i18n.html_lang(self._head(body)))
                injector.snippet = self._snippet()
        out = self._pipeline.feed(body)
        if not more:
            out += self._pipeline.close()
        if held is not None:
            self._held = None
            await self._send({**held, "headers": self._headers(held["headers"], out, more)})
        if out or not more:
            await self._send({"type": "http.response.body", "body": out, "more_body": more})
        if not more:
            self._pipeline = None

    def _ascii_page(self, headers: Headers, body: bytes) -> bool:
        """Whether the page's first bytes (BOM, `<meta charset>`) allow rewriting it as ASCII."""
        assert self._pipeline is not None
        head = self._head(body)
        if head.startswith(_BOMS):
            return False
        if head.startswith(_UTF8_BOM) or content_type(header(headers, b"content-type"))[1]:
            return True  # a BOM, then the header's charset, win over <meta>
        found = _META_CHARSET.search(head.lower())
        return found is None or _meta_ascii_compatible(found.group(1).decode("latin-1"))

    def _head(self, body: bytes) -> bytes:
        """The page's first bytes, decoded: what the first chunk says without waiting."""
        assert self._pipeline is not None
        return body[:1024] if self._pipeline.decoder is None else Decoder.peek(body, 1024)

    async def _release(self) -> None:
        """Send a held start unchanged: the body will not be rewritten after all."""
        if self._held is not None:
            held, self._held, self._pipeline = self._held, None, None
            await self._send(held)

    def _headers(self, headers: Headers, body: bytes, more: bool) -> Headers:
        out = _per_visitor([h for h in headers if h[0] not in _DROPPED], self._gate.vary)
        if not more:
            out.append((b"content-length", str(len(body)).encode()))
        if self._consent.unrecorded:
            opt_out = self._gate.signals.record_opt_out(self._consent, self._scope, self._lang)
            if opt_out is not None:
                out.append((b"set-cookie", opt_out))
        refused = self._consent.held
        if refused:
            names = self._gate.cookie_rules.refused(cookie_names(self._scope["headers"]), refused)
            host = (header(self._scope["headers"], b"host") or b"").decode("latin-1")
            expired = expire_headers(names, host, self._gate.policy.site_domains)
            out += [(b"set-cookie", line) for line in expired]
        # With the head script in the page, it reports the CSP's violations itself.
        collected = self._pipeline is not None and self._pipeline.head is not None
        return self._gate.csp.apply(out, self._consent, self._nonce, collected)


class OncePerPath:
    """Warns once per (path, reason), in bounded memory: a crawler of random paths must not
    grow it, nor fill the log with the same line."""

    def __init__(self, log: logging.Logger, limit: int = 4096) -> None:
        self._log = log
        self._limit = limit
        self._seen: set[tuple[str, str]] = set()

    def note(self, path: str, reason: str) -> None:
        key = (path[:512], reason)
        if key in self._seen:
            return
        if len(self._seen) >= self._limit:
            self._seen.clear()
        self._seen.add(key)
        self._log.warning(
            "consent_gate: %s is HTML the gate cannot rewrite: %s. Sent unchanged with an "
            "enforced Content-Security-Policy instead: the browser blocks inline scripts and "
            "the hosts of refused categories on it. Fix the response or exclude the path.",
            key[0],
            reason,
        )


class _Pipeline:
    """decode -> rewrite -> head scripts -> banner -> encode, each stage optional."""

    __slots__ = ("decoder", "encoder", "head", "injector", "rewriter")

    def __init__(
        self,
        decoder: Decoder | None,
        rewriter: HtmlRewriter | None,
        head: HeadStartInjector | None,
        injector: BodyEndInjector | None,
        encoder: Encoder | None,
    ) -> None:
        self.decoder = decoder
        self.rewriter = rewriter
        self.head = head
        self.injector = injector
        self.encoder = encoder

    def feed(self, data: bytes) -> bytes:
        if self.decoder:
            data = self.decoder.feed(data)
        if self.rewriter:
            data = self.rewriter.feed(data)
        if self.head:
            data = self.head.feed(data)
        if self.injector:
            data = self.injector.feed(data)
        return self.encoder.feed(data) if self.encoder else data

    def close(self) -> bytes:
        data = self.decoder.close() if self.decoder else b""
        if self.rewriter:
            data = self.rewriter.feed(data) + self.rewriter.close()
        if self.head:
            data = self.head.feed(data) + self.head.close()
        if self.injector:
            data = self.injector.feed(data) + self.injector.close()
        return self.encoder.feed(data) + self.encoder.close() if self.encoder else data


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


def _fragment_request(headers: Headers) -> bool:
    """A request for part of a page: htmx (not a boosted navigation, which swaps the whole
    body) or a Turbo frame. Its response lands inside a page that has the banner already."""
    if header(headers, b"turbo-frame") is not None:
        return True
    return header(headers, b"hx-request") is not None and header(headers, b"hx-boosted") is None


def _utf8_page(headers: Headers, head: bytes) -> bool:
    """Whether the page declares itself UTF-8, in the order browsers look: BOM, the header's
    charset, `<meta>`. Undeclared is not UTF-8: browsers may guess windows-1252."""
    if head.startswith(_UTF8_BOM):
        return True
    label = content_type(header(headers, b"content-type"))[1]
    if label is None:
        found = _META_CHARSET.search(head.lower())
        label = found.group(1).decode("latin-1") if found else None
    try:
        return label is not None and codecs.lookup(label).name == "utf-8"
    except LookupError:
        return False


def _meta_ascii_compatible(label: str) -> bool:
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return True
    # HTML: a UTF-16 or UTF-32 label in <meta> cannot be true of bytes that spell it; UTF-8.
    return name.startswith(("utf-16", "utf-32")) or ascii_compatible(label)


def _per_visitor(headers: Headers, needed: list[bytes]) -> Headers:
    """Headers that keep caches from serving a page made for one visitor to another."""
    out: Headers = []
    vary = cache = False
    for key, value in headers:
        if key == b"vary":
            vary = True
            value = _vary(value, needed)
        elif key == b"cache-control":
            cache = True
            value = _private(value)
        out.append((key, value))
    if not vary:
        out.append((b"vary", b", ".join(needed)))
    if not cache:
        out.append((b"cache-control", b"private"))
    return out


def _paths(patterns: Sequence[str]) -> re.Pattern[str] | None:
    """One expression for the site's `exclude` patterns; `*` matches anything."""
    if not patterns:
        return None
    return re.compile("|".join(re.escape(p).replace(r"\*", ".*") for p in patterns))


def _vary(value: bytes, needed: list[bytes]) -> bytes:
    """The app's Vary with the gate's own fields added (`*` already covers everything)."""
    present = {field.strip().lower() for field in value.split(b",")}
    if b"*" in present:
        return value
    missing = [field for field in needed if field.lower() not in present]
    return b", ".join([value, *missing]) if missing else value


def _private(value: bytes) -> bytes:
    """Cache-Control that keeps shared caches from serving one visitor's page to another."""
    directives = [d.strip() for d in value.split(b",") if d.strip()]
    lowered = [d.lower() for d in directives]
    if b"no-store" in lowered or b"private" in lowered:
        return value
    kept = [
        d
        for d, low in zip(directives, lowered, strict=True)
        if low != b"public" and not low.startswith(b"s-maxage")
    ]
    return b", ".join([b"private", *kept])


def _decodable_codings(headers: Headers) -> Headers:
    """Ask the app for HTML only in codings the gate can undo (no br or zstd on navigations)."""
    accept = header(headers, b"accept")
    coding = header(headers, b"accept-encoding")
    if accept is None or coding is None or b"text/html" not in accept:
        return headers
    kept = [
        part.strip()
        for part in coding.split(b",")
        if part.split(b";")[0].strip().lower() in (b"gzip", b"x-gzip", b"deflate", b"identity")
    ]
    if len(kept) == len(coding.split(b",")):
        return headers
    value = b", ".join(kept) or b"identity"
    return [(k, value if k == b"accept-encoding" else v) for k, v in headers]
