"""The gate's scripts that must run before any of the page's own, first in `<head>`.

Each feature contributes a part, a function of the visitor's consent giving JavaScript source
or "" (Google Consent Mode defaults, the refused categories), or a static file loaded
synchronously after it (the fingerprinting guard, the run-time gate): what depends only on the
policy is cached by the browser, so a page carries a few hundred bytes of the gate's script.
A part's output depends only on what the consent holds back (`Consent.held`): the elements are
made once per such state, and per response only the nonce goes in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from .consent import Consent
from .refusal import Refusal

__all__ = ["HeadPart", "HeadScripts", "compact", "js_value"]

HeadPart = Callable[[Consent], str]
_MAX_STATES = 256  # distinct refusals kept (per-service choices make many possible)
_COMMENT = re.compile(r"\s*(//|/\*|\*)")


def js_value(value: object) -> str:
    """`value` as a JavaScript literal that is safe inside a `<script>` element."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def compact(source: str) -> str:
    """A static script without comment lines or indentation: it travels with every page."""
    return "\n".join(
        line.strip() for line in source.splitlines() if line.strip() and not _COMMENT.match(line)
    )


class HeadScripts:
    """One inline `<script>` made of every part that applies to a visitor, then the external
    files that apply (synchronous, so they too run before any script of the page)."""

    def __init__(self) -> None:
        self._parts: list[HeadPart] = []
        self._files: list[tuple[Callable[[Consent], bool], bytes]] = []
        # Per refusal: the inline script's body (b"": none) and the files' attributes.
        self._made: dict[Refusal, tuple[bytes, tuple[bytes, ...]]] = {}

    def add(self, part: HeadPart) -> None:
        self._parts.append(part)
        self._made.clear()

    def add_file(self, applies: Callable[[Consent], bool], src: str, integrity: str) -> None:
        """A static script for the visitors `applies` to, after the inline one; `src` and
        `integrity` are the gate's own (a path and a hash: nothing to escape)."""
        self._files.append((applies, f'src="{src}" integrity="{integrity}"'.encode("ascii")))
        self._made.clear()

    def render(self, consent: Consent, nonce: str | None = None) -> bytes:
        """The elements for one response, or b"" when nothing applies."""
        made = self._made.get(consent.held)
        if made is None:
            made = self._make(consent)
        body, files = made
        opening = b'<script nonce="' + nonce.encode("ascii") + b'"' if nonce else b"<script"
        out = [opening, b">", body, b"</script>"] if body else []
        for attributes in files:
            out += (opening, b" ", attributes, b"></script>")
        return b"".join(out)  # one copy of a long body

    def _make(self, consent: Consent) -> tuple[bytes, tuple[bytes, ...]]:
        text = "\n".join(source for part in self._parts if (source := part(consent)))
        if "</script" in text.lower() or "<!--" in text:
            raise ValueError("a head script part must not contain '</script' or '<!--'")
        files = tuple(attributes for applies, attributes in self._files if applies(consent))
        if len(self._made) >= _MAX_STATES:
            self._made.clear()
        made = self._made[consent.held] = (text.encode("ascii", "backslashreplace"), files)
        return made
