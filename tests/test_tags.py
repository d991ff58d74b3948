"""Tag helpers: a data: URL told by its head, read whole only where it can be one."""

from __future__ import annotations

import base64
from html import unescape
from urllib.parse import unquote_to_bytes

from hypothesis import given
from hypothesis import strategies as st

from consent_gate.html.tags import attribute_urls, data_url

_DROPPED = str.maketrans("", "", "\t\n\r")
_EDGES = "".join(map(chr, range(0x21)))
_PIECES = ["d", "a", "t", "D", "A", ":", "\t", "\n", "\r", " ", "\x00", "\x0c", "\x1f", ","]
_PIECES += ["image/", "IMAGE/", "text/css", ";base64", "aGk=", "\t" * 300, " " * 300, "%41"]


def whole(text: str, media: bool) -> bytes | None:
    """The plain reading: the whole URL stripped and without tabs and newlines, then judged."""
    text = text.strip(_EDGES).translate(_DROPPED)
    if text[:5].lower() != "data:":
        return None
    meta, _, data = text[5:].partition(",")
    if not media and meta.lstrip(" \f").lower().startswith(("image/", "audio/", "video/", "font/")):
        return None
    content = unquote_to_bytes(data)
    if meta.lower().replace(" ", "").endswith(";base64"):
        return base64.b64decode(b"".join(content.split()), validate=False)
    return content


@given(st.lists(st.sampled_from(_PIECES), max_size=14), st.booleans())
def test_a_data_url_is_read_as_a_whole_reading_reads_it(pieces: list[str], media: bool) -> None:
    """Tabs (300 of them too), newlines and C0 controls anywhere in "data:" or its type: the
    head alone never turns away what the whole URL shows to be a data: URL of code."""
    text = "".join(pieces)
    try:
        expected = whole(text, media)
    except ValueError:  # bad base64: no content either way
        expected = None
    assert data_url(text, media=media) == expected


@given(st.lists(st.sampled_from(["&", "amp", ";", "&amp;", "lt;", "#38;", "x", "&amp;amp;"])))
def test_references_in_an_attribute_are_undone_as_html_unescape_does(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert attribute_urls(b"src", text.encode()) == [unescape(text)]
