"""css_urls: the URLs a piece of CSS makes the browser fetch, read as its tokenizer reads it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent_gate.html.stylesheets import css_urls

PIXEL = "//www.google-analytics.com/p.gif"


@pytest.mark.parametrize(
    "css",
    [
        f"b{{background:url(x/*)}} i{{background:url({PIXEL})}} /* */",
        f"b{{background:URL( x /*)}} i{{background:url({PIXEL})}} /* */",
        f"b{{background:url(x'/*)}} i{{background:url({PIXEL})}} /* */",
        f'b{{background:url(x"/*)}} i{{background:url({PIXEL})}} /* */',
        f"b{{background:u\\72l(x/*)}} i{{background:url({PIXEL})}} /* */",
        f"b{{background:\\u\\r\\l(x/*)}} i{{background:url({PIXEL})}} /* */",
        f"b{{background:\\000055 RL(x/*)}} i{{background:url({PIXEL})}} /* */",
        f"b{{background:url(x\\)/*)}} i{{background:url({PIXEL})}} /* */",
    ],
)
def test_a_comment_opener_inside_an_unquoted_url_hides_nothing(css: str) -> None:
    """In an unquoted URL (bad or not) "/*" and quotes open nothing up to its ")" (an
    escaped one ends nothing): taken for a comment, it hid every load up to the next "*/"."""
    assert PIXEL in css_urls(css)


@pytest.mark.parametrize(
    ("css", "urls"),
    [
        ("/* url(//a.example/x) */ b{width:1px}", []),
        ("b{font-family:'/*'} i{background:url(//a.example/x)}", ["//a.example/x", "/*"]),
        ('b{background:url(  "//a.example/x"  )}', ["//a.example/x"]),
        ("b{background:url(//a.example/x y)}", ["//a.example/x"]),
        ("b{background:xurl(//a.example/x)}", ["//a.example/x"]),  # read as one: over, not under
        ("b{background:url(//a.example/\\78)}", ["//a.example/x"]),
    ],
)
def test_urls_and_strings_in_order_of_kind(css: str, urls: list[str]) -> None:
    assert css_urls(css) == urls


_PIECES = ["url(", "URL(", "u", "rl(", '"', "'", "/*", "*/", "/", "*", " ", "\n", "x", ")", "("]


@given(st.lists(st.sampled_from(_PIECES), max_size=16))
def test_the_reading_without_escapes_is_the_escape_aware_one(pieces: list[str]) -> None:
    """A sheet without a backslash takes a faster reading; a backslash at its very end (which
    spells nothing) sends the same sheet through the escape-aware one: they must agree."""
    css = "".join(pieces)
    escaped = [url.removesuffix("\\") for url in css_urls(css + "\\")]
    assert css_urls(css) == [url for url in escaped if url]
