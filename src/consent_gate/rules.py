"""Which element belongs to which service: the policy compiled for fast lookups.

`Rules` is built once per policy; `Rules.blocking(refused)` hands out (and caches) the matcher for
one set of refused categories, so a request only does dictionary lookups and one regex search.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

from ahocorasick_rs import MATCHKIND_LEFTMOST_LONGEST, BytesAhoCorasick

from .policy import Policy, Service

__all__ = ["Blocker", "Classifier", "Match", "Rules"]


@dataclass(frozen=True)
class Match:
    """Why an element is held back: its category and, when known, its service."""

    category: str
    service: str = ""


class Classifier:
    """Which service an element belongs to, over every service in the policy.

    Classifying against all services first and checking the category second lets the most
    specific rule win: a Google Ads tag on the shared gtag.js URL stays Ads, even though a
    broader Google Analytics pattern also matches it.
    """

    def __init__(self, services: tuple[Service, ...]) -> None:
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
        # Aho-Corasick finds every signature in one pass over the text (a regex alternation of
        # a hundred literals crawls through large inline scripts); leftmost-longest makes the
        # most specific signature win where two start at the same place.
        self._snippet_matches = list(snippets.values())
        self._snippet_search = (
            BytesAhoCorasick(list(snippets), matchkind=MATCHKIND_LEFTMOST_LONGEST)
            if snippets
            else None
        )
        self.url = lru_cache(maxsize=4096)(self._url)

    def _url(self, value: str) -> Match | None:
        """The service of a URL as written in an attribute (absolute, //host or /path).

        The URL is read the way a browser reads it: tabs and newlines dropped, backslashes as
        slashes, user info skipped, the host percent-decoded without a trailing dot, and dot
        segments resolved, so none of these hides a tracker.
        """
        value = value.strip(" \t\n\f\r").lower().translate(_TABS_AND_NEWLINES)
        value = value.replace("\\", "/")
        if value.startswith("//"):
            rest = value[2:]
        else:
            scheme, sep, rest = value.partition("://")
            if not sep:
                return self._path(value) if ":" not in value.partition("/")[0] else None
            if scheme not in ("http", "https"):
                return None
        cut = len(rest)
        for stop in "/?#":
            index = rest.find(stop)
            if index != -1 and index < cut:
                cut = index
        host, path = rest[:cut].rpartition("@")[2], rest[cut:] or "/"
        if "%" in host:
            host = unquote(host)
        host = host.rstrip(".")
        if path[0] != "/":
            path = "/" + path
        if "/." in path:
            path = _resolve_dots(path)
        return self._host(host, path)

    def inline(self, text: bytes) -> list[Match]:
        """Services whose signatures appear in an inline script's lower-cased text, in order."""
        if self._snippet_search is None:
            return []
        found = self._snippet_search.find_matches_as_indexes(text)
        return [self._snippet_matches[index] for index, _, _ in found]

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
        if not path.startswith("/"):
            return None
        for pattern, match in self._paths:
            if pattern.match(path):
                return match
        return None


class Blocker:
    """Answers "is this held back?" for one set of refused categories.

    Scripts of `consent_aware` services are never held back: they read the visitor's choice
    themselves (Google Consent Mode's advanced mode). Their other elements - pixels, frames,
    what `<noscript>` shows - cannot read it, so those stay held back.
    """

    def __init__(
        self,
        classifier: Classifier,
        refused: frozenset[str],
        consent_aware: frozenset[str] = frozenset(),
    ) -> None:
        self.refused = refused
        self._classifier = classifier
        self._consent_aware = consent_aware
        self.examines_every_tag = classifier.has_paths
        self.hosts = classifier.hosts

    def may_match(self, low: bytes, start: int, end: int) -> bool:
        """Cheap pre-check of a lower-cased tag: only URLs with a host, first-party paths
        the policy names, and explicit marks can match."""
        return self._classifier.has_paths or _MAY_MATCH.search(low, start, end) is not None

    def url(self, value: str, script: bool = False) -> Match | None:
        """The refused service of a URL; `script`: it is a `<script>`'s source."""
        match = self._classifier.url(value)
        if match is None or match.category not in self.refused:
            return None
        return None if script and match.service in self._consent_aware else match

    def inline(self, text: bytes) -> Match | None:
        """The first refused service whose signature is in the (lower-cased) script text."""
        for match in self._classifier.inline(text):
            if match.category in self.refused and match.service not in self._consent_aware:
                return match
        return None


class Rules:
    """The policy's services, compiled once; blockers are cached per set of refused categories.

    `consent_aware`: services whose scripts run even while refused (see `Blocker`).
    """

    def __init__(self, policy: Policy, consent_aware: frozenset[str] = frozenset()) -> None:
        self.policy = policy
        self.classifier = Classifier(policy.services)
        self._consent_aware = consent_aware
        self._cache: dict[frozenset[str], Blocker | None] = {}

    def blocking(self, refused: frozenset[str]) -> Blocker | None:
        """The blocker for these refused categories, or None when nothing is refused."""
        try:
            return self._cache[refused]
        except KeyError:
            blocker = Blocker(self.classifier, refused, self._consent_aware) if refused else None
            self._cache[refused] = blocker
            return blocker


# A host starts after two slashes, either way round: browsers read "\\" as "/".
_MAY_MATCH = re.compile(rb"[/\\][/\\]|data-consent")
_TABS_AND_NEWLINES = str.maketrans("", "", "\t\n\r")


def _resolve_dots(path: str) -> str:
    """`/a/./b/../c?q` -> `/a/c?q`, as a browser resolves a URL's path."""
    cut = min((i for i in (path.find("?"), path.find("#")) if i != -1), default=len(path))
    resolved = posixpath.normpath(path[:cut])
    if path[:cut].endswith("/") and not resolved.endswith("/"):
        resolved += "/"
    return resolved + path[cut:]


def _glob(pattern: str) -> re.Pattern[str]:
    """`*` matches any run of characters; everything else is literal (`?` included)."""
    return re.compile(".*".join(map(re.escape, pattern.split("*"))) + r"\Z", re.DOTALL)
