"""What the rewriter benchmarks time: the gate's pieces for one visitor, a timer, each contender.

Shared by the full report's modules (bench/run.py, bench/throughput.py, bench/served.py,
bench/streaming.py) and bench/engine.py (the engine's end-to-end figures).
"""

from __future__ import annotations

import gc
import html
import re
import statistics
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from consent_gate import ConsentGate
from consent_gate.html import BodyEndInjector, HtmlRewriter
from consent_gate.policy import Policy
from consent_gate.rules import Blocker, Match

SECRET = "bench-secret-not-for-production-use"
CHUNK = 16 * 1024  # what a server typically hands the middleware per body message
MARK = b'data-cg-category="'  # every element consent_gate holds back carries this
Message = MutableMapping[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]


# --- what the gate would do for one visitor -----------------------------------------------------


@dataclass
class GateSetup:
    """The gate's own pieces for the two visitors benchmarked: undecided and "Accept all"."""

    gate: ConsentGate
    blocker: Blocker  # all optional categories refused (no consent cookie)
    accept_cookie: str  # Cookie header value of a visitor who accepted everything
    snippet_undecided: bytes
    snippet_accepted: bytes

    def placeholder(self, match: Match) -> bytes:
        """srcdoc for a held-back frame, as the middleware builds it."""
        text = self.gate.banner.placeholder(match, next_url="/page")
        return text.encode("ascii", "xmlcharrefreplace")


async def _no_app(scope: Any, receive: Receive, send: Send) -> None:
    raise RuntimeError("the benchmark's GateSetup never calls its app")


def gate_setup() -> GateSetup:
    """Build the pieces from the public gate so the bench measures exactly what requests use."""
    gate = ConsentGate(_no_app, secret_key=SECRET, policy=Policy.default())
    undecided = gate.codec.undecided
    accepted = gate.codec.decide(set(gate.policy.optional_categories))
    blocker = gate.rules.blocking(undecided.refused)
    if blocker is None or gate.rules.blocking(accepted.refused) is not None:
        raise RuntimeError("policy has no optional categories: nothing to benchmark")
    return GateSetup(
        gate=gate,
        blocker=blocker,
        accept_cookie=f"{gate.policy.cookie_name}={gate.codec.dumps(accepted)}",
        snippet_undecided=_ascii(gate.banner.snippet(undecided, next_url="/page", prompt=True)),
        snippet_accepted=_ascii(gate.banner.snippet(accepted, next_url="/page", prompt=False)),
    )


def _ascii(text: str) -> bytes:
    return text.encode("ascii", "xmlcharrefreplace")


# --- throughput --------------------------------------------------------------------------------


def chunked(data: bytes, size: int = CHUNK) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@dataclass
class Rate:
    """Median MB/s of one contender, per CPU-second of this process and per wall-clock second.

    This machine is shared: when neighbours keep the cores busy, wall-clock rates measure the
    scheduler. CPU time counts only the time this code ran, so the verdicts use it; the wall
    rate is kept beside it so the difference is visible.
    """

    cpu: float
    wall: float
    cpu_samples: list[float]


def measure(
    run_once: Callable[[], object], nbytes: int, *, samples: int = 7, min_time: float = 0.15
) -> Rate:
    """Time `samples` batches; each batch repeats `run_once` for at least `min_time` CPU-s.

    Batching keeps timer resolution irrelevant for the 100 KB page; several batches give a
    median that one unlucky scheduler hiccup cannot move.
    """
    run_once()  # warm caches (compiled patterns, banner templates, lazy imports)
    start = time.process_time()
    run_once()
    single = max(time.process_time() - start, 1e-7)
    loops = max(1, round(min_time / single))
    cpu_rates, wall_rates = [], []
    for _ in range(samples):
        gc.collect()
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        for _ in range(loops):
            run_once()
        cpu = max(time.process_time() - cpu_start, 1e-9)
        wall = time.perf_counter() - wall_start
        cpu_rates.append(nbytes * loops / cpu / 1e6)
        wall_rates.append(nbytes * loops / wall / 1e6)
    return Rate(statistics.median(cpu_rates), statistics.median(wall_rates), cpu_rates)


def copy_floor(chunks: list[bytes]) -> Callable[[], bytes]:
    """The floor: joining the chunks, i.e. touching every byte once."""
    return lambda: b"".join(chunks)


def gate_rewriter(chunks: list[bytes], setup: GateSetup) -> Callable[[], list[bytes]]:
    """consent_gate's rewriter for an undecided visitor (every optional category refused)."""

    def once() -> list[bytes]:
        rewriter = HtmlRewriter(setup.blocker, setup.placeholder)
        out = [rewriter.feed(chunk) for chunk in chunks]
        out.append(rewriter.close())
        return out

    return once


def gate_pipeline(chunks: list[bytes], setup: GateSetup) -> Callable[[], list[bytes]]:
    """Rewriter then banner injector: the whole body pipeline of an undecided visitor."""

    def once() -> list[bytes]:
        rewriter = HtmlRewriter(setup.blocker, setup.placeholder)
        injector = BodyEndInjector(setup.snippet_undecided)
        out = [injector.feed(rewriter.feed(chunk)) for chunk in chunks]
        out += [injector.feed(rewriter.close()), injector.close()]
        return out

    return once


def gate_accepted(chunks: list[bytes], setup: GateSetup) -> Callable[[], list[bytes]]:
    """After "Accept all" nothing is refused: the pipeline is the banner injector alone."""

    def once() -> list[bytes]:
        injector = BodyEndInjector(setup.snippet_accepted)
        out = [injector.feed(chunk) for chunk in chunks]
        out.append(injector.close())
        return out

    return once


