"""Where the banner goes: just before the document's closing `</body>`, else at its very end.

Markup after `</html>` is still parsed into the body, so appending is always a valid fallback;
the search for `</body>` is therefore only about a tidy position and can stay a plain `rfind`.
"""

from __future__ import annotations

import re

__all__ = ["BodyEndInjector"]

_CLEAN_TAIL = re.compile(
    rb"</body[^>]*>(?:\s+|<!--.*?-->|</html\s*>)*\Z", re.IGNORECASE | re.DOTALL
)
_MAX_HELD = 4096


class BodyEndInjector:
    """Streams bytes through, holding back only a possible closing `</body>` and what follows."""

    def __init__(self, snippet: bytes) -> None:
        self.snippet = snippet  # may be set until close(): the banner's language can wait
        self._held = b""
        self._candidate = False  # whether _held starts at a "</body"

    def feed(self, data: bytes) -> bytes:
        buf = self._held + data if self._held else data
        found = buf.lower().rfind(b"</body")
        if found == -1 or len(buf) - found > _MAX_HELD:
            # None, or too much after it to hold (append at the end). Keep a few bytes in
            # case a later "</body" straddles this chunk and the next.
            cut = max(0, len(buf) - 5)
            self._held, self._candidate = buf[cut:], False
            return buf[:cut]
        self._held, self._candidate = buf[found:], True
        return buf[:found]

    def close(self) -> bytes:
        held = self._held
        self._held = b""
        if self._candidate and _CLEAN_TAIL.match(held):
            return self.snippet + held
        return held + self.snippet
