"""Which element belongs to which service: the policy compiled for fast lookups.

`Rules` is built once per policy; `Rules.blocking(refused)` hands out (and caches) the matcher for
one refusal (categories, and services apart from them), so a request only does dictionary lookups
and one regex search.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from ahocorasick_rs import MATCHKIND_LEFTMOST_LONGEST, BytesAhoCorasick, Implementation

from .policy import Policy, Service, extended_catalogue
from .refusal import Refusal
from .unknown import UnknownParties, site_of
from .urls import DOCUMENT, target

__all__ = ["MAX_CACHED", "Blocker", "Classifier", "Examine", "Match", "Rules", "Unknown"]

Examine = Literal["known", "absolute", "all"]
MAX_CACHED = 1024  # refusals whose blockers (head scripts, CSP headers) are kept


@dataclass(frozen=True)
class Match:
    """Why an element is held back: its category and, when known, its service."""

    category: str
    service: str = ""


@dataclass(frozen=True)
class Unknown(Match):
    """A URL of a third party nobody classified (see `unknown`); equal to its category's
    plain match, so placeholders are made once per category, not per host."""

    host: str = field(default="", compare=False)


class Classifier:
    """Which service an element belongs to, over every service in the policy.

    Classifying against all services first and checking the category second lets the most
    specific rule win: a Google Ads tag on the shared gtag.js URL stays Ads, even though a
    broader Google Analytics pattern also matches it.
    """

    def __init__(
        self, services: tuple[Service, ...], unknown: UnknownParties | None = None
    ) -> None:
        self.unknown = unknown  # None: URLs nobody classified are simply not matched
        self._hosts: dict[str, Match] = {}
        self._urls: dict[str, list[tuple[re.Pattern[str], Match]]] = {}
        self._paths: list[tuple[re.Pattern[str], Match]] = []
        snippets: dict[bytes, Match] = {}
        globs: list[tuple[str, str, Match]] = []
        for service in services:
            match = Match(service.category, service.id)
            for host in service.hosts:
                self._hosts.setdefault(host, match)
            for url in service.urls:
                host, _, path = url.partition("/") if not url.startswith("/") else ("", "", url)
                globs.append((host, "/" + path.lstrip("/") if host else path, match))
            for snippet in service.snippets:
                snippets.setdefault(snippet.lower().encode(), match)
        # Longer literal prefixes are more specific: try them first.
        self.hosts_table = dict(self._hosts)  # what the run-time gate ships to the page
        self.globs = tuple(sorted(globs, key=lambda g: -len(g[1].partition("*")[0])))
        for host, path, match in self.globs:
            if host:
                self._urls.setdefault(host, []).append((_glob(path), match))
            else:
                self._paths.append((_glob(path), match))
        self.has_paths = bool(self._paths)
        self.hosts = frozenset([*self._hosts, *self._urls])
        # Aho-Corasick finds every signature and host name in one pass over the text (a regex
        # alternation of a hundred literals crawls through large inline scripts); leftmost-
        # longest makes the most specific signature win where two start at the same place.
        signatures: dict[bytes, Match | str] = dict(snippets)
        for host in sorted(self.hosts):
            signatures.setdefault(host.encode(), host)
        # Hosts of the generated catalogue are often sites people link to (reddit.com,
        # trustpilot.com): named in a script, they count only where the script loads from them.
        generated = {h for s in services if s in extended_catalogue() for h in s.hosts}
        self._linkable = frozenset(
            generated - {h for s in services for h in s.hosts if s not in extended_catalogue()}
        )
        self._signatures = list(signatures.values())
        # A DFA, built once (~40 ms, ~5 MB for the catalogue's ~3,300 names): it searches
        # twice as fast as the NFA the package picks by itself for that many.
        self._signature_search = (
            BytesAhoCorasick(
                list(signatures),
                matchkind=MATCHKIND_LEFTMOST_LONGEST,
                implementation=Implementation.DFA,
            )
            if signatures
            else None
        )
        self.url = lru_cache(maxsize=4096)(self._url)

    def _url(self, value: str, base: str = DOCUMENT) -> Match | None:
        """The service of a URL as written in a page whose base URL is `base`.

        The URL is read the way a browser reads it (see `urls`), so no spelling of a tracker's
        address hides it; paths of the page's own host are matched against path rules.
        """
        found = target(value, base)
        if found is None or found.scheme not in ("http", "https"):
            return None
        path = found.path.lower()
        if self.has_paths and found.host == _host_of(base) and (match := self._path(path)):
            return match
        return self._host(found.host, path) or self._unknown_host(found.host)

    def _unknown_host(self, host: str) -> Match | None:
        if self.unknown is None or (name := self.unknown.classify(host)) is None:
            return None
        return Unknown(self.unknown.category, host=name)

    def inline(self, text: bytes) -> list[Match]:
        """Services whose signatures or host names appear in an inline script's lower-cased
        text, in order. String escapes (`\\/`, `\\x2f`, `\\u002f`) and literals joined with
        `+` are undone first, so `'<scr' + 'ipt src="https:\\/\\/tracker…` is read whole."""
        if self._signature_search is None:
            return []
        text = joined(text)
        if b"\\" in text:
            # "\/" (all over JSON in pages) undone in C; the rarer escapes by expression. No
            # escape of either kind contains another, so two passes read as one would.
            text = text.replace(b"\\/", b"/")
            if b"\\x" in text or b"\\u" in text:
                text = _JS_ESCAPE.sub(_unescape, text)
        found: list[Match] = []
        for index, start, end in self._signature_search.find_matches_as_indexes(text):
            signature = self._signatures[index]
            if isinstance(signature, Match):
                found.append(signature)
            elif (match := self._named_host(text, signature, start, end)) is not None:
                found.append(match)
        return found

    def _named_host(self, text: bytes, host: str, start: int, end: int) -> Match | None:
        """The service of a host name found in script text, if it is a whole name there."""
        if start and _NAME_BYTE.match(text, start - 1) and text[start - 1 : start] != b".":
            return None  # the tail of a longer name ("notgoogletagmanager.com")
        if _NAME_BYTE.match(text, end) or _DOT_LABEL.match(text, end):
            return None  # the head of a longer name ("googletagmanager.com.example")
        path = _PATH.match(text, end)
        if host in self._linkable and not (
            _LOADS_BEFORE.search(text, max(0, start - _CONTEXT), start)
            or (path and _LOADED_PATH.search(path.group(0)))
        ):
            return None  # a link to the site, not a load from it
        return self._lookup(host, (path.group(1) or b"/").decode("latin-1") if path else "/")

    def _host(self, host: str, path: str) -> Match | None:
        name = host.partition(":")[0]
        if host != name and (match := self._lookup(host, path)):
            return match
        while True:
            if match := self._lookup(name, path):
                return match
            dot = name.find(".")
            if dot == -1:
                return None
            name = name[dot + 1 :]

    def _lookup(self, host: str, path: str) -> Match | None:
        if match := self._hosts.get(host):
            return match
        for pattern, match in self._urls.get(host, ()):
            if pattern.match(path):
                return match
        return None

    def _path(self, path: str) -> Match | None:
        for pattern, match in self._paths:
            if pattern.match(path):
                return match
        return None


class Blocker:
    """Answers "is this held back?" for one refusal: an element is held when its service is.

    Scripts of `consent_aware` services are never held back: they read the visitor's choice
    themselves (Google Consent Mode's advanced mode). Their other elements - pixels, frames,
    what `<noscript>` shows - cannot read it, so those stay held back.
    """

    def __init__(
        self,
        classifier: Classifier,
        refused: Refusal | frozenset[str],
        consent_aware: frozenset[str] = frozenset(),
    ) -> None:
        self.refusal = Refusal.of(refused)
        # Categories with something held: the markup is examined while there is any.
        self.refused = self.refusal.touched
        self._classifier = classifier
        self._consent_aware = consent_aware
        self.hosts = classifier.hosts
        self.own_site = ""  # the request's registrable domain, for unknown third parties
        # Which loading tags must be read (see html.grammar.copier): those naming a known host;
        # those naming any host (unknown third parties can be on any; relative URLs stay on
        # the request's own site, once `for_host` knows it); or all (first-party path rules).
        self.examines: Examine = (
            "all" if classifier.has_paths or classifier.unknown is not None else "known"
        )

    def for_host(self, host: str) -> Blocker:
        """This blocker for a page served under `host`: URLs of its own site are never an
        unknown third party. A copy only when it matters (unknown hosts are judged)."""
        if self._classifier.unknown is None or not host:
            return self
        blocker = copy.copy(self)
        blocker.own_site = site_of(host)
        if not self._classifier.has_paths:
            blocker.examines = "absolute"
        return blocker

    def may_match(self, low: bytes, start: int, end: int) -> bool:
        """Cheap pre-check of a lower-cased tag: only URLs with a host or a scheme, first-party
        paths the policy names, and explicit marks can match."""
        return self._classifier.has_paths or _MAY_MATCH.search(low, start, end) is not None

    def url(
        self, value: str, script: bool = False, element: bytes = b"", base: str = DOCUMENT
    ) -> Match | None:
        """The refused service of a URL; `script`: it is a `<script>`'s source; `element`:
        the tag's name, which decides whether an unknown third party's URL is held; `base`:
        the page's base URL, against which the URL is read."""
        match = self._classifier.url(value, base)
        if isinstance(match, Unknown):
            unknown = self._classifier.unknown
            assert unknown is not None
            held = unknown.decide(match.host, value, element, self.own_site)
            return match if held and self.refusal.holds(match.category) else None
        if match is None or not self.refusal.holds(match.category, match.service):
            return None
        return None if script and match.service in self._consent_aware else match

    def inline(self, text: bytes) -> Match | None:
        """The first refused service whose signature is in the (lower-cased) script text."""
        for match in self._classifier.inline(text):
            if (
                self.refusal.holds(match.category, match.service)
                and match.service not in self._consent_aware
            ):
                return match
        return None


class Rules:
    """The policy's services, compiled once; blockers are cached per refusal (a bounded
    number: per-service choices make many possible).

    `consent_aware`: services whose scripts run even while refused (see `Blocker`).
    """

    def __init__(
        self,
        policy: Policy,
        consent_aware: frozenset[str] = frozenset(),
        unknown: UnknownParties | None = None,
    ) -> None:
        self.policy = policy
        self.classifier = Classifier(policy.services, unknown)
        self._consent_aware = consent_aware
        self._cache: dict[Refusal, Blocker | None] = {}

    def blocking(self, refused: Refusal | frozenset[str]) -> Blocker | None:
        """The blocker for a refusal (or refused categories), or None when nothing is held."""
        refusal = Refusal.of(refused)
        try:
            return self._cache[refusal]
        except KeyError:
            blocker = Blocker(self.classifier, refusal, self._consent_aware) if refusal else None
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()  # rebuilt as visitors come: a blocker is cheap to make
            self._cache[refusal] = blocker
            return blocker


# A host starts after two slashes, either way round (browsers read "\\" as "/"), or after a
# scheme's ":" alone (`https:host`); a character reference can spell either.
_MAY_MATCH = re.compile(rb"[/\\][/\\]|[:&]|data-consent")


# Script text: string literals joined with "+", escapes that spell ASCII, a host's path.
_JOINED = re.compile(rb"\+[ \t\n\r\f\v]*+[\"'`]")  # a literal first: found in C at speed
_SPACE = frozenset(b" \t\n\r\f\v")
_QUOTES = frozenset(b"\"'`")
_JS_ESCAPE = re.compile(rb"\\(?:x([0-7][0-9a-f])|u00([0-7][0-9a-f])|u\{0*([0-7][0-9a-f])\})")
_NAME_BYTE = re.compile(rb"[a-z0-9-]")
_DOT_LABEL = re.compile(rb"\.[a-z0-9]")
_PATH = re.compile(rb"(?::[0-9]+)?(/[^\s\"'`<>\\]*)?")
# What shows a script loads from a host it names: a loading word shortly before the name, or a
# path that is a script, a pixel or an endpoint.
_CONTEXT = 160
_LOADS_BEFORE = re.compile(
    rb"src\b|<script|<img|<iframe|createelement|new image|fetch\(|sendbeacon|xmlhttprequest"
    rb"|\.open\(|import\(|importscripts|getscript|loadscript|\.ajax"
)
_LOADED_PATH = re.compile(rb"\.(?:js|gif|png|php)\b|pixel|beacon|collect|track|/tag|/event")


def joined(text: bytes) -> bytes:
    """Script text with string literals joined by "+" made one (`'goo' + 'gle'`: `'google'`).

    What `re.sub(rb"[\"'`]\\s*+\\+\\s*+[\"'`]", b"", text)` gives, found from the "+" rather
    than from every quote (which ran at a tenth of the speed on real scripts).
    """
    pieces: list[bytes] = []
    last = 0
    for found in _JOINED.finditer(text):
        start = found.start()
        while start > last and text[start - 1] in _SPACE:
            start -= 1
        if start > last and text[start - 1] in _QUOTES:
            pieces.append(text[last : start - 1])
            last = found.end()
    if not pieces:
        return text
    pieces.append(text[last:])
    return b"".join(pieces)


def _unescape(found: re.Match[bytes]) -> bytes:
    code = found.group(1) or found.group(2) or found.group(3)
    return bytes([int(code, 16)])


@lru_cache(maxsize=256)
def _host_of(base: str) -> str:
    found = target(base)
    return found.host if found else ""


def _glob(pattern: str) -> re.Pattern[str]:
    """`*` matches any run of characters; everything else is literal (`?` included)."""
    return re.compile(".*".join(map(re.escape, pattern.split("*"))) + r"\Z", re.DOTALL)
