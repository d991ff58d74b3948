"""One start tag the rewriter reads: its attributes as the tokenizer reads them, and what
it loads (URLs from every loading attribute, `srcset`, `data:` documents, inline styles).
"""

from __future__ import annotations

import base64
import re
from html import unescape
from urllib.parse import unquote_to_bytes

from ..charsets import as_utf8
from ..http import content_type
from ..urls import refresh_url
from .grammar import ATTR, LOADING_TYPES

__all__ = ["Tag", "attribute_text", "attribute_urls", "data_url", "srcset_urls"]

_SRCSET_URL = re.compile(r"\s*([^\s,]+)[^,]*,?")
# Between the URLs of a `ping` list (HTML's "space-separated tokens": ASCII white space).
_TOKENS = re.compile(r"[^\t\n\f\r ]+")

_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_LEADING = re.compile(r"[\x00-\x20]*+")
_LEADING_BYTES = re.compile(rb"[\x00-\x20]*+")
_HEAD = 256  # of a URL, enough to tell a data: URL and its media type, tabs and newlines aside

_NO_TABS_OR_NEWLINES = str.maketrans("", "", "\t\n\r")
# A data: URL of media (a favicon's, say), which no script or style sheet runs from.
_MEDIA_DATA = re.compile(r"data:[\t\n\f\r ]*(?:image|audio|video|font)/", re.IGNORECASE)

# A namespace prefix of an element or attribute name in an XML document.
_PREFIX = re.compile(rb"(</?|[\t\n\r ])[A-Za-z_][\w.-]*:(?=[A-Za-z_])")


class Tag:
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
                for name, value in ATTR.findall(found.string, found.start(2), found.end(2))
            ]
            if found.end(2) > found.start(2)
            else []
        )

    def value(self, name: bytes) -> bytes | None:
        """The first `name` attribute's value as written (not lower-cased), without quotes."""
        found = self.found
        base = found.start()
        for attr in ATTR.finditer(found.string, found.start(2), found.end(2)):
            if attr.group(1) == name:
                if attr.group(2) is None:
                    return b""
                value = self.source[attr.start(2) - base : attr.end(2) - base]
                return value[1:-1] if value[:1] in (b'"', b"'") else value
        return None

    def document(self, name: bytes) -> bytes | None:
        """The HTML document an attribute holds: a srcdoc, a data: URL's content, or the code
        of a javascript: URL (whose result a frame shows as its document)."""
        value = self.value(name)
        if value is None:
            return None
        text = _unescaped(attribute_text(value)) if b"&" in value else attribute_text(value)
        if name == b"srcdoc":
            return text.encode("utf-8", "replace")
        document = _document_url(text)
        # An XML document (SVG, XHTML) may prefix its names: `<s:image x:href=...>` is an
        # `<image href>`; read without prefixes, it shows the rewriter what it loads.
        return _PREFIX.sub(rb"\1", document) if document and b":" in document else document

    def data(self, name: bytes, *, media: bool = False) -> bytes | None:
        """The content of a data: URL an attribute holds (the first such attribute: the one a
        browser reads), as written; None for any other value (and, without `media`, for an
        image's, a sound's or a font's)."""
        value = self.value(name)
        if value is None or not _may_be_data(value):
            return None
        text = _unescaped(attribute_text(value)) if b"&" in value else attribute_text(value)
        return data_url(text, media=media)

    def explicit(self) -> bytes | None:
        """The site owner's own word on an element: data-consent="<category>"."""
        for name, value in self.attrs:
            if name == b"data-consent":
                return value
        return None

    def styles_font(self) -> bool:
        """A `<font>` that ends foreign content."""
        return any(name in (b"color", b"face", b"size") for name, _ in self.attrs)

    def html_annotation(self) -> bool:
        """A MathML annotation-xml holding HTML (an HTML integration point)."""
        if self.name != b"annotation-xml":
            return False
        encoding = next((value for name, value in self.attrs if name == b"encoding"), b"")
        return encoding in (b"text/html", b"application/xhtml+xml")

    def loads_inline(self) -> bool:
        """An inline script whose text can load something: JavaScript, or an import map or
        speculation rules (which name URLs to fetch or prefetch)."""
        types = [value for name, value in self.attrs if name == b"type"]
        if any(name == b"src" for name, _ in self.attrs):
            return False
        return not types or types[0].strip() in LOADING_TYPES

    def attribute_offsets(self) -> list[tuple[bytes, int]]:
        """(name, offset in `source`) of each attribute, for renaming."""
        found = self.found
        base = found.start()
        return [
            (attr.group(1), attr.start(1) - base)
            for attr in ATTR.finditer(found.string, found.start(2), found.end(2))
        ]

    @property
    def name_end(self) -> int:
        return self.found.end(1) - self.found.start()


