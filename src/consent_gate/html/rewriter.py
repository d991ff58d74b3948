"""A streaming, byte-faithful HTML rewriter that holds back refused trackers.

It follows the HTML tokenizer only as far as it must to know what is markup: comments, bogus
comments, raw-text and RCDATA elements, script data with its escape states, attribute quoting, and
the tree builder's foreign content (SVG and MathML, where none of those elements is raw text).
One possessive regex copies everything uninteresting in C; Python only sees the few tags that can
load something. Where the browser's two parses of `<noscript>` (scripting on or off) disagree, the
rewriter takes the one that shows it more tags, so it errs towards holding back, never towards
letting through. Untouched bytes are emitted exactly as they arrived.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape

from ..rules import Blocker, Match
from ..urls import DOCUMENT, absolute, target
from .grammar import (
    BOGUS_END,
    BREAKOUT,
    CDATA_END,
    COMMENT_END,
    DOCUMENT_ATTRS,
    END_TAG,
    FOREIGN_ONLY,
    FOREIGN_SCRIPT_END,
    HTML_POINTS,
    NEVER_OPEN,
    PRESENTATION,
    RAW_END,
    SCRIPT_TOKEN,
    START_TAG,
    STYLED,
    TEXT_POINTS,
    TRACKED,
    UNSTAMPED,
    URL_ATTRS,
    copier,
    end_tag_at,
    foreign_copier,
)
from .stylesheets import css_urls, may_load
from .tags import Tag, attribute_text, attribute_urls, data_url

__all__ = ["MAX_INLINE_SCRIPT", "HtmlRewriter", "Placeholder"]

# srcdoc markup for a held-back frame, already escaped for a double-quoted attribute.
Placeholder = Callable[[Match], bytes]

_DATA, _RAW, _SCRIPT, _PLAINTEXT = range(4)

# Foreign content (SVG, MathML): no raw text there, "/>" closes, CDATA sections exist. Python
# follows the tags that change how markup reads, keeping those open as (name, namespace, kind).
_FOREIGN, _HTML_POINT, _TEXT_POINT = range(3)

_Open = tuple[bytes, bytes, int]

# End tags that in foreign content close a foreign element or nothing, never an HTML one.
_CLOSES_FOREIGN_ONLY = FOREIGN_ONLY | NEVER_OPEN

# Script data escape states (HTML tokenizer "script data", "escaped", "double escaped").
_PLAIN, _ESCAPED, _DOUBLE = range(3)

# Inline script text examined before deciding. A longer executable script is held back unless
# marked with data-consent: under the service its first MAX_INLINE_SCRIPT bytes name, else
# under the first refused category (fail closed, the same for any chunking).
MAX_INLINE_SCRIPT = 256 * 1024

MAX_TAG = 1024 * 1024  # a tag longer than this is turned into text ("&lt;"), unexamined

# A <style>'s text examined before deciding whether it is held (the same in any chunking).
_MAX_SHEET = 1024 * 1024

_MAX_NESTING = 4  # srcdoc documents rewritten within each other

_TAIL = len(b"</noscript>") + 1  # longest marker that can straddle two chunks

_COALESCE = 4096  # bytes waiting in the buffer from which small pieces are gathered

# What a foreign <style>'s text runs to: its end tag, unless inside a CDATA section, a comment or
# a bogus comment (their "</style>" ends nothing); an unfinished one waits for more input.
_FOREIGN_SHEET = re.compile(
    rb"<!\[cdata\[(?:.*?\]\]>)?|<!--(?:.*?--!?>)?|<[!?](?:[^>]*>)?|</style[\t\n\f\r />]", re.S
)

# Markup inside a foreign <style>, which its text (what it applies) leaves out.
_MARKUP = re.compile(rb"<!\[cdata\[|\]\]>|<[^>]*>", re.IGNORECASE)

_STYLE_ATTRS = PRESENTATION | {b"style"}

# SVG animation gives the attribute it names these values: of a presentation attribute
# (`<set attributeName="filter" to="url(...)">`), CSS that Chromium loads from.
_ANIMATIONS = frozenset({b"set", b"animate"})
_ANIMATED = frozenset({b"to", b"from", b"by", b"values"})

_FRAME = re.compile(rb"<frame[\t\n\f\r />]")

# Tags whose data: URL is code the browser runs or applies, which loads what it names: a
# script, a style sheet or a module preload (`<link href="data:text/css,@import url(...)">`).
_RUN_FROM_DATA = frozenset({b"script", b"link"})

# What starts markup in text the preload scanner reads as HTML (a lower-cased buffer).
_TAG_OPEN = re.compile(rb"<[a-z!/?]")


def _refreshes(equiv: bytes) -> bool:
    """Whether a `<meta http-equiv>` is a refresh, its character references undone as the
    browser undoes them (`http-equiv="re&#102;resh"` refreshes too)."""
    text = unescape(attribute_text(equiv)) if b"&" in equiv else equiv.decode("latin-1")
    return text.strip(" \t\n\f\r").lower() == "refresh"


def _quoted(text: bytes) -> bytes:
    """Text as the value of a double-quoted attribute."""
    return text.replace(b"&", b"&amp;").replace(b'"', b"&quot;")


class HtmlRewriter:
    """Rewrites one HTML response: feed chunks as they come, then close()."""

    def __init__(
        self,
        blocker: Blocker,
        placeholder: Placeholder,
        nonce: str | None = None,
        url: str = DOCUMENT,
    ) -> None:
        """`nonce`: stamped on every inline script that has none, so it passes a nonce-based
        CSP (held-back ones too: banner.js copies it when it runs them after consent).
        `url`: the page's address, which relative URLs resolve against."""
        self._blocker = blocker
        self._base = url  # what relative URLs resolve against: `url` or the first <base href>
        self._based = False  # browsers take the first <base href> only
        self._base_held: Match | None = None  # that first one, if it is held back
        self._moved = False  # the base names another host: every loading tag is examined
        self._styles = False  # CSS that may load was seen: styled tags are examined
        self.first: Match | None = None  # the first element held back
        self._nesting = 0  # how deep in frames' own documents (srcdoc) this one is
        self._placeholder = placeholder
        self._nonce = b' nonce="' + nonce.encode("ascii") + b'"' if nonce else b""
        self._buf = b""
        self._low = b""  # the buffer lower-cased: what waits is not lowered again per chunk
        self._later: list[bytes] = []  # pieces not yet read, while a long construct waits
        self._later_size = 0
        self._mode = _DATA
        self._end_re: re.Pattern[bytes] = BOGUS_END[0]
        self._consume_end = False  # a comment's end marker belongs to the comment
        self._noscript = 0
        self._script_state = _PLAIN
        self._scan = 0  # where the script scan resumes in the buffer
        self._held: Tag | None = None  # inline script start tag awaiting its text
        self._foreign: list[_Open] = []  # open SVG/MathML elements, innermost last
        # Foreign content may have ended (see `_end_tag`): what reads differently in HTML, a
        # CDATA section (a bogus comment there, up to its first ">"), is read as HTML reads it.
        # Elsewhere foreign content shows the more tags (no raw text), so it is kept.
        self._unsure = False
        # A <frameset> was seen: inside one a browser ignores <style>, <script> and the other
        # raw-text elements, so the <frame>s in their text load (see `_raw_text`).
        self._frameset = False
        # In a CDATA section too long to read as markup too: no "<" in it starts anything.
        self._escape = False
        # In the text of a held <style> too long to wait for: it goes on into data-cg-text.
        self._quoted = False

    @property
    def based(self) -> bool:
        """Whether a `<base href>` was seen: relative URLs after it go where it says."""
        return self._based

    def feed(self, chunk: bytes) -> bytes:
        if not self._buf:
            return self._run(chunk, chunk.lower(), final=False)
        waiting = len(self._buf)
        if waiting >= _COALESCE and self._later_size + len(chunk) < waiting:
            # A construct waits (an inline script for its end): small pieces are read once as
            # many have come as wait, not each with the whole buffer again (linear, not square).
            self._later.append(chunk)
            self._later_size += len(chunk)
            return b""
        if self._later:
            chunk = b"".join([*self._later, chunk])
            self._later, self._later_size = [], 0
        return self._run(self._buf + chunk, self._low + chunk.lower(), final=False)

    def close(self) -> bytes:
        if self._later:
            pending = b"".join(self._later)
            self._later, self._later_size = [], 0
            self._buf, self._low = self._buf + pending, self._low + pending.lower()
        return self._run(self._buf, self._low, final=True)

    def _run(self, buf: bytes, low: bytes, final: bool) -> bytes:
        marks = b"data-consent" in low
        if not self._styles:  # once the page has shown CSS that may load, it stays so
            self._styles = any(marker in low for marker in STYLED)
        skip, moved = self._skipper(marks), self._moved
        out: list[bytes] = []
        pos, size, more = 0, len(buf), True
        while more and pos < size:
            if self._mode == _DATA:
                copy = self._copier(marks) if self._foreign else skip
                end = copy.match(low, pos).end()  # type: ignore[union-attr]
                if end > pos:
                    out.append(buf[pos:end])
                    pos = end
                if pos < size:
                    pos, more = self._markup(buf, low, pos, out, final)
                    if self._moved != moved:  # a <base href> moved relative URLs elsewhere
                        skip, moved = self._skipper(marks), self._moved
            elif self._mode == _SCRIPT:
                pos, more = self._script(buf, low, pos, out, final)
            elif self._mode == _RAW:
                pos, more = self._raw(buf, low, pos, out, final)
            else:  # plaintext, to the end: unless a frameset document ignored it
                pos, more = self._raw_text(buf, low, pos, size, out, final), False
        if final and pos < size:
            out.append(buf[pos:])  # an unfinished construct at the end passes through as is
            pos = size
        self._scan = max(0, self._scan - pos)
        self._buf = buf[pos:]
        self._low = low[pos:]
        return b"".join(out)

    def _copier(self, marks: bool) -> re.Pattern[bytes]:
        """What copies markup Python need not see, inside foreign content."""
        if self._foreign[-1][2] == _FOREIGN:
            return foreign_copier(self._styles)
        return self._skipper(marks, in_point=True)

    def _skipper(self, marks: bool, in_point: bool = False) -> re.Pattern[bytes]:
        blocker = self._blocker
        return copier(
            blocker.hosts,
            "all" if self._moved else blocker.examines,
            marks,
            bool(self._nonce),
            self._styles,
            in_point,
        )

    def _markup(
        self, buf: bytes, low: bytes, pos: int, out: list[bytes], final: bool
    ) -> tuple[int, bool]:
        """Handle the construct at `buf[pos] == '<'`; (pos, False) waits for more input."""
        size = len(buf)
        if size - pos < 4 and not final:
            return pos, False
        second = low[pos + 1 : pos + 2]
        if (
            second == b"!"
            and self._foreign
            and not self._unsure
            and b"<![CDATA["[: size - pos] == buf[pos : pos + 9]
        ):
            if size - pos < 9 and not final:
                return pos, False
            if size - pos >= 9:  # a CDATA section (case matters), text up to "]]>"
                return self._cdata(buf, low, pos, out, final)
        if second == b"!":
            if not low.startswith(b"<!--", pos):
                return self._enter_raw(buf, pos, pos + 2, BOGUS_END, out)
            if size - pos < 6 and not final:
                return pos, False
            if low[pos + 4 : pos + 5] == b">" or low[pos + 4 : pos + 6] == b"->":
                end = low.index(b">", pos + 4) + 1  # "<!-->" and "<!--->" are whole comments
                out.append(buf[pos:end])
                return end, True
            return self._enter_raw(buf, pos, pos + 4, COMMENT_END, out)
        if second == b"?":
            return self._enter_raw(buf, pos, pos + 2, BOGUS_END, out)
        if second == b"/":
            third = low[pos + 2 : pos + 3]
            if b"a" <= third <= b"z":
                end_tag = END_TAG.match(low, pos)
                if end_tag is None:
                    return self._incomplete(buf, pos, out, final)
                self._end_tag(end_tag.group(1))
                out.append(buf[pos : end_tag.end()])
                return end_tag.end(), True
            if third == b">":
                out.append(buf[pos : pos + 3])
                return pos + 3, True
            return self._enter_raw(buf, pos, pos + 2, BOGUS_END, out)
        if b"a" <= second <= b"z":
            start_tag = START_TAG.match(low, pos)
            if start_tag is None:
                return self._incomplete(buf, pos, out, final)
            return self._start_tag(buf, start_tag, out, final)
        out.append(b"<")
        return pos + 1, True

    def _incomplete(self, buf: bytes, pos: int, out: list[bytes], final: bool) -> tuple[int, bool]:
        size = len(buf)
        if not final and size - pos <= MAX_TAG:
            return pos, False
        if final:  # the browser drops a tag the page ends in: nothing in it may change
            out.append(buf[pos:])
            return size, False
        # Too long to examine: it goes on as text, as which the rewriter reads what follows.
        # Left a "<", the browser would read a tag (a tracker's, whatever its padding).
        out.append(b"&lt;")
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

    def _cdata(
        self, buf: bytes, low: bytes, pos: int, out: list[bytes], final: bool
    ) -> tuple[int, bool]:
        """A CDATA section in foreign content: text to the parser, up to "]]>". Chromium's
        preload scanner, which does not follow foreign content, reads "<![CDATA[" as a bogus
        comment up to the first ">" and the rest as markup, and fetches what that loads: so
        the rest is also rewritten as markup, its tags held in the text (all the parser sees of
        them), the section waiting whole (up to MAX_INLINE_SCRIPT) until its end is here."""
        start = pos + 9
        ends = CDATA_END[1 if self._noscript else 0]
        found = ends.search(low, start)
        if found is None and not final:
            if len(buf) - start < MAX_INLINE_SCRIPT:
                return pos, False
            # Too long to wait for: read as text on, no "<" in it starting anything.
            keep = len(buf) - _TAIL
            out.append(buf[pos:start] + buf[start:keep].replace(b"<", b"&lt;"))
            self._mode, self._end_re, self._consume_end = _RAW, ends, True
            self._escape = True
            return keep, True
        stop = found.start() if found else len(buf)
        # "]]>" is the section's; a "</noscript" (the other reading of <noscript>) is not.
        end = found.end() if found and low[stop : stop + 2] != b"</" else stop
        first = low.find(b">", start, stop)
        if first == -1 or _TAG_OPEN.search(low, first + 1, stop) is None:
            out.append(buf[pos:end])  # nothing the scanner reads differently
            return end, True
        out.append(buf[pos : first + 1])
        rest = buf[first + 1 : end]  # with "]]>": a tag left open reads on to its ">"
        if self._nesting >= _MAX_NESTING:
            out.append(rest.replace(b"<", b"&lt;"))
            return end, True
        inner = HtmlRewriter(self._blocker, self._placeholder, url=self._base)
        inner._nesting = self._nesting + 1
        out.append(inner.feed(rest))
        if found is None:
            out.append(inner.close())  # the page ends in it
        elif inner._buf[:1] == b"<":  # still open (a quoted value): it reads on past the end
            out.append(b"&lt;" + inner._buf[1:])
        else:
            out.append(inner._buf)
        self.first = self.first or inner.first
        return end, True

    def _raw(
        self, buf: bytes, low: bytes, pos: int, out: list[bytes], final: bool
    ) -> tuple[int, bool]:
        if self._held is not None:  # a <style>, decided on its text
            pos, decided = self._held_sheet(buf, low, pos, out, final)
            if not decided:
                return pos, False
        found = self._end_re.search(low, pos)
        if self._quoted:  # a held sheet's text, streaming into its data-cg-text
            stop = found.start() if found else len(buf) if final else max(pos, len(buf) - _TAIL)
            out.append(_quoted(buf[pos:stop]))
            if found is None and not final:
                return stop, False
            out.append(b'">')
            self._quoted = False
            if found is None:
                return stop, False
            self._mode = _DATA
            return stop, True
        text = not self._consume_end  # a raw-text element's, not a comment's
        if found is None:
            keep = len(buf) if final else max(pos, len(buf) - _TAIL)
            keep = self._raw_text(buf, low, pos, keep, out, final) if text else keep
            if not text:
                out.append(self._escaped(buf[pos:keep]))
            return keep, False
        end = found.start()
        if self._consume_end and low[end : end + 2] != b"</":
            end = found.end()
        if text:
            self._raw_text(buf, low, pos, end, out, True)
        else:
            out.append(self._escaped(buf[pos:end]))
        self._mode = _DATA
        self._escape = False
        return end, True

    def _escaped(self, text: bytes) -> bytes:
        return text.replace(b"<", b"&lt;") if self._escape else text

    def _raw_text(
        self, buf: bytes, low: bytes, start: int, stop: int, out: list[bytes], whole: bool
    ) -> int:
        """Emit the text of a raw-text element or script up to `stop`; returns where it stopped.

        After a <frameset> the browser may ignore the element (in a frameset document; a
        <plaintext> too) and read its text as markup: the <frame>s in it are held as if they
        were markup. `whole`: the text ends at `stop`; else a frame tag cut there waits for
        more input."""
        if not self._frameset:
            out.append(buf[start:stop])
            return stop
        if not whole and (cut := low.rfind(b"<", max(start, stop - 6), stop)) != -1:
            stop = cut  # "<fram" at the end may be a frame's tag: wait for it
        at = start
        for frame in _FRAME.finditer(low, start, stop):
            if frame.start() < at:
                continue
            found = START_TAG.match(low, frame.start(), stop)
            if found is None:
                out.append(buf[at : frame.start()])
                if not whole and len(buf) - frame.start() <= MAX_TAG:
                    return frame.start()
                # Unreadable here (too long, or running past the text): text either way.
                out.append(b"&lt;")
                at = frame.start() + 1
                continue
            tag = Tag(buf, found)
            match = self._classify(tag)
            out += (buf[at : found.start()], self._neutralise(tag, match) if match else tag.source)
            at = found.end()
        out.append(buf[at:stop])
        return stop

    def _end_tag(self, name: bytes) -> None:
        """Close what an end tag closes: a foreign element (and those inside it), `<noscript>`.

        In foreign content, an end tag naming no open foreign element may close an HTML element
        around it, and so end the foreign content, or close nothing: which, only the tree knows.
        From then on the rewriter reads both ways (see `_unsure`)."""
        stack = self._foreign
        if stack and name in (b"p", b"br"):
            self._breakout()
        for i in range(len(stack) - 1, -1, -1):
            if stack[i][0] == name:
                del stack[i:]
                break
        else:
            if stack and stack[-1][2] == _FOREIGN and name not in _CLOSES_FOREIGN_ONLY:
                self._unsure = True
            if name == b"noscript":
                self._noscript = max(0, self._noscript - 1)
        if not stack:
            self._unsure = False

    def _breakout(self) -> None:
        """An HTML tag in foreign content closes it, up to an HTML integration point."""
        stack = self._foreign
        while stack and stack[-1][2] == _FOREIGN:
            stack.pop()
        if not stack:
            self._unsure = False

    def _html_rules(self, name: bytes) -> bool:
        """Whether a start tag at this point of foreign content is read as HTML."""
        top, namespace, kind = self._foreign[-1]
        if kind == _HTML_POINT:
            return True
        if kind == _TEXT_POINT:
            return name not in (b"mglyph", b"malignmark")
        return top == b"annotation-xml" and namespace == b"math" and name == b"svg"

    def _held_sheet(
        self, buf: bytes, low: bytes, pos: int, out: list[bytes], final: bool
    ) -> tuple[int, bool]:
        """Emit a held <style> start tag once its text is known: held back (type="text/plain")
        if the sheet loads from a refused tracker. (pos, False) waits for more input."""
        held = self._held
        assert held is not None
        text_start = pos + len(held.source)
        found = self._end_re.search(low, max(self._scan, text_start))
        if found is None and not final and len(buf) - text_start < _MAX_SHEET:
            self._scan = max(text_start, len(buf) - _TAIL)  # where the search resumes
            return pos, False
        text = low[text_start : min(found.start() if found else len(buf), text_start + _MAX_SHEET)]
        match = None
        if may_load(text, lowered=True):  # read as written: a data: URL's base64 is not lowered
            for url in css_urls(attribute_text(buf[text_start : text_start + len(text)])):
                if match := self._sheet_url(url):
                    break
        self._held = None
        if match is None:
            out.append(held.source)
            return text_start, True
        # Chromium's preload scanner fetches a sheet's @import whatever its type: the text waits
        # in an attribute, which it does not read, and banner.js puts it back on release. Cut
        # short (too long to wait for, or the page ends in it), the rest streams into it.
        out.append(self._neutralise(held, match)[:-1] + b' data-cg-text="')
        if found is None:
            self._quoted = True
            return text_start, True
        out.append(_quoted(buf[text_start : found.start()]) + b'">')
        return found.start(), True

    def _start_tag(
        self, buf: bytes, found: re.Match[bytes], out: list[bytes], final: bool
    ) -> tuple[int, bool]:
        pos, end = found.span()
        name = found.group(1)
        closing = found.group(3).endswith(b"/")
        if self._foreign and not self._html_rules(name):
            if name not in BREAKOUT and (name != b"font" or not Tag(buf, found).styles_font()):
                return self._foreign_tag(buf, found, out, closing, final)
            self._breakout()
        if name in (b"svg", b"math"):
            if not closing:
                self._foreign.append((name, name, _FOREIGN))
            tag = Tag(buf, found) if self._blocker.may_match(found.string, pos, end) else None
            match = self._classify(tag) if tag else None  # its style attribute may load
            out.append(self._neutralise(tag, match) if tag and match else buf[pos:end])
            return end, True
        if name == b"frameset":
            self._frameset = True
        if name == b"noscript":
            self._noscript += 1
            out.append(buf[pos:end])
            return end, True
        if name == b"plaintext":
            self._mode = _PLAINTEXT
            out.append(buf[pos:end])
            return end, True
        tag = match = None
        if self._moved or name == b"base" or self._blocker.may_match(found.string, pos, end):
            tag = Tag(buf, found)
            match = self._classify(tag)
            if name == b"base" and tag.value(b"href") is not None:
                match = self._rebase(tag, match)
        if name == b"script":  # ("/>" counts only in foreign content)
            self._mode = _SCRIPT
            self._script_state = _PLAIN
            self._scan = end
            if match is None:
                tag = tag or Tag(buf, found)
                if self._blocker.refused and tag.loads_inline() and tag.explicit() is None:
                    self._held = tag
                    return pos, True  # the tag stays in the buffer until its text is known
        if name == b"style" and match is None and self._blocker.refused:
            tag = tag or Tag(buf, found)
            if tag.explicit() is None:
                self._held = tag  # until its text is known, like an inline script
                self._scan = end
                self._mode = _RAW
                self._end_re = RAW_END[name][1 if self._noscript else 0]
                self._consume_end = False
                return pos, True
        source = self._neutralise(tag, match) if tag and match else buf[pos:end]
        if self._nonce and name == b"script":
            source = self._stamp(tag or Tag(buf, found), source)
        out.append(source)
        if name in RAW_END:
            self._mode = _RAW
            self._end_re = RAW_END[name][1 if self._noscript else 0]
            self._consume_end = False
        return end, True

    def _foreign_tag(
        self, buf: bytes, found: re.Match[bytes], out: list[bytes], closing: bool, final: bool
    ) -> tuple[int, bool]:
        """A start tag in SVG or MathML: no raw text follows; an inline script's text is markup,
        so its decision waits only until its end tag is in sight, then markup goes on."""
        pos, end = found.span()
        name, low = found.group(1), found.string
        tag = Tag(buf, found)
        match = self._classify(tag) if self._blocker.may_match(low, pos, end) else None
        if (
            match is None
            and name == b"script"
            and not closing  # "<script/>" in foreign content has no text
            and self._blocker.refused
            and tag.loads_inline()
            and tag.explicit() is None
        ):
            text_end = FOREIGN_SCRIPT_END.search(low, end)
            if text_end is not None:
                match = self._decide_inline(low[end : text_end.start()], True)
            elif final or len(low) - end >= MAX_INLINE_SCRIPT + _TAIL:
                match = self._decide_inline(low[end : end + MAX_INLINE_SCRIPT + 1], final)
            else:
                return pos, False  # wait for its end, or for enough of it to decide
        if (
            match is None
            and name == b"style"
            and not closing
            and self._blocker.refused
            and tag.explicit() is None
        ):
            return self._foreign_sheet(buf, tag, out, final)
        source = self._neutralise(tag, match) if match else buf[pos:end]
        out.append(self._stamp(tag, source) if self._nonce and name == b"script" else source)
        if not closing and name in TRACKED:
            parent_ns = self._foreign[-1][1]
            kind = _FOREIGN
            if name in HTML_POINTS[parent_ns] or (parent_ns == b"math" and tag.html_annotation()):
                kind = _HTML_POINT
            elif name in TEXT_POINTS[parent_ns]:
                kind = _TEXT_POINT
            self._foreign.append((name, parent_ns, kind))
        return end, True

    def _foreign_sheet(
        self, buf: bytes, tag: Tag, out: list[bytes], final: bool
    ) -> tuple[int, bool]:
        """An SVG (or MathML) <style>: its text is markup, yet SVG applies it as a sheet and
        Chromium's preload scanner fetches its `@import`s. Held like an HTML one (its text moved
        into data-cg-text) if it loads from a refused tracker; else it goes on as markup."""
        low = tag.found.string
        pos, end = tag.found.span()
        text_end = None
        scan = end
        while (found := _FOREIGN_SHEET.search(low, scan)) is not None:
            token = found.group()
            if token.startswith(b"</"):
                text_end = found.start()
                break
            if not token.endswith(b">") or token in (b"<!", b"<?"):
                break  # unfinished: where its text ends is not known yet
            scan = found.end()
        if text_end is None and not final and len(low) - end < MAX_INLINE_SCRIPT:
            return pos, False
        stop = len(low) if text_end is None else text_end
        text = low[end:stop]
        written = buf[end:stop]  # as written: a data: URL's base64 is not lower-cased
        sheet = unescape(attribute_text(_MARKUP.sub(b"", written)))
        match = None
        if may_load(sheet.encode("utf-8", "replace")) or may_load(text, lowered=True):
            for url in css_urls(sheet) + css_urls(attribute_text(written)):
                if match := self._sheet_url(url):
                    break
        if match is None:
            out.append(buf[pos:end])
            return end, True
        held = self._neutralise(tag, match)
        out.append(held[:-1] + b' data-cg-text="' + _quoted(written) + b'">')
        return stop, True

    def _decide_inline(self, text: bytes, whole: bool) -> Match | None:
        """The decision on an executable inline script, `text` its (lower-cased) text or more
        than MAX_INLINE_SCRIPT bytes of it; `whole`: the text ended there."""
        match = self._blocker.inline(text[:MAX_INLINE_SCRIPT])
        if match is None and (not whole or len(text) > MAX_INLINE_SCRIPT):
            match = Match(min(self._blocker.refused))  # too long to examine: fail closed
        return match

    def _script(
        self, buf: bytes, low: bytes, pos: int, out: list[bytes], final: bool
    ) -> tuple[int, bool]:
        """Find where script text ends, honouring its escape states; decide held inline text."""
        held = self._held
        text_start = pos + len(held.source) if held else pos
        token_re = SCRIPT_TOKEN[1 if self._noscript else 0]
        scan = max(self._scan, text_start)
        end = self._plain_end(low, scan) if self._script_state == _PLAIN else None
        while end is None and (token := token_re.search(low, scan)) is not None:
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
            if end is None and not final and size - text_start < MAX_INLINE_SCRIPT + _TAIL:
                self._scan = max(scan, size - _TAIL)
                return pos, False
            # Its end is here, or far enough for the text to be longer than can be examined.
            if end is not None or final:
                match = self._decide_inline(low[text_start : size if end is None else end], True)
            else:
                match = self._decide_inline(low[text_start:size], False)
            source = self._neutralise(held, match) if match else held.source
            out.append(self._stamp(held, source) if self._nonce else source)
            self._held = None
            pos = text_start
        if end is None:
            keep = size if final else max(pos, scan, size - _TAIL)
            self._scan = keep
            return self._raw_text(buf, low, pos, keep, out, final), False
        self._raw_text(buf, low, pos, end, out, True)
        self._mode = _DATA
        self._scan = 0
        return end, True

    def _plain_end(self, low: bytes, scan: int) -> int | None:
        """Where script text still in its plain state ends, if no "<!--" comes first (which
        starts the escape states the tokens' expression follows): found with `find`, ten
        times as fast on real scripts. None: not in the buffer, or it takes the expression."""
        end = end_tag_at(low, scan, b"</script")
        if self._noscript:
            other = end_tag_at(low, scan, b"</noscript")
            if other != -1 and (end == -1 or other < end):
                end = other
        if end == -1 or low.find(b"<!--", scan, end) != -1:
            return None
        return end

    def _classify(self, tag: Tag) -> Match | None:
        explicit = tag.explicit()
        if explicit is not None:
            category = explicit.decode("ascii", "replace").strip()
            held = self._blocker.refusal.holds(category) and self._loads_marked(tag)
            return Match(category) if held else None
        if tag.name == b"meta" and not _refreshes(tag.value(b"http-equiv") or b""):
            return None
        url_attrs = URL_ATTRS.get(tag.name, ())
        script = tag.name == b"script"
        for name, value in tag.attrs:
            if value and name in url_attrs:
                for url in attribute_urls(name, value):
                    if match := self._blocker.url(url, script, tag.name, self._base):
                        return match
        if tag.name in _RUN_FROM_DATA:
            for attr in url_attrs:
                # A quirks-mode page applies a sheet whatever its type (`data:font/woff,...`).
                code = tag.data(attr, media=tag.name == b"link")
                if code is not None and (match := self._code(code)):
                    return match
        for attr in DOCUMENT_ATTRS.get(tag.name, ()):
            document = tag.document(attr)
            if document and (
                match := self._inner(document)
                or self._blocker.inline(document.lower())
                or self._xml_loads(document)
            ):
                return match
        return self._style(tag)

    def _style(self, tag: Tag) -> Match | None:
        """The refused service a style attribute (`background: url(...)`) or an SVG
        presentation attribute (`fill="url(...)"`, or an animation's value for one) loads from."""
        animation = tag.name in _ANIMATIONS
        for name, value in tag.attrs:
            styled = name in _STYLE_ATTRS or (animation and name in _ANIMATED)
            if styled and (match := self._css(value)):
                return match
        return None

    def _loads_marked(self, tag: Tag) -> bool:
        """Whether a tag its owner marked has anything to hold: a tag whose name loads (a
        `<style>` by its text), or a style that names a URL. Others stay as they are, as the
        copier leaves them whatever the chunks (it reads style attributes only once the page
        has shown CSS that loads)."""
        return (
            tag.name in URL_ATTRS
            or tag.name == b"style"
            or any(name in _STYLE_ATTRS and self._css_urls(value) for name, value in tag.attrs)
        )

    def _css(self, value: bytes) -> Match | None:
        """The refused service a CSS attribute value loads from first."""
        for url in self._css_urls(value):
            if match := self._sheet_url(url):
                return match
        return None

    @staticmethod
    def _css_urls(value: bytes) -> list[str]:
        """The URLs a CSS attribute value names."""
        if b"&" in value or may_load(value):
            return css_urls(
                unescape(attribute_text(value)) if b"&" in value else attribute_text(value)
            )
        return []

    def _code(self, code: bytes, depth: int = 0) -> Match | None:
        """The refused service a script or style sheet from a data: URL loads from: its text
        read as an inline script's is, and its CSS URLs (those of a data: sheet it imports
        too, to `_MAX_NESTING` deep)."""
        low = code.lower()
        if match := self._blocker.inline(low):
            return match
        if not may_load(low, lowered=True):
            return None
        for url in css_urls(attribute_text(code)):
            if match := self._sheet_url(url, depth):
                return match
        return None

    def _sheet_url(self, url: str, depth: int = 0) -> Match | None:
        """The refused service a URL in CSS loads from: its own, or (a data: sheet it may
        @import) what its text loads."""
        if match := self._blocker.url(url, base=self._base):
            return match
        if depth < _MAX_NESTING and (inner := data_url(url, media=False)) is not None:
            return self._code(inner, depth + 1)
        return None

    def _xml_loads(self, document: bytes) -> Match | None:
        """An XML document that can spell a URL no HTML reading shows (an entity its own DTD
        declares) or load a style sheet (`<?xml-stylesheet?>`) is held: fail closed."""
        if self._blocker.refused and (b"<!ENTITY" in document or b"<?xml-stylesheet" in document):
            return Match(min(self._blocker.refused))
        return None

    def _inner(self, document: bytes) -> Match | None:
        """What a frame's own document (srcdoc, a data: URL) would hold back first. Frames
        nested deeper than `_MAX_NESTING` are searched as text, so depth costs no recursion."""
        if self._nesting >= _MAX_NESTING:
            return self._blocker.inline(document.lower())
        inner = HtmlRewriter(self._blocker, self._placeholder, url=self._base)
        inner._nesting = self._nesting + 1
        inner.feed(document)
        inner.close()
        return inner.first

    def _rebase(self, tag: Tag, match: Match | None) -> Match | None:
        """The first <base href> moves relative URLs, unless it is held back itself (then the
        page's own assets, the gate's included, would load from a tracker). What this one's
        decision is: once the first is held, a browser takes the next one, so every later one
        is held with it (released with it, the first counts again)."""
        if self._based:
            return match or self._base_held
        self._based = True
        if match is not None:
            self._base_held = match
            return match
        href = tag.value(b"href") or b""
        base = absolute(unescape(href.decode("latin-1")), self._base)
        if base is None:
            return None
        here, there = target(self._base), target(base)
        self._moved = self._moved or here is None or there is None or here.host != there.host
        self._base = base
        return None

    def _stamp(self, tag: Tag, source: bytes) -> bytes:
        """`source` (the tag as it goes out) with the nonce after its name, if it is inline.

        External scripts are left to the CSP's host lists: a nonce would exempt any host.
        """
        if any(name in UNSTAMPED for name, _ in tag.attrs):
            return source
        return source[: tag.name_end] + self._nonce + source[tag.name_end :]

    def _neutralise(self, tag: Tag, match: Match) -> bytes:
        """The tag with its loading attributes renamed and the reason stated first."""
        if self.first is None:
            self.first = match
        rename = set(URL_ATTRS.get(tag.name, ()))
        added = b' data-cg-category="' + match.category.encode() + b'"'
        if match.service:
            added += b' data-cg-service="' + match.service.encode() + b'"'
        if tag.name in (b"script", b"style"):  # a style sheet of another type is not applied
            rename.add(b"type")
            added = b' type="text/plain"' + added
        elif tag.name in (b"iframe", b"frame"):
            rename.add(b"srcdoc")
            added += b' srcdoc="' + self._placeholder(match) + b'"'
        # A refused style goes; on a marked tag, any style that loads.
        styled = self._css_urls if tag.explicit() is not None else self._css
        rename.update(name for name, value in tag.attrs if name in _STYLE_ATTRS and styled(value))
        source = tag.source
        pieces = [source[: tag.name_end], added]
        last = tag.name_end
        for name, start in tag.attribute_offsets():
            if name in rename:
                pieces += (source[last:start], b"data-cg-")
                last = start
        pieces.append(source[last:])
        return b"".join(pieces)
