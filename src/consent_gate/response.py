"""One response on its way out: it acts on the decisions of `decision.py` and the headers of
`response_headers.py`, and does the two things with effects (a consent-log record, a warning).

A response that is not HTML and carries no header a refusal filters costs a few comparisons:
its messages go out as they came.
"""

from __future__ import annotations

from collections.abc import Awaitable
from functools import partial

from ._types import Headers, Message, Scope, Send
from .consent import Consent
from .decision import (
    WIDE,
    FirstBytes,
    PageDecision,
    classify,
    decide,
    first_bytes,
    page_of,
    plainly_not_html,
)
from .html import BodyEndInjector, HeadStartInjector, HtmlRewriter
from .http import Decoder, Encoder, header, lower_names
from .links import held_links
from .page_gate import PageGate
from .response_headers import FIREWALLED, held_cookies, held_loads, locked_headers, page_headers
from .rules import Match

__all__ = ["Pipeline", "Responder", "pipeline"]

_HEAD = 1024  # a page's first bytes: a browser's charset prescan reads as many
_MAX_EARLY = 64 * 1024  # of a coded body, kept while it decodes to fewer than _HEAD bytes

# 103 Early Hints (ASGI's extension): Link values a browser preloads before the page comes.
_EARLY_HINT = "http.response.early_hint"
# Messages that carry none of the body: they go on while a page's start waits for its bytes.
_ASIDE = frozenset({_EARLY_HINT, "http.response.push", "http.response.debug"})


class _Held:
    """An HTML start kept until the page's first bytes, with its decision and the body bytes
    too few to decide on."""

    __slots__ = ("decision", "early", "start")

    def __init__(self, start: Message, decision: PageDecision) -> None:
        self.start = start
        self.decision = decision
        self.early = b""


class Responder:
    """Wraps `send` for one request: filtered headers and, for HTML, a rewritten body."""

    __slots__ = ("_consent", "_gate", "_page", "_rewrite", "_scope", "_send")

    def __init__(
        self, gate: PageGate, scope: Scope, consent: Consent, send: Send, *, rewrite: bool = True
    ) -> None:
        self._gate = gate
        self._scope = scope
        self._consent = consent
        self._send = send
        self._rewrite = rewrite  # False: only the Set-Cookie firewall (an excluded path)
        # The page: its start held, then its body on its way; None for anything else.
        self._page: _Held | Pipeline | None = None

    def send(self, message: Message) -> Awaitable[None]:
        """The app's `send`. A plain function handing back the awaitable of what goes out:
        a response that is not HTML passes through without a coroutine of the gate's own."""
        if self._page is None:
            kind = message["type"]
            if kind == "http.response.start":
                message = self._start(message)
                if self._page is not None:
                    return _nothing()  # a coroutine, as an app may make a task of it
            elif kind == _EARLY_HINT:
                message = self._hints(message)
            return self._send(message)
        if message["type"] == "http.response.body":
            return self._body(message)
        return self._other(message)

    def _hints(self, message: Message) -> Message:
        """Early hints without the links to refused trackers, as the `Link` header loses them
        (Chromium preloads a 103's links for the page that follows)."""
        refused = self._consent.held
        if not refused or not self._rewrite:
            return message
        blocker = self._gate.rules.blocking(refused)
        assert blocker is not None
        base = page_of(self._scope)
        links = [kept for link in message["links"] if (kept := held_links(link, blocker, base))]
        return {**message, "links": links}

    def _start(self, message: Message) -> Message:
        """The start to send now, or the one held (`_page`) until the page's first bytes.
        Synchronous, and without a copy when nothing changes: most responses are not HTML."""
        sent = message.get("headers") or []
        headers = sent
        # One Content-Type line that plainly names no HTML: nothing more to read (JSON, images).
        media: bytes | None = None
        types = 0
        for key, value in sent:
            if key in FIREWALLED or not key.islower():  # one pass for what is rare
                headers = lower_names(sent)
                if any(key in FIREWALLED for key, _ in headers):
                    headers = self._firewall(headers, message["status"])
                break
            if key == b"content-type":
                media, types = value, types + 1
        else:
            if types == 1 and plainly_not_html(media):
                return message
        if headers is not sent:
            message = {**message, "headers": headers}
        if not self._rewrite:
            return message
        scope = self._scope
        body = classify(scope["method"], message["status"], headers, scope["headers"])
        if not body.html:
            return message
        if body.refusal is not None:
            return self._fail_closed(message, self._consent, body.refusal)
        self._page = _Held(message, decide(self._gate, scope, self._consent, headers, body))
        return message

    def _firewall(self, headers: Headers, status: int) -> Headers:
        """Set-Cookie of refused categories dropped from any response; on pages the gate
        rewrites, Link, Refresh, Speculation-Rules and CSP report-uri to refused trackers too,
        and a redirect to one that is no top-level navigation (`Sec-Fetch-Dest`: a browser
        that sends none may be loading anything)."""
        refused = self._consent.held
        if not refused:
            return headers
        headers = held_cookies(headers, refused, self._gate.cookie_rules)
        if self._rewrite:
            blocker = self._gate.rules.blocking(refused)
            assert blocker is not None
            follows = (
                300 <= status < 400
                and header(self._scope["headers"], b"sec-fetch-dest") != b"document"
            )
            headers = held_loads(headers, blocker, page_of(self._scope), follows=follows)
        return headers

    def _fail_closed(self, start: Message, consent: Consent, reason: str) -> Message:
        """The start of HTML the gate cannot rewrite, locked down; the path warned about."""
        gate = self._gate
        gate.unrewritable.note(self._scope["path"], reason)
        headers = locked_headers(start["headers"], consent, csp=gate.csp, vary=gate.vary)
        return {**start, "headers": headers}

    async def _body(self, message: Message) -> None:
        page = self._page
        if isinstance(page, Pipeline):
            await self._stream(page, message)
        else:
            assert page is not None  # `send` routes body messages here only for a page
            await self._first(page, message)

    async def _stream(self, page: Pipeline, message: Message) -> None:
        """A body message after the page's first bytes, through its pipeline."""
        more: bool = message.get("more_body", False)
        out = page.feed(message.get("body", b""))
        if not more:
            out += page.close()
            self._page = None
        if out or not more:
            await self._send({"type": "http.response.body", "body": out, "more_body": more})

    async def _first(self, waiting: _Held, message: Message) -> None:
        """The page's first bytes: the rest of the decision, then the held start and them."""
        held, decision = waiting.start, waiting.decision
        body: bytes = waiting.early + message.get("body", b"")
        more: bool = message.get("more_body", False)
        head = body[:_HEAD] if decision.coding is None else Decoder.peek(body, _HEAD)
        if more and len(head) < _HEAD and len(body) < _MAX_EARLY:
            # Too few bytes to tell (a streamed template may send a lone newline first): what
            # a page is, its charset and language are read from its first KiB, in any chunking.
            waiting.early = body
            return
        facts = first_bytes(decision, held["headers"], head, self._gate.banner)
        if waiting.early:
            message = {**message, "body": body}
        self._page = None
        if facts.kind != "html":
            if facts.kind == "wide":
                held = self._fail_closed(held, decision.consent, WIDE)
            await self._send(held)
            await self._send(message)
            return
        page = pipeline(self._gate, decision, facts)
        out = page.feed(body)
        if more:
            self._page = page
        else:
            out += page.close()
        # Before the start goes out: a Set-Cookie saying the opt-out is remembered must mean
        # the log has it.
        opt_out = self._record_opt_out(decision, facts.lang)
        gate = self._gate
        headers = page_headers(
            held["headers"],
            decision,
            csp=gate.csp,
            vary=gate.vary,
            length=None if more else len(out),
            opt_out=opt_out,
            collected=page.head is not None,  # the head script reports CSP violations
        )
        await self._send({**held, "headers": headers})
        if out or not more:
            await self._send({"type": "http.response.body", "body": out, "more_body": more})

    def _record_opt_out(self, decision: PageDecision, lang: str | None) -> bytes | None:
        """Log the opt-out the request carries (GPC) once; the Set-Cookie line remembering it,
        or None when the log did not take it (it is recorded on a later page then)."""
        if not decision.record_opt_out:
            return None
        return self._gate.signals.record_opt_out(decision.consent, self._scope, lang)

    async def _other(self, message: Message) -> None:
        if message["type"] in _ASIDE:
            await self._send(self._hints(message) if message["type"] == _EARLY_HINT else message)
            return
        await self._release(message["type"])
        await self._send(message)

    async def _release(self, kind: str) -> None:
        """Send a held start locked down: the body comes some other way (a `pathsend`, a file
        descriptor), which the gate cannot read, so it fails closed."""
        waiting = self._page
        if isinstance(waiting, _Held):
            self._page = None
            reason = f"its body came in an {kind!r} message, which the gate cannot read"
            await self._send(self._fail_closed(waiting.start, self._consent, reason))
            if waiting.early:
                body = {"type": "http.response.body", "body": waiting.early, "more_body": True}
                await self._send(body)


