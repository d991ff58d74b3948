"""Which element belongs to which service: the policy compiled for fast lookups.

`Rules` is built once per policy; `Rules.blocking(refused)` hands out (and caches) the matcher for
one set of refused categories, so a request only does dictionary lookups and one regex search.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .policy import Policy, Service

__all__ = ["Blocker", "Match", "Rules"]


@dataclass(frozen=True)
class Match:
    """Why an element is held back: its category and, when known, its service."""

    category: str
    service: str = ""


class Blocker:
    """Answers "is this URL or inline script held back?" for one set of refused categories."""

    def __init__(self, services: list[Service], refused: frozenset[str]) -> None:
        self.refused = refused
        self._hosts: dict[str, Match] = {}
        self._urls: dict[str, list[tuple[re.Pattern[str], Match]]] = {}
        self._paths: list[tuple[re.Pattern[str], Match]] = []
        snippets: dict[bytes, Match] = {}
        for service in services:
            match = Match(service.category, service.id)
            for host in service.hosts:
                self._hosts.setdefault(host, match)
            for url in service.urls:
                if url.startswith("/"):
                    self._paths.append((_glob(url), match))
                    continue
                host, _, path = url.partition("/")
                self._urls.setdefault(host, []).append((_glob("/" + path), match))
            for snippet in service.snippets:
                snippets.setdefault(snippet.lower().encode(), match)
        self._snippets = snippets
        self._snippet_re = (
            re.compile(b"|".join(re.escape(s) for s in sorted(snippets, key=len, reverse=True)))
            if snippets
            else None
        )

    def may_match(self, low: bytes, start: int, end: int) -> bool:
        """Cheap pre-check of a lower-cased tag: only absolute URLs and explicit marks match."""
        return (
            bool(self._paths)
            or low.find(b"//", start, end) != -1
            or low.find(b"data-consent", start, end) != -1
        )

    def url(self, value: str) -> Match | None:
        """The match for a URL as written in an attribute (absolute, //host or relative)."""
        value = value.strip().lower()
        if value.startswith("//"):
            rest = value[2:]
        else:
            scheme, sep, rest = value.partition("://")
            if not sep:
                return self._path(value) if ":" not in value.partition("/")[0] else None
            if scheme not in ("http", "https"):
                return None
        cut = len(rest)
        for stop in "/?#\\":
            index = rest.find(stop)
            if index != -1 and index < cut:
                cut = index
        host, path = rest[:cut].rpartition("@")[2], rest[cut:] or "/"
        if path[0] != "/":
            path = "/" + path
        return self._host(host, path)

    def inline(self, text: bytes) -> Match | None:
        """The match for an inline script's lower-cased text, by the services' snippets."""
        if self._snippet_re is None:
            return None
        found = self._snippet_re.search(text)
        return None if found is None else self._snippets[found.group()]

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


class Rules:
    """The policy's services, compiled once; blockers are cached per set of refused categories."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.categories = frozenset(c.id for c in policy.categories)
        self._cache: dict[frozenset[str], Blocker | None] = {}

    def blocking(self, refused: frozenset[str]) -> Blocker | None:
        """The blocker for these refused categories, or None when nothing is refused."""
        try:
            return self._cache[refused]
        except KeyError:
            pass
        services = [s for s in self.policy.services if s.category in refused]
        blocker = Blocker(services, refused) if refused else None
        self._cache[refused] = blocker
        return blocker


def _glob(pattern: str) -> re.Pattern[str]:
    """`*` matches any run of characters; everything else is literal (`?` included)."""
    return re.compile(".*".join(map(re.escape, pattern.split("*"))) + r"\Z", re.DOTALL)