BENCH_NONCE = "bench-nonce-0123456789"


def gate_rewriter_csp(chunks: list[bytes], setup: GateSetup) -> Callable[[], list[bytes]]:
    """The rewriter for an undecided visitor with a CSP on (the default, report-only): it also
    stamps the response's nonce on every inline script it lets through or holds back."""

    def once() -> list[bytes]:
        rewriter = HtmlRewriter(setup.blocker, setup.placeholder, BENCH_NONCE)
        out = [rewriter.feed(chunk) for chunk in chunks]
        out.append(rewriter.close())
        return out

    return once


# python-lolhtml doing the same job, as far as its API allows.
_LOL_URL_ATTRS = {
    "script": ("src",),
    "img": ("src", "srcset"),
    "iframe": ("src",),
    "link": ("href", "imagesrcset"),
    "source": ("src", "srcset"),
    "embed": ("src",),
    "object": ("data",),
}
_LOL_JS_TYPES = frozenset({"", "module", "text/javascript", "application/javascript"})
_SRCSET_URL = re.compile(r"\s*([^\s,]+)[^,]*,?")
LOLHTML_DIFFERENCES = (
    "same Blocker.url()/Blocker.inline() decisions and the same renames, but: python-lolhtml "
    "treats <noscript> as raw text, so it never sees the trackers inside it; it cannot edit a "
    "start tag once the script text is known, so a held-back inline script becomes an empty "
    '<script></script> followed by <script type="text/plain" ...>text</script>; it appends '
    "attributes at the end of the tag instead of renaming in place and re-quotes edited tags; "
    "only four script types count as JavaScript in its handler."
)


class _LolUrlHandler:
    """Element handler: hold back elements whose URL (or data-consent mark) is refused."""

    def __init__(self, setup: GateSetup) -> None:
        self._setup = setup
        self._blocker = setup.blocker
        # The same cheap pre-check as consent_gate's: only absolute URLs can match, unless
        # the policy has path rules (then may_match() is always true).
        self._any_url = setup.blocker.may_match(b"", 0, 0)

    def element(self, el: Any) -> None:
        name = el.tag_name
        explicit = el.get_attribute("data-consent")
        if explicit is not None:
            category = explicit.strip()
            if category in self._blocker.refused:
                self._neutralise(el, name, Match(category))
            return
        for attr in _LOL_URL_ATTRS.get(name, ()):
            value = el.get_attribute(attr)
            if not value or (not self._any_url and "//" not in value):
                continue
            for url in _lol_urls(attr, value):
                match = self._blocker.url(url)
                if match:
                    self._neutralise(el, name, match)
                    return

    def _neutralise(self, el: Any, name: str, match: Match) -> None:
        renamed = list(_LOL_URL_ATTRS.get(name, ()))
        if name == "script":
            renamed.append("type")
        elif name == "iframe":
            renamed.append("srcdoc")
        for attr in renamed:
            value = el.get_attribute(attr)
            if value is not None:
                el.remove_attribute(attr)
                el.set_attribute("data-cg-" + attr, value)
        el.set_attribute("data-cg-category", match.category)
        if match.service:
            el.set_attribute("data-cg-service", match.service)
        if name == "script":
            el.set_attribute("type", "text/plain")
        elif name == "iframe":
            el.set_attribute("srcdoc", html.unescape(self._setup.placeholder(match).decode()))


class _LolInlineHandler:
    """Element + text handler for scripts without src: decide on the whole inline text."""

    def __init__(self, blocker: Blocker, content_html: Any) -> None:
        self._blocker = blocker
        self._html = content_html
        self._active = False
        self._parts: list[str] = []

    def element(self, el: Any) -> None:
        kind = (el.get_attribute("type") or "").strip().lower()
        self._active = kind in _LOL_JS_TYPES and el.get_attribute("data-consent") is None
        self._parts = []

    def text(self, chunk: Any) -> None:
        if not self._active:
            return
        self._parts.append(chunk.text)
        if not chunk.last_in_text_node:
            chunk.remove()  # held until the whole text is known
            return
        text = "".join(self._parts)
        held, self._parts, self._active = len(self._parts) > 1, [], False
        match = self._blocker.inline(text.lower().encode())
        if match:
            opening = f'</script><script type="text/plain" data-cg-category="{match.category}"'
            if match.service:
                opening += f' data-cg-service="{match.service}"'
            chunk.replace(opening + ">" + text, self._html)
        elif held:
            chunk.replace(text, self._html)


def _lol_urls(attr: str, value: str) -> list[str]:
    if "&" in value:
        value = html.unescape(value)
    return _SRCSET_URL.findall(value) if attr.endswith("srcset") else [value]


def lolhtml_rewriter(chunks: list[bytes], setup: GateSetup) -> Callable[[], list[bytes]]:
    """python-lolhtml with handlers equivalent to consent_gate's (see LOLHTML_DIFFERENCES)."""
    import lolhtml

    selector = ",".join(_LOL_URL_ATTRS)

    def once() -> list[bytes]:
        out: list[Any] = []  # python-lolhtml hands the sink bytes
        rewriter = lolhtml.HTMLRewriter(out.append)
        rewriter.on(selector, _LolUrlHandler(setup))
        rewriter.on("script:not([src])", _LolInlineHandler(setup.blocker, lolhtml.ContentType.HTML))
        for chunk in chunks:
            rewriter.write(chunk)
        rewriter.end()
        return out

    return once