def pipeline(gate: PageGate, decision: PageDecision, facts: FirstBytes) -> Pipeline:
    """The body's stages for a page, from its decision and what its first bytes said."""

    def encode(text: str) -> bytes:
        """The gate's text for this page: as UTF-8 on a UTF-8 page, else as character
        references, which read the same in every ASCII-compatible charset."""
        return text.encode("utf-8") if facts.utf8 else text.encode("ascii", "xmlcharrefreplace")

    consent, lang = decision.consent, facts.lang
    scheme, _, rest = decision.page_url.partition("://")
    origin = f"{scheme}://{rest.partition('/')[0]}"  # for the gate's URLs after a <base href>
    rewriter = None
    if decision.blocker is not None:
        made: dict[tuple[Match, bool], bytes] = {}

        def placeholder(match: Match) -> bytes:
            based = rewriter is not None and rewriter.based
            if (match, based) not in made:
                text = gate.banner.placeholder(
                    match,
                    next_url=decision.next_url,
                    lang=lang,
                    locked=match.category in consent.locked,
                    origin=origin if based else "",
                )
                made[match, based] = encode(text)
            return made[match, based]

        rewriter = HtmlRewriter(decision.blocker, placeholder, decision.stamp, decision.page_url)
    document = facts.document
    injector = None
    if decision.banner and document:

        def snippet(origin: str = "") -> bytes:
            text = gate.banner.snippet(
                consent,
                next_url=decision.next_url,
                prompt=decision.prompt,
                lang=lang,
                nonce=decision.nonce,
                origin=origin,
            )
            return encode(text)

        # With the page's origin in its URLs if the page has a `<base href>`, which may
        # send the gate's root-relative URLs, its forms' too, to another host.
        injector = BodyEndInjector(snippet(), partial(snippet, origin))
    coding = decision.coding
    return Pipeline(
        Decoder() if coding else None,
        rewriter,
        HeadStartInjector(decision.head) if decision.head and document else None,
        injector,
        Encoder(coding) if coding else None,
    )


class Pipeline:
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


async def _nothing() -> None:
    """What sending a held start awaits: it goes out with the page's first bytes."""
