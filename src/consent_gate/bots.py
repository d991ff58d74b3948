"""Crawlers: they get no banner (nothing to click, nothing to index) and no trackers.

User agents are parsed by `user-agents` (ua-parser's maintained patterns) once per distinct
string: pages are asked for by a handful of agents, so the cache keeps the hot path a lookup.
"""

from __future__ import annotations

from functools import lru_cache

import user_agents

__all__ = ["is_bot"]

_MAX_LENGTH = 1024  # longer strings are cut: no browser sends one, a parser need not read it


def is_bot(user_agent: bytes | None) -> bool:
    """Whether a `User-Agent` header names a crawler, spider or other bot."""
    if not user_agent:
        return False
    return _parse(user_agent[:_MAX_LENGTH].decode("latin-1"))


@lru_cache(maxsize=4096)
def _parse(user_agent: str) -> bool:
    return bool(user_agents.parse(user_agent).is_bot)
