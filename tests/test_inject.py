"""BodyEndInjector: the banner goes before the last `</body>`, else at the end, exactly once."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent_gate.html import BodyEndInjector

SNIPPET = b'<div id="cg-root">banner</div>'
REBASED = b'<div id="cg-root">banner with the page\'s origin</div>'


def inject(*chunks: bytes, rebase: bool = False) -> bytes:
    injector = BodyEndInjector(SNIPPET, (lambda: REBASED) if rebase else None)
    return b"".join(injector.feed(chunk) for chunk in chunks) + injector.close()


def expected(doc: bytes, rebase: bool = False) -> bytes:
    """Where the snippet belongs, and which one, worked out on the whole document at once."""
    snippet = SNIPPET
    if rebase and re.search(rb"<base[\t\n\f\r />]", doc, re.I):
        snippet = REBASED
    found = doc.lower().rfind(b"</body")
    tail = re.compile(rb"</body[^>]*>(?:\s+|<!--.*?-->|</html\s*>)*\Z", re.I | re.S)
    if found == -1 or len(doc) - found > 4096 or not tail.match(doc, found):
        return doc + snippet
    return doc[:found] + snippet + doc[found:]


def test_goes_before_the_closing_body_tag() -> None:
    doc = b"<html><body><p>Hi</p></body></html>\n"
    assert inject(doc) == b"<html><body><p>Hi</p>" + SNIPPET + b"</body></html>\n"


@pytest.mark.parametrize("tag", [b"</body>", b"</BODY>", b"</Body>", b"</bOdY>", b"</body >"])
def test_the_closing_tag_is_found_in_any_case(tag: bytes) -> None:
    doc = b"<HTML><BODY><P>Hi</P>" + tag + b"</HTML>"
    assert inject(doc) == b"<HTML><BODY><P>Hi</P>" + SNIPPET + tag + b"</HTML>"


def test_goes_before_the_last_of_several_closing_tags() -> None:
    doc = b"<body><template></body></template><p>x</p></body></html>"
    assert (
        inject(doc) == b"<body><template></body></template><p>x</p>" + SNIPPET + b"</body></html>"
    )


def test_comments_and_whitespace_after_the_body_still_count_as_its_end() -> None:
    doc = b"<body>x</body>\n<!-- served in 3 ms -->\n</html>\n\n"
    assert inject(doc) == b"<body>x" + SNIPPET + b"</body>\n<!-- served in 3 ms -->\n</html>\n\n"


def test_a_closing_tag_inside_a_trailing_comment_sends_the_snippet_to_the_end() -> None:
    doc = b"<body>x</body></html>\n<!-- old layout: </body> -->"
    assert inject(doc) == doc + SNIPPET


def test_markup_after_the_closing_tag_sends_the_snippet_to_the_end() -> None:
    doc = b"<body>x</body></html><script>late()</script>"
    assert inject(doc) == doc + SNIPPET


def test_without_a_closing_tag_the_snippet_is_appended() -> None:
    doc = b"<!doctype html><title>t</title><p>unterminated"
    assert inject(doc) == doc + SNIPPET


def test_an_empty_document_gets_only_the_snippet() -> None:
    assert inject() == SNIPPET
    assert inject(b"", b"") == SNIPPET


@pytest.mark.parametrize("rebase", [False, True], ids=["plain", "rebasing"])
def test_large_content_after_the_closing_tag_is_not_held_and_the_snippet_goes_last(
    rebase: bool,
) -> None:
    doc = b"<body>x</body>" + b"<!-- padding -->" * 500
    injector = BodyEndInjector(SNIPPET, (lambda: REBASED) if rebase else None)
    first = injector.feed(doc)
    assert len(first) >= len(doc) - 5  # streamed on, not held back
    assert first + injector.close() == doc + SNIPPET


def test_a_long_document_without_the_tag_streams_with_a_tiny_hold_back() -> None:
    injector = BodyEndInjector(SNIPPET)
    out = b""
    for _ in range(100):
        chunk = b"<p>" + b"a" * 10_000 + b"</p>"
        part = injector.feed(chunk)
        assert len(part) >= len(chunk) - 5  # each feed passes its bytes on at once
        out += part
    assert len(out) >= 100 * 10_007 - 5
    assert out + injector.close() == (b"<p>" + b"a" * 10_000 + b"</p>") * 100 + SNIPPET


SMALL = b"<html><body><p>Hello</p>\n</body>\n<!-- c -->\n</html>\n"
LONG_TAIL = b"<body>a</body>" + b"x" * 5000 + b"</BODY></html>"
IN_COMMENT = b"<body>a</body></html><!-- </body> -->"
FAR_TAIL = b"<body>a</body>" + b"x" * 5000


@pytest.mark.parametrize("rebase", [False, True], ids=["plain", "rebasing"])
@pytest.mark.parametrize(
    "doc", [SMALL, LONG_TAIL, IN_COMMENT, FAR_TAIL], ids=["small", "long", "comment", "far"]
)
def test_every_split_into_two_chunks_gives_the_same_result(doc: bytes, rebase: bool) -> None:
    """Either injector: the one still looking for a <base> too, and the one that found it."""
    want = expected(doc)
    assert inject(doc, rebase=rebase) == want
    for cut in range(len(doc) + 1):
        assert inject(doc[:cut], doc[cut:], rebase=rebase) == want, cut


def test_every_split_into_three_chunks_gives_the_same_result() -> None:
    want = expected(SMALL)
    for i in range(len(SMALL) + 1):
        for j in range(i, len(SMALL) + 1):
            assert inject(SMALL[:i], SMALL[i:j], SMALL[j:]) == want, (i, j)


def test_byte_by_byte_feeding_gives_the_same_result() -> None:
    for doc in (SMALL, LONG_TAIL, IN_COMMENT):
        assert inject(*(doc[i : i + 1] for i in range(len(doc)))) == expected(doc)


_PIECES = st.sampled_from(
    [
        *(b"</body>", b"</BODY>", b"</Body >", b"</body", b"<!--", b"-->", b"</html>", b"<p>"),
        *(b"x", b" ", b"\n", b"a" * 1000, b"<!-- z -->", b"<", b"/", b"b", b"o", b"d", b"y", b">"),
        *(b"<base href=x>", b"<BaSe/", b"<basefont>", b"<base", b"a", b"s", b"E", b"\t"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(_PIECES, max_size=40), cuts=st.lists(st.integers(0, 50_000), max_size=6))
def test_output_is_the_input_with_the_snippet_inserted_exactly_once(
    pieces: list[bytes], cuts: list[int]
) -> None:
    doc = b"".join(pieces)
    bounds = sorted({min(c, len(doc)) for c in cuts})
    chunks = [doc[a:b] for a, b in zip([0, *bounds], [*bounds, len(doc)], strict=True)]
    out = inject(*chunks)
    assert out.count(SNIPPET) == 1
    at = out.index(SNIPPET)
    assert out[:at] + out[at + len(SNIPPET) :] == doc
    assert out == expected(doc)
    # With a snippet for a page with a <base>, in any case, split anywhere: the same place.
    assert inject(*chunks, rebase=True) == expected(doc, rebase=True)


@pytest.mark.parametrize("tag", [b"<base href=x>", b"<BASE\thref=x>", b"<bAsE/>", b"<Base\n>"])
def test_a_base_tag_in_any_case_and_any_chunking_brings_the_rebased_snippet(tag: bytes) -> None:
    doc = b"<html><head>" + tag + b"</head><body><p>Hi</p></body></html>"
    want = doc.replace(b"</body>", REBASED + b"</body>")
    for cut in range(len(doc) + 1):
        assert inject(doc[:cut], doc[cut:], rebase=True) == want, cut


@pytest.mark.parametrize("text", [b"<basefont>", b"<base", b"<bas e>", b"&lt;base href=x>"])
def test_what_only_looks_like_a_base_tag_keeps_the_plain_snippet(text: bytes) -> None:
    doc = b"<html><body><p>" + text + b"</p></body></html>"
    assert inject(doc, rebase=True) == doc.replace(b"</body>", SNIPPET + b"</body>")
