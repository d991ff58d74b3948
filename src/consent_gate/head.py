"""The gate's scripts that must run before any of the page's own, first in `<head>`.

Each feature contributes a part, a function of the visitor's consent giving JavaScript source
or "" (Google Consent Mode defaults, the refused categories), or a static file loaded
synchronously after it (the fingerprinting guard, the run-time gate): what depends only on the
policy is cached by the browser, so a page carries a few hundred bytes of the gate's script.
Parts cache their own output per consent state; per response only a join and a nonce remain.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from .consent import Consent

__all__ = ["HeadPart", "HeadScripts", "compact", "js_value"]

HeadPart = Callable[[Consent], str]
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
        # Joined, checked and encoded once per combination of the parts' (cached) sources.
        self._bodies: dict[tuple[str, ...], bytes] = {}

    def add(self, part: HeadPart) -> None:
        self._parts.append(part)

    def add_file(self, applies: Callable[[Consent], bool], src: str, integrity: str) -> None:
        """A static script for the visitors `applies` to, after the inline one; `src` and
        `integrity` are the gate's own (a path and a hash: nothing to escape)."""
        self._files.append((applies, f'src="{src}" integrity="{integrity}"'.encode("ascii")))

    def render(self, consent: Consent, nonce: str | None = None) -> bytes:
        """The elements for one response, or b"" when nothing applies."""
        sources = tuple(source for part in self._parts if (source := part(consent)))
        opening = b'<script nonce="' + nonce.encode("ascii") + b'"' if nonce else b"<script"
        files = b"".join(
            opening + b" " + attributes + b"></script>"
            for applies, attributes in self._files
            if applies(consent)
        )
        if not sources:
            return files
        body = self._bodies.get(sources)
        if body is None:
            text = "\n".join(sources)
            if "</script" in text.lower() or "<!--" in text:
                raise ValueError("a head script part must not contain '</script' or '<!--'")
            body = self._bodies[sources] = text.encode("ascii", "backslashreplace")
        return b"".join((opening, b">", body, b"</script>", files))  # one copy of a long body
