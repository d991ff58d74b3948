"""Markup tricks that loaded a tracker past the rewriter, found by red-teaming it.

Each page of the bypass corpus named here made Chromium request its tracker before consent
(tests/browser/test_bypass.py proves that, and that the gate now stops it): SVG `<style>` text,
SVG presentation attributes and style attributes, SVG animation of an href or of a
presentation attribute (`<set attributeName=filter to="url(...)">`), `<feImage>`, the
background of table parts, HTML's `<image>`, a CSS string continued over a line, CSS strings
that hold "/*" and "*/" (read as a comment around the tracker by a reader that skips comments
without knowing strings), a `<frame>` in the text of a `<style>` that a frameset
document ignores, an XML document in a data: URL (prefixed names, an entity of its own
DTD). Here, in process: every element that loads the tracker is held back,
whatever the chunking, and nothing else in the page changes.
"""

from __future__ import annotations

import re

import html5lib
import pytest
from bench import corpus

from consent_gate.html import HtmlRewriter
from consent_gate.html.rewriter import MAX_INLINE_SCRIPT, MAX_TAG
from consent_gate.policy import Policy
from consent_gate.rules import Blocker, Classifier

POLICY = Policy.default()
BLOCKER = Blocker(Classifier(POLICY.services), frozenset(POLICY.optional_categories))

# The corpus page, and how many of its elements load the tracker.
TRICKS = {
    "svg-style-import": 1,
    "svg-style-background": 1,
    "math-style-import": 1,
    "table-row-background": 6,
    "html-image-src": 2,
    "css-escaped-newline": 1,
    "svg-feimage-href": 1,
    "svg-animate-href": 2,
    "svg-animate-css-url": 4,
    "svg-presentation-url": 5,
    "svg-style-attribute": 1,
    "css-comment-in-string": 1,
    "style-attribute-comment-in-string": 1,
    "frameset-raw-text": 1,
    "frameset-plaintext": 1,
    "object-svg-prefixed-names": 1,
    "object-svg-dtd-entity": 1,
}

_ADDED = re.compile(
    rb' type="text/plain"(?= data-cg-category=)| data-cg-(?:category|service)="[^"]*"'
    rb'| srcdoc=""'  # a held frame's placeholder, empty here
)
_HELD_TEXT = re.compile(rb' data-cg-text="([^"]*)">')


def _rewrite(page: bytes, chunk: int) -> bytes:
    rewriter = HtmlRewriter(BLOCKER, lambda match: b"", url="https://site.example/page/")
    if not chunk:
        return rewriter.feed(page) + rewriter.close()
    parts = [rewriter.feed(page[i : i + chunk]) for i in range(0, len(page), chunk)]
    return b"".join(parts) + rewriter.close()


def _undo(output: bytes) -> bytes:
    """The page again: marks removed, renamed attributes and moved sheet text put back."""

    def text(found: re.Match[bytes]) -> bytes:
        return b">" + found.group(1).replace(b"&quot;", b'"').replace(b"&amp;", b"&")

    output = _ADDED.sub(b"", _HELD_TEXT.sub(text, output))
    return re.sub(rb"(?<=[\s/])data-cg-(?=[a-z:-]+=)", b"", output)


@pytest.mark.parametrize("name", list(TRICKS))
def test_every_element_loading_the_tracker_is_held(name: str) -> None:
    page = (corpus.BYPASS / f"{name}.html").read_bytes()
    body = page[page.index(b"</head>") :]
    outputs = {_rewrite(page, chunk) for chunk in (0, 1, 7, 64)}
    assert len(outputs) == 1, "the output depends on the chunking"
    output = outputs.pop()
    held = output[output.index(b"</head>") :]
    assert held.count(b"data-cg-category=") == TRICKS[name]
    assert _undo(held) == body


def test_every_trick_is_in_the_corpus() -> None:
    assert set(TRICKS) <= {case.name for case in corpus.bypass_cases()}


def _loads_from(output: bytes, host: str) -> list[str]:
    """The elements html5lib's parser reads in `output` that name `host` in an attribute the
    gate did not rename."""
    document = html5lib.parse(output, treebuilder="etree", namespaceHTMLElements=False)
    return [
        element.tag
        for element in document.iter()
        if isinstance(element.tag, str)
        and any(host in v for k, v in element.attrib.items() if not k.startswith("data-cg-"))
    ]


PAD = b"A" * (2 * MAX_TAG)
FB = b"https://www.facebook.com/tr?id=1"


@pytest.mark.parametrize(
    "tag",
    [
        b'<img src="' + FB + b'" data-pad="' + PAD + b'">',  # read up to its padding
        b'<img data-pad="' + PAD + b'" src="' + FB + b'">',  # never read that far
        b"<img src=" + FB + b" data-pad=" + PAD + b">",
        b'<iframe data-pad="' + PAD + b'" src="' + FB + b'"></iframe>',
    ],
)
@pytest.mark.parametrize("chunk", [0, 64 * 1024])
def test_a_tag_padded_past_the_longest_examined_is_turned_into_text(tag: bytes, chunk: int) -> None:
    """Streamed, such a tag is still unfinished after MAX_TAG. Sent on unexamined, it loaded its
    tracker; its "<" is now sent as "&lt;", and the browser reads it as text, as the rewriter
    does."""
    page = b"<!doctype html><p>x</p>" + tag + b"<p>y</p>"
    output = _rewrite(page, chunk)
    assert _loads_from(page, "facebook.com")  # the page as it was loads the tracker
    assert _loads_from(output, "facebook.com") == []
    if chunk:  # streamed: still unfinished after MAX_TAG (whole, it is read and held)
        assert output == page.replace(tag[:4], b"&lt;" + tag[1:4], 1)


