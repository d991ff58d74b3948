"""Measure the gate on real pages in Chromium: what leaks before consent, what loads after.

The instrument behind tests/browser/test_real_pages.py and test_bypass.py, and a report of its own
(``python bench/corpus.py``, no pytest needed): each page of tests/data/pages/ (real pages that
public projects' test suites saved, see SOURCES.toml) is served from a local app at ``/<name>/``,
once without the gate (the baseline: what leaks with no gate) and once through it (default policy,
report-only CSP). Chromium routes every non-local host to a recording stub (empty bodies of the
right type), so the only tracker requests are the ones the page's own markup and inline scripts
make ("first-order"): a stubbed tracker script is empty and loads nothing further.

Which hosts are trackers is decided by tests/data/pages/trackers.json, derived from npm
``third-party-web`` (MIT): categories ad, analytics, social, marketing, tag-manager,
customer-success and video. It is independent of the gate's own catalogue on purpose, so the
gate cannot grade its own homework. A page is "broken" by the gate when it raises page errors the
ungated page did not, or shows markedly fewer elements or less text.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TypeVar

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from consent_gate import ConsentGate, Policy
from consent_gate._types import ASGIApp
from consent_gate.qa import TrackerRecorder, launch_chromium, serve

K = TypeVar("K")

log = logging.getLogger("corpus")
ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "tests" / "data" / "pages"
BYPASS = ROOT / "tests" / "data" / "bypass"
SECRET = "corpus-measurement-secret--not-a-secret"

TOLERANCE = 0.9
"""A gated page keeps at least this share of the ungated page's elements and text."""
SETTLE_QUIET = 0.3
"""Seconds without a new third-party request after ``load`` before a page counts as settled."""
SETTLE_MAX = 2.5
RELEASE_QUIET, RELEASE_MAX = 1.0, 10.0
"""The same after "Accept all": the banner releases held scripts one after another."""

_MEASURE_JS = """() => {
  const gate = document.getElementById('cg-root');
  const all = document.body ? document.body.querySelectorAll('*') : [];
  let elements = 0;
  for (const el of all) if (!(gate && gate.contains(el))) elements++;
  const text = document.body ? document.body.innerText.length : 0;
  return [elements, text - (gate ? gate.innerText.length : 0)];
}"""


# -- the corpora ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One real page: where it is here, and where it came from (SOURCES.toml)."""

    name: str
    file: str
    repo: str
    path: str
    commit: str
    licence: str
    what: str
    site: str


def real_pages() -> list[Source]:
    """The real-page corpus, in SOURCES.toml order."""
    with (PAGES / "SOURCES.toml").open("rb") as f:
        return [Source(**entry) for entry in tomllib.load(f)["page"]]


@dataclass(frozen=True)
class BypassCase:
    """One adversarial page: the trick it plays and the hosts it must not reach before consent.

    ``after_accept``: hosts it must reach after "Accept all", its content intact.
    """

    name: str
    tests: str
    must_not_request: tuple[str, ...]
    after_accept: tuple[str, ...] = ()


_HEADER = re.compile(r"\A<!--\n(.*?)\n-->", re.S)
_FIELD = re.compile(r"^([a-z-]+): (.*)$", re.M)


def header_fields(markup: bytes) -> dict[str, str]:
    """The ``name: value`` lines of the comment a bypass page opens with (empty if none)."""
    found = _HEADER.match(markup.decode("utf-8", "replace"))
    return dict(_FIELD.findall(found.group(1))) if found else {}


def bypass_cases() -> list[BypassCase]:
    """The bypass corpus: each file opens with ``<!--`` and lines ``tests: ...``,
    ``must-not-request: host ...``, optionally ``chunk-size: N`` (the server streams the page in
    chunks of N bytes) and ``after-accept-requests: host ...``."""
    cases = []
    for file in sorted(BYPASS.glob("*.html")):
        fields = header_fields(file.read_bytes())
        hosts = tuple(fields.get("must-not-request", "").split())
        if not fields.get("tests") or not hosts:
            raise ValueError(f"{file.name}: header needs 'tests:' and 'must-not-request:'")
        after = tuple(fields.get("after-accept-requests", "").split())
        cases.append(BypassCase(file.stem, fields["tests"], hosts, after))
    return cases


