"""Crawlers: they get no banner (nothing to click, nothing to index) and no trackers.

The check runs on the event loop for every HTML response, and the `User-Agent` is the client's
to choose, so its cost must not be either. ua-parser's maintained rules decide (a crawler is a
device of family "Spider"), run by its compiled Rust resolver (`ua-parser-rs`): about 20 us for
any string of the header's first 256 bytes, where the pure-Python resolver that `user-agents`
uses takes a millisecond or more per new string. Crawlers name themselves early, so nothing
past the window is read. A cache keeps the usual handful of agents a lookup; a stream of
distinct ones costs the bounded parse each, never more.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ua_parser import Parser

__all__ = ["is_bot", "prepare"]

_WINDOW = 256


@cache
def prepare() -> Parser:
    """Compile the rules (~0.3 s, once per process): the gate calls it at start-up, and imports
    ua-parser only then (its modules and YAML loader cost ~40 ms at import)."""
    from ua_parser import Parser, load_builtins
    from ua_parser.regex import Resolver

    return Parser(Resolver(load_builtins()))


def is_bot(user_agent: bytes | None) -> bool:
    """Whether a `User-Agent` header names a crawler, spider or other bot."""
    if not user_agent:
        return False
    return _is_bot(user_agent[:_WINDOW])


@lru_cache(maxsize=4096)
def _is_bot(user_agent: bytes) -> bool:
    device = prepare().parse_device(user_agent.decode("latin-1"))
    return device is not None and device.family == "Spider"