def test_markup_in_the_padding_of_an_over_long_tag_is_read_as_markup() -> None:
    """Once the over-long tag is text, what its quoted value held is markup to the browser:
    the rewriter reads it so too."""
    inner = b'<img src="' + FB + b'">'
    page = b'<p>x</p><div title="' + PAD + inner + b'">y</div>'
    output = _rewrite(page, 64 * 1024)
    assert b'<img data-cg-category="marketing"' in output
    assert _loads_from(output, "facebook.com") == []


def test_an_unfinished_frame_in_ignored_raw_text_is_turned_into_text() -> None:
    """In a frameset document the browser ignores `<style>` and reads its text as markup: a
    `<frame>` tag there that runs past the style's end loaded the tracker unexamined."""
    page = b"<frameset><style><frame src=" + FB + b" </style><p>>"
    output = _rewrite(page, 0)
    assert b"&lt;frame src=" in output
    assert _loads_from(output, "facebook.com") == []


@pytest.mark.parametrize("chunk", [0, 1, 7])
def test_a_frame_after_an_ignored_plaintext_is_held(chunk: int) -> None:
    """Inside <frameset> a browser ignores `<plaintext>` too (Chromium loads the frame after
    it, as html5lib reads it): its text is markup, and the <frame>s in it are held."""
    page = b"<!doctype html><frameset><plaintext><frame src=" + FB + b"></frameset>"
    output = _rewrite(page, chunk)
    assert _loads_from(page, "facebook.com") == ["frame"]
    assert _loads_from(output, "facebook.com") == []
    assert _undo(output) == page


def _scanned(output: bytes) -> bytes:
    """`output` as Chromium's preload scanner reads it: without foreign content, so a CDATA
    section is a bogus comment up to its first ">" (html5lib reads it so outside <svg>)."""
    return output.replace(b"<svg", b"<div").replace(b"</svg", b"</div")


@pytest.mark.parametrize(
    "section",
    [
        b'<![CDATA[x><img src="' + FB + b'">]]>',
        b"<![CDATA[x><img src=" + FB + b"]]>",  # the tag reads on to the marker's ">"
        b'<![CDATA[x><img alt="]]><p>" src="' + FB + b'">',  # a quoted value over the end
        b'<![CDATA[a > b; <iframe src="' + FB + b'"></iframe>]]>',
    ],
)
def test_what_the_preload_scanner_reads_in_a_cdata_section_is_held(section: bytes) -> None:
    """The parser reads the section as text; the preload scanner, which does not follow
    foreign content, reads "<![CDATA[x>" as a bogus comment and the rest as markup, and
    fetched the tracker before consent (tests/data/bypass/svg-cdata-preload-scanner.html)."""
    page = b"<!doctype html><p>x</p><svg>" + section + b"</svg><p>y</p>"
    outputs = {_rewrite(page, chunk) for chunk in (0, 1, 7, 64)}
    assert len(outputs) == 1, "the output depends on the chunking"
    output = outputs.pop()
    assert _loads_from(_scanned(page), "facebook.com")  # the scanner fetched it
    assert _loads_from(_scanned(output), "facebook.com") == []
    assert _loads_from(output, "facebook.com") == []


@pytest.mark.parametrize(
    "section",
    [
        b"<![CDATA[ .st0{fill:#FFFFFF;} .st1{stroke:url(#g)} ]]>",  # an editor's SVG styles
        b"<![CDATA[ if (a<b && c>d) { go(); } ]]>",  # a script's comparisons
        b"<![CDATA[<b>bold</b> x > y]]>",
    ],
)
def test_a_cdata_section_that_loads_nothing_is_untouched(section: bytes) -> None:
    page = b"<svg><style>" + section + b"</style><script>" + section + b"</script></svg>"
    assert _rewrite(page, 0) == page
    assert _rewrite(page, 7) == page


def test_a_cdata_section_too_long_to_wait_for_starts_nothing() -> None:
    """Past MAX_INLINE_SCRIPT without its end, a section is not held back whole: its text goes
    on as text to both readings, no "<" in it starting a tag."""
    filler = b"x" * (2 * MAX_INLINE_SCRIPT)
    page = b"<svg><![CDATA[x>" + filler + b'<img src="' + FB + b'">]]></svg><p>y</p>'
    output = _rewrite(page, 16 * 1024)
    assert b'&lt;img src="' in output
    assert _loads_from(_scanned(output), "facebook.com") == []
    assert output.endswith(b"]]></svg><p>y</p>")