@cache
def _tracker_domains() -> dict[str, tuple[str, str]]:
    data = json.loads((PAGES / "trackers.json").read_text("utf-8"))
    return {domain: (entity, category) for domain, (entity, category) in data["domains"].items()}


def _entity(host: str) -> tuple[str, str] | None:
    domains = _tracker_domains()
    labels = host.lower().rstrip(".").split(".")
    for i in range(len(labels) - 1):
        found = domains.get(".".join(labels[i:]))
        if found:
            return found
    return None


def tracker_of(host: str, site: str = "") -> tuple[str, str] | None:
    """(entity, category) of a tracker host per third-party-web, None for any other host.

    ``site``: the host the page was saved from; hosts of the same entity or under the same
    domain (its last two labels) are that site's own, not trackers.
    """
    found = _entity(host)
    if found is None or not site:
        return found
    own = ".".join(site.lower().split(".")[-2:])
    if host.lower() == own or host.lower().endswith("." + own) or found == _entity(site):
        return None
    return found


# -- serving -------------------------------------------------------------------------------------


def corpus_app(directory: Path, *, gated: bool) -> ASGIApp:
    """Serve ``directory/<name>.html`` at ``/<name>/``.

    Pages go out as ``text/html`` without a charset, as a static server that knows nothing of
    them would send them (streamed in chunks if the page's header says ``chunk-size``); everything
    else first-party is a quick 404. A file ``<name>.headers`` beside a page adds its lines
    (``Name: value``, a name may repeat) to the page's response headers, a Content-Type line
    in place of the default one.
    """
    pages = {path.stem: path for path in directory.glob("*.html")}

    async def page(request: Request) -> Response:
        path = pages.get(request.path_params["name"])
        if path is None:
            return Response(status_code=404)
        headers: list[tuple[bytes, bytes]] = []
        extra = path.with_suffix(".headers")
        if extra.exists():
            for line in extra.read_text("utf-8").splitlines():
                name, _, value = line.partition(":")
                if value:
                    headers.append((name.strip().lower().encode(), value.strip().encode()))
        body = path.read_bytes()
        size = int(header_fields(body).get("chunk-size", 0))
        response: Response
        if size:
            chunks = [body[i : i + size] for i in range(0, len(body), size)]
            response = StreamingResponse(iter(chunks), media_type="text/html")
        else:
            response = Response(body, media_type="text/html")
        if any(name == b"content-type" for name, _ in headers):
            response.raw_headers = [h for h in response.raw_headers if h[0] != b"content-type"]
        response.raw_headers += headers
        return response

    async def missing(request: Request) -> Response:
        return Response(status_code=404)

    app = Starlette(routes=[Route("/{name}/", page), Route("/{rest:path}", missing)])
    return ConsentGate(app, secret_key=SECRET, policy=Policy.default()) if gated else app


@dataclass(frozen=True)
class Servers:
    """The same directory served without the gate (baseline) and through it."""

    baseline: str
    gated: str


@contextmanager
def servers(directory: Path) -> Iterator[Servers]:
    with ExitStack() as stack:
        yield Servers(
            stack.enter_context(serve(corpus_app(directory, gated=False))),
            stack.enter_context(serve(corpus_app(directory, gated=True))),
        )


# -- one page view -------------------------------------------------------------------------------


@dataclass
class View:
    """What one page view did: its third-party requests (URLs), errors, elements and text."""

    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elements: int = 0
    text: int = 0
    site: str = ""
    """The host the page was saved from: its own hosts are not trackers."""
    seconds: float = 0.0
    """How long the page had been open: what its own timers had to run."""

    @property
    def trackers(self) -> list[str]:
        """The requests to tracker hosts (per third-party-web), the site's own excepted."""
        return [url for url in self.requests if tracker_of(_host(url), self.site)]

    def hosts(self) -> set[str]:
        """The tracker hosts reached."""
        return {_host(url) for url in self.trackers}

    def reached(self, hosts: Iterable[str]) -> list[str]:
        """The requests to any of ``hosts`` (exact host names), tracker or not."""
        wanted = {h.lower() for h in hosts}
        return [url for url in self.requests if _host(url) in wanted]


