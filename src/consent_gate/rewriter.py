"""A streaming, byte-faithful HTML rewriter that holds back refused trackers.

It follows the HTML tokenizer only as far as it must to know what is markup: comments, bogus
comments, raw-text and RCDATA elements, script data with its escape states, and attribute quoting.
One possessive regex copies everything uninteresting in C; Python only sees the few tags that can
load something. Where the browser's two parses of `<noscript>` (scripting on or off) disagree, the
rewriter takes the one that shows it more tags, so it errs towards holding back, never towards
letting through. Untouched bytes are emitted exactly as they arrived.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from html import unescape

from ._patterns import trie
from .rules import Blocker, Match

__all__ = ["HtmlRewriter", "Placeholder"]

# srcdoc markup for a held-back frame, already escaped for a double-quoted attribute.
Placeholder = Callable[[Match], bytes]

_RAWTEXT = (b"style", b"textarea", b"title", b"xmp", b"noembed", b"noframes", b"iframe")
_LOADING = (
    b"script",
    b"img",
    b"iframe",
    b"frame",
    b"link",
    b"embed",
    b"object",
    b"source",
    b"video",
    b"audio",
    b"input",
    b"track",
)


# All patterns run on a lower-cased copy of the input, so they can stay case-sensitive (and fast).
_WS = rb"[\t\n\f\r ]"
_NAME_END = rb"(?=[\t\n\f\r />])"
# One attribute exactly as the HTML tokenizer reads it; ATTRIBUTES, a tag's run of them.
ATTRIBUTE = (
    rb"[\t\n\f\r /]*+[^\t\n\f\r />][^\t\n\f\r />=]*+"
    rb"(?:" + _WS + rb"*+=" + _WS + rb"*+(?:\"[^\"]*+\"|'[^']*+'|[^\t\n\f\r >]*+))?+"
)
ATTRIBUTES = rb"(?:" + ATTRIBUTE + rb")*+"
# Attributes of a tag we only copy. Quotes open a value only after "=" that follows a name; an
# "=" in any other place (after a space, a quote or "/") sends the tag to the exact parser below.
_FAST_ATTRS = (
    rb"[^>=]*+(?:(?<=[^\t\n\f\r /\"'])=" + _WS + rb"*+"
    rb"(?:\"[^\"]*+\"|'[^']*+'|[^\t\n\f\r >]*+)[^>=]*+)*+"
)
_INTERESTING = trie({*_RAWTEXT, *_LOADING, b"noscript", b"plaintext"})
_HOST_CHAR = rb"[^/\t\n\f\r \"'>?#\\@%]"
_UNTOKENISED_LOADING = trie({n for n in _LOADING if n not in _RAWTEXT and n != b"script"})


# With nonces to stamp, only a script that will not get one may be copied whole: one with an
# attribute `_stamp` leaves alone (looked for with the exact attribute grammar, so a chunked
# stream, which Python sees tag by tag, decides the same).
_UNSTAMPED_ATTR = (
    rb"(?=(?:" + ATTRIBUTE + rb")*?[\t\n\f\r /]*+(?:src|href|xlink:href|nonce)[\t\n\f\r /=>])"
)


@lru_cache(maxsize=64)
def _skip(
    hosts: frozenset[str],
    every_tag: bool,
    marks: bool,
    stamping: bool = False,
) -> re.Pattern[bytes]:
    """Copies text and every tag that cannot load anything, stopping before the first that can.

    A loading tag is copied too when it provably names no known host: no quoted value holds a
    ">" (so it ends at the first ">"), and before that ">" no "//" is followed by a known host
    and no site owner's mark appears (looked for only when the buffer holds one: `marks`).
    With first-party path rules every loading tag is examined.
    """
    quick = b""
    script = rb"|<script" + _NAME_END + (_UNSTAMPED_ATTR if stamping else b"")
    if not every_tag:
        known = trie({h.encode() for h in hosts}) if hosts else b"(?!)"
        plain = rb"[^>/\\d]++|d(?!ata-consent)" if marks else rb"[^>/\\]++"
        safe = (
            # Up to the first ">", no "//" (a backslash reads as "/") is followed by a known
            # host, or by a host with user info, escapes, tabs or newlines in it.
            _NAME_END
            + rb"(?=(?:"
            + plain
            + rb"|[/\\](?![/\\](?:"
            + _HOST_CHAR
            + rb"*\.)?"
            + known
            + rb"(?![a-z0-9-]|\.[a-z0-9])|[/\\]"
            + _HOST_CHAR
            + rb"*[\t\n\r@%\\]))*+>)"
            rb"[^>=]*+(?:(?<=[^\t\n\f\r /\"'])=" + _WS + rb"*+"
            rb"(?:\"[^\">]*+\"|'[^'>]*+'|[^\t\n\f\r >]*+)[^>=]*+)*+>"
        )
        # ...and a script with no text at all (the usual external one) is copied whole.
        quick = (
            rb"|<"
            + _UNTOKENISED_LOADING
            + safe
            + script
            + safe
            + _WS
            + rb"*+</script"
            + _NAME_END
            + _FAST_ATTRS
            + rb">"
        )
    return re.compile(
        rb"[^<]*+(?:(?:"
        rb"<(?!" + _INTERESTING + _NAME_END + rb")[a-z][^\t\n\f\r />]*+" + _FAST_ATTRS + rb">"
        rb"|</(?!noscript"
        + _NAME_END
        + rb")[a-z][^\t\n\f\r />]*+"
        + _FAST_ATTRS
        + rb">"
        + quick
        + rb"|<(?=[^a-z!?/]))[^<]*+)*+"
    )


# The tags Python looks at, read with the tokenizer's exact attribute grammar.
_START_TAG = re.compile(rb"<([a-z][^\t\n\f\r />]*+)(" + ATTRIBUTES + rb")([\t\n\f\r /]*+)>")
_END_TAG = re.compile(rb"</([a-z][^\t\n\f\r />]*+)" + ATTRIBUTES + rb"[\t\n\f\r /]*+>")
_ATTR = re.compile(
    rb"[\t\n\f\r /]*+([^\t\n\f\r />][^\t\n\f\r />=]*+)"
    rb"(?:" + _WS + rb"*+=" + _WS + rb"*+(\"[^\"]*+\"|'[^']*+'|[^\t\n\f\r >]*+))?+"
)
_NOSCRIPT_END = rb"|</noscript" + _NAME_END
_COMMENT_END = (re.compile(rb"--!?>"), re.compile(rb"--!?>" + _NOSCRIPT_END))
_BOGUS_END = (re.compile(rb">"), re.compile(rb">" + _NOSCRIPT_END))
_SCRIPT_TOKEN = (
    re.compile(rb"<!--|-->|</?script" + _NAME_END),
    re.compile(rb"<!--|-->|</?script" + _NAME_END + _NOSCRIPT_END),
)
_RAW_END = {
    name: (
        re.compile(rb"</" + name + _NAME_END),
        re.compile(rb"</" + name + _NAME_END + _NOSCRIPT_END),
    )
    for name in _RAWTEXT
}
_JS_TYPES = frozenset(
    {
        b"",
        b"module",
        b"text/javascript",
        b"application/javascript",
        b"application/ecmascript",
        b"application/x-ecmascript",
        b"application/x-javascript",
        b"text/ecmascript",
        b"text/javascript1.0",
        b"text/javascript1.1",
        b"text/javascript1.2",
        b"text/javascript1.3",
        b"text/javascript1.4",
        b"text/javascript1.5",
        b"text/jscript",
        b"text/livescript",
        b"text/x-ecmascript",
        b"text/x-javascript",
        b"text/partytown",  # runs in a worker, trackers included
    }
)
_URL_ATTRS = {
    b"script": (b"src", b"href", b"xlink:href"),
    b"img": (b"src", b"srcset"),
    b"iframe": (b"src",),
    b"frame": (b"src",),
    b"link": (b"href", b"imagesrcset"),
    b"embed": (b"src",),
    b"object": (b"data",),
    b"source": (b"src", b"srcset"),
    b"video": (b"src", b"poster"),
    b"audio": (b"src",),
    b"input": (b"src",),
    b"track": (b"src",),
}
_UNSTAMPED = frozenset({b"src", b"href", b"xlink:href", b"nonce"})
_SRCSET_URL = re.compile(r"\s*([^\s,]+)[^,]*,?")

_DATA, _RAW, _SCRIPT, _PLAINTEXT = range(4)
# Script data escape states (HTML tokenizer "script data", "escaped", "double escaped").
_PLAIN, _ESCAPED, _DOUBLE = range(3)
MAX_INLINE_SCRIPT = 256 * 1024  # inline text examined before deciding; longer scripts go by prefix
MAX_TAG = 1024 * 1024  # a tag longer than this is passed on as text, unexamined
_TAIL = len(b"</noscript>") + 1  # longest marker that can straddle two chunks


class HtmlRewriter:
    """Rewrites one HTML response: feed chunks as they come, then close()."""

    def __init__(
        self, blocker: Blocker, placeholder: Placeholder, nonce: str | None = None
    ) -> None:
        """`nonce`: stamped on every inline script that has none, so it passes a nonce-based
        CSP (held-back ones too: banner.js copies it when it runs them after consent)."""
        self._blocker = blocker
        self._placeholder = placeholder
        self._nonce = b' nonce="' + nonce.encode("ascii") + b'"' if nonce else b""
        self._buf = b""
        self._mode = _DATA
        self._end_re: re.Pattern[bytes] = _BOGUS_END[0]
        self._consume_end = False  # a comment's end marker belongs to the comment
        self._noscript = 0
        self._script_state = _PLAIN
        self._scan = 0  # where the script scan resumes in the buffer
        self._held: _Tag | None = None  # inline script start tag awaiting its text

    def feed(self, chunk: bytes) -> bytes:
        return self._run(self._buf + chunk if self._buf else chunk, final=False)

    def close(self) -> bytes:
        return self._run(self._buf, final=True)

    def _run(self, buf: bytes, final: bool) -> bytes:
        low = buf.lower()
        blocker = self._blocker
        skip = _skip(
            blocker.hosts,
            blocker.examines_every_tag,
            b"data-consent" in low,
            bool(self._nonce),
        )
        out: list[bytes] = []
        pos, size, more = 0, len(buf), True
        while more and pos < size:
            if self._mode == _DATA:
                end = skip.match(low, pos).end()  # type: ignore[union-attr]
                if end > pos:
                    out.append(buf[pos:end])
                    pos = end
                if pos < size:
                    pos, more = self._markup(buf, low, pos, out, final)
            elif self._mode == _SCRIPT:
                pos, more = self._script(buf, low, pos, out, final)
            elif self._mode == _RAW:
                pos, more = self._raw(buf, low, pos, out, final)
            else:
                out.append(buf[pos:])
                pos = size
        if final and pos < size:
            out.append(buf[pos:])  # an unfinished construct at the end passes through as is
            pos = size
        self._scan = max(0, self._scan - pos)
        self._buf = buf[pos:]
        return b"".join(out)

    def _markup(
        self, buf: bytes, low: bytes, pos: int, out: list[bytes], final: bool
    ) -> tuple[int, bool]:
        """Handle the construct at `buf[pos] == '<'`; (pos, False) waits for more input."""
        size = len(buf)
        if size - pos < 4 and not final:
            return pos, False
        second = low[pos + 1 : pos + 2]
        if second == b"!":
            if not low.startswith(b"<!--", pos):
                return self._enter_raw(buf, pos, pos + 2, _BOGUS_END, out)
            if size - pos < 6 and not final:
                return pos, False
            if low[pos + 4 : pos + 5] == b">" or low[pos + 4 : pos + 6] == b"->":
                end = low.index(b">", pos + 4) + 1  # "<!-->" and "<!--->" are whole comments
                out.append(buf[pos:end])
                return end, True
            return self._enter_raw(buf, pos, pos + 4, _COMMENT_END, out)
        if second == b"?":
            return self._enter_raw(buf, pos, pos + 2, _BOGUS_END, out)
        if second == b"/":
            third = low[pos + 2 : pos + 3]
            if b"a" <= third <= b"z":
                end_tag = _END_TAG.match(low, pos)
                if end_tag is None:
                    return self._incomplete(pos, out, size, final)
                if end_tag.group(1) == b"noscript":
                    self._noscript = max(0, self._noscript - 1)
                out.append(buf[pos : end_tag.end()])
                return end_tag.end(), True
            if third == b">":
                out.append(buf[pos : pos + 3])
                return pos + 3, True
            return self._enter_raw(buf, pos, pos + 2, _BOGUS_END, out)
        if b"a" <= second <= b"z":
            start_tag = _START_TAG.match(low, pos)
            if start_tag is None:
                return self._incomplete(pos, out, size, final)
            return self._start_tag(buf, start_tag, out)
        out.append(b"<")
        return pos + 1, True

    def _incomplete(self, pos: int, out: list[bytes], size: int, final: bool) -> tuple[int, bool]:
        if not final and size - pos <= MAX_TAG:
            return pos, False
        # Unterminated at the end, or absurdly long: the '<' goes on as text.
        out.append(b"<")
        return pos + 1, True

    def _enter_raw(
        self,
        buf: bytes,
        pos: int,
        start: int,
        ends: tuple[re.Pattern[bytes], re.Pattern[bytes]],
        out: list[bytes],
    ) -> tuple[int, bool]:
        out.append(buf[pos:start])
        self._mode = _RAW
        self._end_re = ends[1 if self._noscript else 0]
        self._consume_end = True
        return start, True

    def _raw(
        self, buf: bytes, low: bytes, pos: int, out: list[bytes], final: bool
    ) -> tuple[int, bool]:
        found = self._end_re.search(low, pos)
        if found is None:
            keep = len(buf) if final else max(pos, len(buf) - _TAIL)
            out.append(buf[pos:keep])
            return keep, False
        end = found.start()
        if self._consume_end and low[end : end + 2] != b"</":
            end = found.end()
        out.append(buf[pos:end])
        self._mode = _DATA
        return end, True

    def _start_tag(self, buf: bytes, found: re.Match[bytes], out: list[bytes]) -> tuple[int, bool]:
        pos, end = found.span()
        name = found.group(1)
        if name == b"noscript":
            self._noscript += 1
            out.append(buf[pos:end])
            return end, True
        if name == b"plaintext":
            self._mode = _PLAINTEXT
            out.append(buf[pos:end])
            return end, True
        tag = match = None
        if self._blocker.may_match(found.string, pos, end):
            tag = _Tag(buf, found)
            match = self._classify(tag)
        raw = name == b"script" or name in _RAW_END
        self_closing = raw and found.group(3).endswith(b"/")
        if name == b"script" and not self_closing:
            # ("/>" on a script counts only in SVG; reading on as markup holds back more.)
            self._mode = _SCRIPT
            self._script_state = _PLAIN
            self._scan = end
            if match is None:
                tag = tag or _Tag(buf, found)
                if self._blocker.refused and tag.executable_inline() and tag.explicit() is None:
                    self._held = tag
                    return pos, True  # the tag stays in the buffer until its text is known
        source = self._neutralise(tag, match) if tag and match else buf[pos:end]
        if self._nonce and name == b"script":
            source = self._stamp(tag or _Tag(buf, found), source)
        out.append(source)
        if raw and name != b"script" and not self_closing:
            self._mode = _RAW
            self._end_re = _RAW_END[name][1 if self._noscript else 0]
            self._consume_end = False
        return end, True

    def _script(
        self, buf: bytes, low: bytes, pos: int, out: list[bytes], final: bool
    ) -> tuple[int, bool]:
        """Find where script text ends, honouring its escape states; decide held inline text."""
        held = self._held
        text_start = pos + len(held.source) if held else pos
        token_re = _SCRIPT_TOKEN[1 if self._noscript else 0]
        scan = max(self._scan, text_start)
        end = None
        while (token := token_re.search(low, scan)) is not None:
            text = token.group()
            scan = token.end()
            if text == b"<!--":
                if self._script_state == _PLAIN:
                    self._script_state = _ESCAPED
                scan = token.start() + 2  # "<!-->" closes at once
            elif text == b"-->":
                self._script_state = _PLAIN
            elif text[1:3] == b"/n" or (text[1:2] == b"/" and self._script_state != _DOUBLE):
                end = token.start()
                break
            elif text[1:2] == b"/":
                self._script_state = _ESCAPED
            elif self._script_state == _ESCAPED:
                self._script_state = _DOUBLE
        size = len(buf)
        if held is not None:
            if end is None and not final and size - text_start < MAX_INLINE_SCRIPT:
                self._scan = max(scan, size - _TAIL)
                return pos, False
            # Decide on the whole text, or on its first MAX_INLINE_SCRIPT bytes.
            match = self._blocker.inline(low[text_start : size if end is None else end])
            source = self._neutralise(held, match) if match else held.source
            out.append(self._stamp(held, source) if self._nonce else source)
            self._held = None
            pos = text_start
        if end is None:
            keep = size if final else max(pos, scan, size - _TAIL)
            out.append(buf[pos:keep])
            self._scan = keep
            return keep, False
        out.append(buf[pos:end])
        self._mode = _DATA
        self._scan = 0
        return end, True

    def _classify(self, tag: _Tag) -> Match | None:
        explicit = tag.explicit()
        if explicit is not None:
            category = explicit.decode("ascii", "replace").strip()
            return Match(category) if category in self._blocker.refused else None
        url_attrs = _URL_ATTRS.get(tag.name, ())
        for name, value in tag.attrs:
            if value and name in url_attrs:
                for url in _urls(name, value):
                    if match := self._blocker.url(url, tag.name == b"script", tag.name):
                        return match
        return None

    def _stamp(self, tag: _Tag, source: bytes) -> bytes:
        """`source` (the tag as it goes out) with the nonce after its name, if it is inline.

        External scripts are left to the CSP's host lists: a nonce would exempt any host.
        """
        if any(name in _UNSTAMPED for name, _ in tag.attrs):
            return source
        return source[: tag.name_end] + self._nonce + source[tag.name_end :]

    def _neutralise(self, tag: _Tag, match: Match) -> bytes:
        """The tag with its loading attributes renamed and the reason stated first."""
        rename = set(_URL_ATTRS.get(tag.name, ()))
        added = b' data-cg-category="' + match.category.encode() + b'"'
        if match.service:
            added += b' data-cg-service="' + match.service.encode() + b'"'
        if tag.name == b"script":
            rename.add(b"type")
            added = b' type="text/plain"' + added
        elif tag.name in (b"iframe", b"frame"):
            rename.add(b"srcdoc")
            added += b' srcdoc="' + self._placeholder(match) + b'"'
        source = tag.source
        pieces = [source[: tag.name_end], added]
        last = tag.name_end
        for name, start in tag.attribute_offsets():
            if name in rename:
                pieces += (source[last:start], b"data-cg-")
                last = start
        pieces.append(source[last:])
        return b"".join(pieces)


class _Tag:
    """A start tag that may load something; its attributes are read once, located on demand."""

    __slots__ = ("attrs", "found", "name", "source")

    def __init__(self, buf: bytes, found: re.Match[bytes]) -> None:
        self.found = found  # a match on the lower-cased buffer
        self.source = buf[found.start() : found.end()]
        self.name = found.group(1)
        # (name, lower-cased value without quotes); a value-less attribute has b""
        self.attrs: list[tuple[bytes, bytes]] = (
            [
                (name, value[1:-1] if value[:1] in (b'"', b"'") else value)
                for name, value in _ATTR.findall(found.string, found.start(2), found.end(2))
            ]
            if found.end(2) > found.start(2)
            else []
        )

    def explicit(self) -> bytes | None:
        """The site owner's own word on an element: data-consent="<category>"."""
        for name, value in self.attrs:
            if name == b"data-consent":
                return value
        return None

    def executable_inline(self) -> bool:
        types = [value for name, value in self.attrs if name == b"type"]
        if any(name == b"src" for name, _ in self.attrs):
            return False
        return not types or types[0].strip() in _JS_TYPES

    def attribute_offsets(self) -> list[tuple[bytes, int]]:
        """(name, offset in `source`) of each attribute, for renaming."""
        found = self.found
        base = found.start()
        return [
            (attr.group(1), attr.start(1) - base)
            for attr in _ATTR.finditer(found.string, found.start(2), found.end(2))
        ]

    @property
    def name_end(self) -> int:
        return self.found.end(1) - self.found.start()


def _urls(attr_name: bytes, value: bytes) -> list[str]:
    text = value.decode("latin-1")
    if "&" in text:
        text = unescape(text)
    if attr_name.endswith(b"srcset"):
        return _SRCSET_URL.findall(text)
    return [text]