def attribute_urls(attr_name: bytes, value: bytes) -> list[str]:
    text = attribute_text(value)
    if "&" in text:
        text = _unescaped(text)
    if attr_name.endswith(b"srcset"):
        return srcset_urls(text)
    if attr_name == b"values":  # SVG animation: a ";"-separated list
        return text.split(";")
    if attr_name == b"ping":  # every URL of the list is pinged, not only the first
        return _TOKENS.findall(text)
    if attr_name == b"content":  # <meta http-equiv=refresh content="5; url=...">
        url = refresh_url(text)
        return [url] if url else []
    return [text]


def _unescaped(text: str) -> str:
    """Character references undone. Most are a URL's "&amp;" alone: done in C, as `unescape`
    would (it costs a Python call per reference)."""
    if text.count("&") == text.count("&amp;"):
        return text.replace("&amp;", "&")
    return unescape(text)


def srcset_urls(text: str) -> list[str]:
    """The URLs of a srcset (`a.png 1x, b.png 2x`), each image candidate's first word."""
    return _SRCSET_URL.findall(text)


def attribute_text(value: bytes) -> str:
    """An attribute value as text: UTF-8, as most pages are, else byte for byte (ASCII, which
    is all a host name can be in any other charset, reads the same)."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _document_url(text: str) -> bytes | None:
    """The content of a data: URL or the code of a javascript: URL; None for any other URL."""
    text = text.strip(_C0_AND_SPACE).translate(_NO_TABS_OR_NEWLINES)
    if text[:11].lower() == "javascript:":
        return unquote_to_bytes(text[11:])
    return data_url(text)


def _may_be_data(value: bytes) -> bool:
    """Whether an attribute value may be a data: URL, told by its head (a browser drops tabs
    and newlines anywhere in a URL: "d\tata:" is one; a character reference may spell one)."""
    start = _LEADING_BYTES.match(value).end()  # type: ignore[union-attr]
    head = value[start : start + _HEAD].translate(None, b"\t\n\r")
    return b"&" in head or len(head) < 5 or head[:5].lower() == b"data:"


def data_url(text: str, *, media: bool = True) -> bytes | None:
    """The content of a data: URL (percent- or base64-encoded); None for any other URL, and
    without `media` for an image's, a sound's or a font's (bytes nothing runs as code)."""
    # Told by its head where it can be: an inline image's URL may run to megabytes.
    start = _LEADING.match(text).end()  # type: ignore[union-attr]
    head = text[start : start + _HEAD].translate(_NO_TABS_OR_NEWLINES)
    if len(head) >= 5 and head[:5].lower() != "data:":
        return None
    if not media and _MEDIA_DATA.match(head):
        return None
    text = text.strip(_C0_AND_SPACE).translate(_NO_TABS_OR_NEWLINES)
    if text[:5].lower() != "data:" or (not media and _MEDIA_DATA.match(text)):
        return None
    meta, _, data = text[5:].partition(",")
    content = unquote_to_bytes(data)
    if meta.lower().replace(" ", "").endswith(";base64"):
        try:
            content = base64.b64decode(b"".join(content.split()), validate=False)
        except ValueError:
            return None
    # Its bytes are read in the charset its type names (UTF-16 markup is no ASCII).
    charset = content_type(meta.encode("latin-1", "replace"))[1]
    return as_utf8(content, charset) if charset else content