def _host(url: str) -> str:
    """The host of a request's URL, after any user info (`https://x%27@host/`)."""
    host = re.sub(r"^[a-z]+://(?:[^/?#@]*@)?([^/:?#]*).*$", r"\1", url, flags=re.S)
    return host.lower().rstrip(".")


class Tab:
    """A page in a context of its own whose third-party requests are stubbed and recorded."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.context: BrowserContext = browser.new_context(base_url=base_url)
        self.recorder = TrackerRecorder([base_url])
        self.recorder.attach(self.context)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.opened = time.monotonic()

    def close(self) -> None:
        self.context.close()

    def loaded(self) -> float:
        """Wait for ``load``; the wall-clock time it was seen (hits carry the same clock)."""
        self.page.wait_for_load_state("load", timeout=30_000)
        return time.time()

    def quiet_since(self, since: float) -> float:
        """When this tab's last third-party request went out, or ``since`` if that is later."""
        hits = self.recorder.hits
        return max(since, hits[-1].time) if hits else since

    def view(self, site: str, since: int = 0) -> View:
        """Third-party requests recorded since hit number ``since``, errors and content so far."""
        requests = [hit.url for hit in self.recorder.hits[since:]]
        try:
            elements, text = self.page.evaluate(_MEASURE_JS)
        except Exception as error:  # the page navigated away or crashed: that is broken too
            self.errors.append(f"measure: {error}")
            elements, text = 0, 0
        seconds = time.monotonic() - self.opened
        return View(requests, list(self.errors), elements, text, site, seconds)

    def reached(self, hosts: set[str], site: str, since: int) -> bool:
        """Whether the tracker hosts reached since hit ``since`` include ``hosts``."""
        urls = [hit.url for hit in self.recorder.hits[since:]]
        return hosts <= View(urls, site=site).hosts()

    def accept_all(self) -> str | None:
        """Click the banner's "Accept all", as a visitor would; why that failed, if it did."""
        try:
            self.page.wait_for_function("() => window.consentGate !== undefined", timeout=15_000)
            button = self.page.locator('#cg-banner button[value="accept_all"]')
            try:
                button.click(timeout=5000)
            except PlaywrightError:  # the page's own layout covers it: press it regardless
                if button.count():
                    button.dispatch_event("click", timeout=5000)
        except PlaywrightError as error:
            return f"{self.page.url}: {str(error).splitlines()[0]}"
        return None


def start(browser: Browser, base_url: str, path: str) -> Tab:
    """Open ``path`` in a fresh tab without waiting: tabs started together load in parallel."""
    tab = Tab(browser, base_url)
    tab.page.goto(path, wait_until="commit")
    return tab


# -- a page measured three ways ------------------------------------------------------------------


@dataclass
class Result:
    """A page without the gate, through it before consent, and after "Accept all"."""

    name: str
    baseline: View
    before: View
    after: View
    accept_error: str | None = None

    @property
    def leaks(self) -> list[str]:
        return self.before.trackers

    @property
    def missing_after_accept(self) -> set[str]:
        """Tracker hosts of the baseline that were never reached, even after "Accept all"."""
        return self.baseline.hosts() - self.before.hosts() - self.after.hosts()

    @property
    def new_errors(self) -> list[str]:
        known = set(self.baseline.errors)
        return sorted({e for e in self.before.errors if e not in known})

    @property
    def broken(self) -> list[str]:
        """Why the gated page counts as broken (empty: it is not)."""
        why = [f"page error: {e[:160]}" for e in self.new_errors]
        for measure in ("elements", "text"):
            base, gated = getattr(self.baseline, measure), getattr(self.before, measure)
            if gated < TOLERANCE * base:
                why.append(f"{measure}: {gated} gated vs {base} ungated")
        return why


