"""Regular-expression building blocks shared by the matcher and the rewriter."""

from __future__ import annotations

import re

__all__ = ["trie"]


def trie(words: set[bytes]) -> bytes:
    """An alternation shaped as a trie, so a regex fails most positions on their first byte.

    Where a word is a prefix of another, the longer one is tried first (the most specific wins).
    """
    if words == {b""}:
        return b""
    branches = []
    for first in sorted({w[:1] for w in words if w}):
        rest = trie({w[1:] for w in words if w[:1] == first})
        branches.append(re.escape(first) + rest)
    if b"" in words:
        branches.append(b"")
    return branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"
