"""HeadStartInjector: the gate's head scripts come before anything of the page's that can run."""

from __future__ import annotations

import pytest
from html5lib import parse
from hypothesis import given, settings
from hypothesis import strategies as st

from consent_gate.html import HeadStartInjector

S = b"<script>guard()</script>"


def inject(*chunks: bytes) -> bytes:
    injector = HeadStartInjector(S)
    return b"".join(injector.feed(chunk) for chunk in chunks) + injector.close()


@pytest.mark.parametrize(
    ("doc", "at"),
    [
        (b"<!DOCTYPE html><html><head><title>t</title><script>x()</script>", b"<title>"),
        (b"<!doctype html>\n<html lang='en'>\n<head>\n<script src=a.js></script>", b"<script"),
        (b"<!DOCTYPE html><html><body><script>x()</script>", b"<body>"),
        (b"<!DOCTYPE html><script>x()</script>", b"<script>"),
        (b"<!DOCTYPE html><!-- <head> --><head><p>", b"<p>"),
        (b"<HTML><HEAD><META CHARSET=utf-8><SCRIPT>x()</SCRIPT>", b"<SCRIPT>"),
        (b"<html><head data-x='a>b'><script>", b"<script>"),
        (b"<!doctype html><html><header>", b"<header>"),
        (b"Hello <b>world</b>", b"Hello"),
        (b"<?xml version='1.0'?><html><head></head>", b"</head>"),
    ],
)
def test_goes_before_the_first_thing_that_is_not_prologue(doc: bytes, at: bytes) -> None:
    where = doc.index(at)
    assert inject(doc) == doc[:where] + S + doc[where:]


def test_a_meta_charset_stays_in_the_first_bytes() -> None:
    doc = b'<!doctype html><html><head><meta charset="windows-1252"><script>x()</script>'
    assert inject(doc).index(b"<meta") == doc.index(b"<meta")


def test_never_before_a_byte_order_mark_or_doctype() -> None:
    doc = b"\xef\xbb\xbf<!DOCTYPE html><p>"
    assert inject(doc) == b"\xef\xbb\xbf<!DOCTYPE html>" + S + b"<p>"


def test_an_empty_or_prologue_only_document_gets_it_at_the_end() -> None:
    assert inject(b"") == S
    assert inject(b"<!doctype html><html><head>") == b"<!doctype html><html><head>" + S


def test_holds_only_until_the_place_is_known() -> None:
    injector = HeadStartInjector(S)
    assert injector.feed(b"<!doctype html><ht") == b""
    assert injector.feed(b"ml><head>") == b""
    assert injector.feed(b"<title>") == b"<!doctype html><html><head>" + S + b"<title>"
    assert injector.feed(b"<script>") == b"<script>"  # straight through after that
    assert injector.close() == b""


def test_an_endless_comment_does_not_hold_the_page_forever() -> None:
    injector = HeadStartInjector(S)
    out = injector.feed(b"<!doctype html><!--" + b"x" * 70_000)
    assert out.startswith(b"<!doctype html>" + S + b"<!--")


def test_an_empty_snippet_passes_everything_through() -> None:
    injector = HeadStartInjector(b"")
    assert injector.feed(b"<!doctype html>") == b"<!doctype html>"


_PIECES = st.sampled_from(
    [
        b"<!doctype html>",
        b"<html>",
        b"<head>",
        b"<meta charset=utf-8>",
        b"<!-- c -->",
        b" ",
        b"\n",
        b"<title>t</title>",
        b"<script>x()</script>",
        b"<body>",
        b"<p>",
        b"text",
        b"<",
        b"<he",
        b"<!-",
        b"'",
        b'"',
        b">",
        b"<meta content='>'>",
        b"<!--[if lt IE 9]>",
        b"<script src=html5shiv.js></script>",
        b"<![endif]-->",
        b"<!-->",
        b'<html lang="en',
        b'<meta content="a>',
        b"<!x>",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=12), st.data())
def test_any_chunking_gives_the_same_result_and_loses_nothing(
    pieces: list[bytes], data: st.DataObject
) -> None:
    doc = b"".join(pieces)
    whole = inject(doc)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(doc)), max_size=5)))
    chunks = [doc[a:b] for a, b in zip([0, *cuts], [*cuts, len(doc)], strict=True)]
    assert inject(*chunks) == whole
    where = whole.index(S)
    assert whole[:where] + whole[where + len(S) :] == doc
    assert runs_in_head(whole)


def runs_in_head(page: bytes) -> bool:
    """Whether a browser's parse of `page` makes S a script element of the head."""
    tree = parse(page.decode("latin-1"), namespaceHTMLElements=False)
    head = tree.find("head")
    return any(script.text == "guard()" for script in head.iter("script"))


@pytest.mark.parametrize(
    "doc",
    [
        b"<!DOCTYPE html><html><head><!--[if lt IE 9]><script src=shiv.js></script><![endif]-->"
        b"<title>t</title>",
        b"<html><head><!--[if IE]>x<![endif]--><meta charset=utf-8><script>x()</script>",
        b'<html lang="en>"><head data-x="a>b"><title>t</title>',
    ],
)
def test_never_inside_a_comment_or_attribute_however_the_page_is_cut(doc: bytes) -> None:
    whole = inject(doc)
    assert runs_in_head(whole)
    for cut in range(len(doc) + 1):
        assert inject(doc[:cut], doc[cut:]) == whole, cut