def measure(
    browser: Browser,
    servers: Servers,
    names: Sequence[str],
    *,
    sites: Mapping[str, str] | None = None,
    batch: int = 4,
    accept: Callable[[str], bool] = lambda name: True,
) -> Iterator[Result]:
    """Measure each page; ``batch`` pages load side by side (the browser overlaps their work).

    ``sites``: the host each page was saved from (see ``tracker_of``). Pages for which
    ``accept(name)`` is false are not taken past the banner (``after`` is empty).
    """
    for i in range(0, len(names), batch):
        chunk = names[i : i + batch]
        log.info("measuring %s", ", ".join(chunk))
        tabs = {
            n: (start(browser, servers.baseline, f"/{n}/"), start(browser, servers.gated, f"/{n}/"))
            for n in chunk
        }
        try:
            yield from _measure_batch(tabs, sites or {}, accept)
        finally:
            for pair in tabs.values():
                for tab in pair:
                    tab.close()


def _measure_batch(
    tabs: Mapping[str, tuple[Tab, Tab]], sites: Mapping[str, str], accept: Callable[[str], bool]
) -> Iterator[Result]:
    """The batch's pages side by side: every wait is for all of them at once, so a batch takes
    as long as its slowest page, not the sum of its pages."""
    every = [tab for pair in tabs.values() for tab in pair]
    loaded = {tab: tab.loaded() for tab in every}
    _settle({tab: (at, at + SETTLE_MAX) for tab, at in loaded.items()}, SETTLE_QUIET)
    views = {
        n: (plain.view(sites.get(n, "")), gated.view(sites.get(n, "")))
        for n, (plain, gated) in tabs.items()
    }
    accepting = [n for n in tabs if accept(n)]
    marks: dict[str, int] = {}
    errors: dict[str, str | None] = {}
    accepted: dict[str, float] = {}
    for n in accepting:
        gated = tabs[n][1]
        marks[n] = len(gated.recorder.hits)
        errors[n] = gated.accept_all()
        accepted[n] = time.time()
    _settle(
        {tabs[n][1]: (accepted[n], accepted[n] + RELEASE_MAX) for n in accepting}, RELEASE_QUIET
    )
    # The ungated page's timers had baseline.seconds to fire (Outbrain's loader waits 5 s for
    # an ad): its released scripts get as long to reach the same hosts.
    wanted = {n: views[n][0].hosts() - views[n][1].hosts() for n in accepting}
    until = {n: accepted[n] + min(views[n][0].seconds, RELEASE_MAX) for n in accepting}
    _until(
        accepting,
        lambda n, now: now >= until[n] or tabs[n][1].reached(wanted[n], sites.get(n, ""), marks[n]),
        every[0].page,
    )
    for n in tabs:
        baseline, before = views[n]
        if n in accepted:
            after = tabs[n][1].view(sites.get(n, ""), marks[n])
            yield Result(n, baseline, before, after, errors[n])
        else:
            yield Result(n, baseline, before, View(site=sites.get(n, "")))


def _settle(tabs: Mapping[Tab, tuple[float, float]], quiet: float) -> None:
    """Until every tab has made no third-party request for ``quiet`` seconds since its start
    (the first of each pair), or its deadline (the second) passed. Wall-clock times."""
    if tabs:
        _until(
            tabs,
            lambda tab, now: now >= tabs[tab][1] or now - tab.quiet_since(tabs[tab][0]) >= quiet,
            next(iter(tabs)).page,
        )


def _until(keys: Iterable[K], done: Callable[[K, float], bool], page: Page) -> None:
    """Poll every 100 ms (on ``page``'s loop) until ``done(key, now)`` held once for each key;
    ``now`` is wall-clock time, as the hits carry."""
    waiting = list(keys)
    while waiting:
        now = time.time()
        waiting = [key for key in waiting if not done(key, now)]
        if waiting:
            page.wait_for_timeout(100)


