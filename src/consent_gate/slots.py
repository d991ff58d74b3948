"""Templates rendered once, with holes for the few values that change per request.

The banner is the same for every visitor in one language and consent state, so it is rendered
once and cached; only the page address and the CSP nonce differ per response. Searching a
rendered string for placeholders per request is unsafe: the values spliced in come from the
request, and a value that spells a placeholder would be expanded again. Here the rendered text
is cut at its holes once, when it is cached, and each request only joins the pieces with its
escaped values: nothing is ever searched after a value is in.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping

from markupsafe import Markup, escape

__all__ = ["Holes", "Slotted"]

Escape = Callable[[str], str]


class Holes:
    """Markers for one set of named holes, and how the value of each is escaped.

    A marker holds a random token and NUL characters: no template text or policy text can
    spell it by chance, and it passes the template engine's escaping unchanged.
    """

    def __init__(self, **escapes: Escape) -> None:
        token = secrets.token_hex(8)
        self._escapes = escapes
        self.markers = {name: Markup(f"\x00{token}:{name}\x00") for name in escapes}
        self._pattern = re.compile(f"\x00{token}:(\\w+)\x00")

    def cut(self, rendered: str, *, escape_markers: int = 0) -> Slotted:
        """`rendered` split at its markers. `escape_markers`: how many more times the text
        around the holes is escaped than the values themselves (0 for plain markup)."""
        pieces = self._pattern.split(rendered)
        names = pieces[1::2]
        escapes = [_repeat(self._escapes[name], escape_markers) for name in names]
        return Slotted(pieces[0::2], names, escapes)


class Slotted:
    """Literal markup with named holes between the pieces; immutable once made."""

    __slots__ = ("_escapes", "_literals", "_names")

    def __init__(self, literals: list[str], names: list[str], escapes: list[Escape]) -> None:
        self._literals = tuple(literals)
        self._names = tuple(names)
        self._escapes = tuple(escapes)

    def fill(self, values: Mapping[str, str]) -> str:
        """The markup with each hole filled by its escaped value."""
        out = [self._literals[0]]
        for name, escape_value, literal in zip(
            self._names, self._escapes, self._literals[1:], strict=True
        ):
            out.append(escape_value(values[name]))
            out.append(literal)
        return "".join(out)


def _repeat(escape_value: Escape, times: int) -> Escape:
    if times == 0:
        return escape_value

    def escaped(value: str) -> str:
        text = escape_value(value)
        for _ in range(times):
            text = str(escape(text))
        return text

    return escaped