def held_fraction(results: Iterable[Result]) -> tuple[float, int, int]:
    """(held share, tracker requests without the gate, leaked with it) over all pages."""
    baseline = leaked = 0
    for r in results:
        baseline += len(r.baseline.trackers)
        leaked += len(r.leaks)
    return (1 - leaked / baseline if baseline else 1.0), baseline, leaked


def leaks_by_category(results: Iterable[Result]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for r in results:
        for url in r.leaks:
            found = tracker_of(_host(url), r.before.site)
            counts[found[1] if found else "?"] += 1
    return counts


# -- the report ----------------------------------------------------------------------------------


def report(results: Sequence[Result], out: Callable[[str], None] = print) -> None:
    out(f"{'page':<30} {'ungated':>7} {'leaks':>5} {'after':>5} {'miss':>4}  broken / leaked hosts")
    for r in results:
        leaked_hosts = sorted({_host(u) for u in r.leaks})
        notes = "; ".join(
            r.broken + ([f"accept failed: {r.accept_error}"] if r.accept_error else [])
        )
        if leaked_hosts:
            notes = (notes + " | " if notes else "") + "leaks " + ", ".join(leaked_hosts)
        out(
            f"{r.name:<30} {len(r.baseline.trackers):>7} {len(r.leaks):>5} "
            f"{len(r.after.trackers):>5} {len(r.missing_after_accept):>4}  {notes}"
        )
    held, baseline, leaked = held_fraction(results)
    broken = sum(1 for r in results if r.broken)
    out(
        f"\nheld {held:.1%} of {baseline} first-order tracker requests ({leaked} leaked) on "
        f"{len(results)} pages; {broken} broken by the gate; "
        f"{sum(1 for r in results if r.missing_after_accept)} missing a baseline host after "
        "Accept all"
    )
    out(
        "leaks by category: "
        + ", ".join(f"{k} {v}" for k, v in leaks_by_category(results).most_common())
    )


def report_bypass(
    cases: Sequence[BypassCase], results: Sequence[Result], out: Callable[[str], None] = print
) -> None:
    """One line per case: held, LEAKS, or INVALID (no request even without the gate)."""
    by_name = {r.name: r for r in results}
    verdicts: Counter[str] = Counter()
    for case in cases:
        r = by_name.get(case.name)
        if r is None:
            continue
        if not r.baseline.reached(case.must_not_request):
            verdict = "INVALID"
        elif r.before.reached(case.must_not_request):
            verdict = "LEAKS"
        else:
            verdict = "held"
        if case.after_accept and not r.after.reached(case.after_accept):
            verdict += ", not released"
        verdicts[verdict] += 1
        out(f"{case.name:<40} {verdict:<10} {case.tests}")
    out("\n" + ", ".join(f"{k}: {v}" for k, v in verdicts.most_common()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="*", help="page names (default: every page)")
    parser.add_argument("--bypass", action="store_true", help="the bypass corpus instead")
    parser.add_argument("--batch", type=int, default=4, help="pages loaded side by side")
    args = parser.parse_args(argv)
    directory = BYPASS if args.bypass else PAGES
    names = args.pages or (
        [c.name for c in bypass_cases()] if args.bypass else [s.name for s in real_pages()]
    )
    sites = {} if args.bypass else {s.name: s.site for s in real_pages()}
    released = {c.name for c in bypass_cases() if c.after_accept}
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    logging.getLogger("consent_gate").setLevel(logging.ERROR)  # CSP report chatter
    started = time.monotonic()
    with sync_playwright() as playwright, servers(directory) as urls:
        browser = launch_chromium(playwright)
        accept = (lambda name: name in released) if args.bypass else (lambda name: True)
        results = list(measure(browser, urls, names, sites=sites, batch=args.batch, accept=accept))
        browser.close()
    if args.bypass:
        report_bypass(bypass_cases(), results)
    else:
        report(results)
    print(f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
