"""The rewriter against a real HTML parser: it must see the tags a browser sees, no fewer, no more.

html5lib's tokenizer, driven by its tree builder (which switches it into raw text, script data,
foreign content...), reads Hypothesis-made tag soup once as sent and once as the rewriter
rewrote it, fed in random chunks, with a blocker that knows one tracker host. Two checks:

- no start tag html5lib sees in the output still loads a tracker URL (a tag the rewriter copied
  without seeing it, or mis-read, is caught here);
- the output's tokens, with what neutralising adds taken away again, are the input's tokens: the
  rewriter only touched tags that exist, at the places where their name and attributes are, and
  read their attributes (name -> value, first wins) as html5lib does.

Left out of the soup, on purpose: `<noscript>` (the rewriter reads both its scripting-on and
-off parses and holds back what either shows), `<select>` and `<frameset>` (insertion modes that
drop tags), `&` (character references in URLs are the URL parser's business), `<image>` (the
tree builder renames it `<img>`), and end tags that html5lib 1.1 predates in foreign content
(`</p>`, `</br>`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from consent_gate.html import HtmlRewriter
from consent_gate.policy import Service
from consent_gate.rules import Blocker, Classifier

html5lib = pytest.importorskip("html5lib")
from html5lib._tokenizer import HTMLTokenizer  # noqa: E402
from html5lib.constants import tokenTypes  # noqa: E402

NONCE = "n0nce"
HOST_ONLY = Blocker(
    Classifier((Service(id="t", name="T", category="analytics", hosts=("tracker.test",)),)),
    frozenset({"analytics"}),
)
WITH_PATHS = Blocker(
    Classifier(
        (
            Service(
                id="t",
                name="T",
                category="analytics",
                hosts=("tracker.test",),
                urls=("/track/*",),
                snippets=("tracker(",),
            ),
        )
    ),
    frozenset({"analytics"}),
)
# The attributes through which these elements load something.
LOADS = {
    "img": ("src", "srcset"),
    "script": ("src", "href", "xlink:href"),
    "iframe": ("src",),
    "source": ("src", "srcset"),
    "link": ("href", "imagesrcset"),
}
_ADDED = {"data-cg-category", "data-cg-service"}

_START, _END, _COMMENT = tokenTypes["StartTag"], tokenTypes["EndTag"], tokenTypes["Comment"]
_TEXT = {tokenTypes["Characters"], tokenTypes["SpaceCharacters"]}


class _Tap(HTMLTokenizer):  # type: ignore[misc]
    """html5lib's tokenizer, keeping a copy of each token before the tree builder adjusts it."""

    seen: list[tuple[Any, ...]]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for token in super().__iter__():
            kind = token["type"]
            if kind == _START:
                self.seen.append(("start", token["name"], dict(token["data"])))
            elif kind == _END:
                self.seen.append(("end", token["name"]))
            elif kind == _COMMENT:
                self.seen.append(("comment", token["data"]))
            elif kind in _TEXT:
                if self.seen and self.seen[-1][0] == "text":
                    self.seen[-1] = ("text", self.seen[-1][1] + token["data"])
                else:
                    self.seen.append(("text", token["data"]))
            yield token


class _Parser(html5lib.HTMLParser):  # type: ignore[misc]
    def mainLoop(self) -> None:  # noqa: N802 (html5lib names it)
        self.tokenizer.__class__ = _Tap
        self.tokenizer.seen = self.seen
        super().mainLoop()


def tokens(html: bytes) -> list[tuple[Any, ...]]:
    """What a browser's tokenizer emits for `html` (ASCII, so no encoding question)."""
    parser = _Parser()
    parser.seen = []
    parser.parse(html.decode("latin-1"))
    return list(parser.seen)


# In a CDATA section's text (which the preload scanner reads as markup): what neutralising a
# tag adds, a renamed attribute's prefix, and the "<" of a tag left open over the section's end.
_HELD_IN_TEXT = re.compile(
    r' type="text/plain"(?= data-cg-category=)| data-cg-(?:category|service)="[^"]*"'
    r'| srcdoc="PLACEHOLDER"|(?<=[\s/])data-cg-(?=[a-z:-]+=)'
)


def undone(token: tuple[Any, ...], cdata: bool = False) -> tuple[Any, ...]:
    """A neutralised or stamped start tag as it was sent; with `cdata` (the page has CDATA
    sections, whose text the scanner reads as markup), text as it was."""
    if token[0] == "text" and cdata:
        return ("text", _HELD_IN_TEXT.sub("", token[1]).replace("&lt;", "<"))
    if token[0] != "start":
        return token
    name, attrs = token[1], dict(token[2])
    if attrs.get("nonce") == NONCE:
        del attrs["nonce"]
    if "data-cg-category" in attrs:
        for added in (*_ADDED, "type" if name in ("script", "style") else "", "srcdoc"):
            if added != "srcdoc" or name in ("iframe", "frame"):
                attrs.pop(added, None)
        renamed = {key[8:]: value for key, value in attrs.items() if key.startswith("data-cg-")}
        attrs = {k: v for k, v in attrs.items() if not k.startswith("data-cg-")}
        attrs.update({k: v for k, v in renamed.items() if k not in attrs})
    return ("start", name, attrs)


def leaks(seen: list[tuple[Any, ...]], blocker: Blocker) -> list[tuple[Any, ...]]:
    """Start tags that would still load a URL the blocker holds back."""
    found = []
    for token in seen:
        if token[0] != "start" or token[1] not in LOADS or "data-consent" in token[2]:
            continue  # (data-consent: the site owner's word, taken as given)
        for attr in LOADS[token[1]]:
            value = token[2].get(attr, "")
            urls = re.findall(r"[^\s,]+", value) if attr.endswith("srcset") else [value]
            if any(blocker.url(url) for url in urls if url):
                found.append(token)
    return found


def rewrite(html: bytes, blocker: Blocker, cuts: list[int], nonce: bool) -> bytes:
    rewriter = HtmlRewriter(blocker, lambda match: b"PLACEHOLDER", NONCE if nonce else None)
    points = sorted({min(c, len(html)) for c in cuts})
    pieces = [html[a:b] for a, b in zip([0, *points], [*points, len(html)], strict=True)]
    return b"".join(rewriter.feed(piece) for piece in pieces) + rewriter.close()


def check(html: bytes, blocker: Blocker, cuts: list[int], nonce: bool = False) -> None:
    out = rewrite(html, blocker, cuts, nonce)
    seen = tokens(out)
    assert leaks(seen, blocker) == [], out
    cdata = b"<![CDATA[" in html
    assert [undone(t, cdata) for t in seen] == tokens(html), out
    # Chromium's preload scanner, which does not follow foreign content, reads a CDATA
    # section as a bogus comment up to its first ">": what it then reads must not load either.
    if cdata:
        scanned = out.replace(b"<svg", b"<div").replace(b"<math", b"<div")
        assert leaks(tokens(scanned), blocker) == [], out


_PIECES = [
    # loading tags, and tags that load nothing
    b"<img",
    b"<IMG",
    b"<script",
    b"<SCRIPT",
    b"<iframe",
    b"<source",
    b"<link",
    b"<div",
    b"<a",
    b"<p",
    b"<b>",
    # attributes and their pieces
    b" src=",
    b" SRC=",
    b" srcset=",
    b" href=",
    b" alt=",
    b" title=",
    b" type=",
    b" data-consent=analytics",
    b" media=(width >= 1px)",
    b"=",
    b'"',
    b"'",
    b">",
    b"/",
    b"/>",
    b" ",
    b"\t",
    b"\n",
    b"//tracker.test/p",
    b"https://tracker.test/a.js",
    b"/track/x",
    b"/local.png",
    b"//cdn.example/x",
    b'"//tracker.test/q"',
    b"'//tracker.test/q'",
    b'"Next >"',
    b"'>'",
    # raw text, RCDATA and script data
    b"<style>",
    b"</style>",
    b"<textarea>",
    b"</textarea>",
    b"<title>",
    b"</title>",
    b"<xmp>",
    b"</xmp>",
    b"<iframe>",
    b"</iframe>",
    b"<noembed>",
    b"</noembed>",
    b"<noframes>",
    b"</noframes>",
    b"<script>",
    b"</script>",
    b"</script ",
    b"</SCRIPT>",
    b"tracker(",
    b"<plaintext>",
    # comments, bogus comments, CDATA, script escapes
    b"<!--",
    b"-->",
    b"--!>",
    b"<!-->",
    b"<!",
    b"<?",
    b"</",
    b"<",
    b"<![CDATA[",
    b"]]>",
    b"<!--<script>",
    # foreign content: no raw text, "/>" closes, CDATA; integration points and breakouts
    b"<svg>",
    b"<SVG>",
    b"</svg>",
    b"<svg/>",
    b"<math>",
    b"</math>",
    b"<foreignObject>",
    b"</foreignobject>",
    b"<desc>",
    b"</desc>",
    b"<mi>",
    b"</mi>",
    b"<mglyph>",
    b'<annotation-xml encoding="text/html">',
    b"<annotation-xml>",
    b"</annotation-xml>",
    b"<font color=red>",
    b"<font>",
    b"<g>",
    b"</g>",
    b"<script/>",
    b"<style/>",
    b"<title/>",
    b"x",
    b"\x00",
]
_VALUES = [
    b"",
    b"x",
    b'"Next >"',
    b"'>'",
    b'"a=b"',
    b'"',
    b"'",
    b'x"y',
    b'"//tracker.test/q"',
    b"'//tracker.test/q'",
    b"//tracker.test/p",
    b"https://tracker.test/a.js",
    b'"/track/x"',
    b'"/local.png 1x, //tracker.test/2x.png 2x"',
    b"//cdn.example/x",
    b"analytics",
]
_ATTRIBUTE = st.tuples(
    st.sampled_from([b" ", b"", b"/", b"\n", b" / "]),
    st.sampled_from([b"src", b"SRC", b"srcset", b"href", b"alt", b"type", b"data-consent", b"="]),
    st.sampled_from([b"", b"=", b" = ", b"=="]),
    st.sampled_from(_VALUES),
).map(b"".join)
_TAG = st.tuples(
    st.sampled_from([b"<img", b"<script", b"<iframe", b"<source", b"<link", b"<div", b"</div"]),
    st.lists(_ATTRIBUTE, max_size=4).map(b"".join),
    st.sampled_from([b">", b"/>", b" >", b""]),
).map(b"".join)
# A denser soup of what decides foreign content, so that its interplays come up often.
_FOREIGN_PIECES = [
    b"<svg>",
    b"</svg>",
    b"<math>",
    b"</math>",
    b"<g>",
    b"</g>",
    b"<foreignObject>",
    b"</foreignObject>",
    b"<desc>",
    b"<mi>",
    b"</mi>",
    b"<p>",
    b"<font color=red>",
    b"<style>",
    b"</style>",
    b"<title>",
    b"</title>",
    b"<textarea>",
    b"</textarea>",
    b"<script>",
    b"</script>",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<img src=//tracker.test/p>",
    b"<script src=//tracker.test/a.js>",
    b"x",
]
_SOUP = st.one_of(
    st.lists(st.one_of(_TAG, st.sampled_from(_PIECES)), max_size=30).map(b"".join),
    st.lists(st.sampled_from(_FOREIGN_PIECES), max_size=20).map(b"".join),
)
_CUTS = st.lists(st.integers(min_value=0, max_value=600), max_size=5)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(html=_SOUP, cuts=_CUTS, nonce=st.booleans())
@example(html=b'<img alt="Next >" src="//tracker.test/collect">', cuts=[], nonce=False)
@example(html=b'<source media="(width >= 1px)" srcset="//tracker.test/x">', cuts=[], nonce=False)
def test_host_rules_see_the_tags_a_browser_sees(html: bytes, cuts: list[int], nonce: bool) -> None:
    check(html, HOST_ONLY, cuts, nonce)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(html=_SOUP, cuts=_CUTS, nonce=st.booleans())
def test_path_rules_see_the_tags_a_browser_sees(html: bytes, cuts: list[int], nonce: bool) -> None:
    check(html, WITH_PATHS, cuts, nonce)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(html=_SOUP, nonce=st.booleans())
def test_every_cut_and_byte_by_byte_give_the_same_output(html: bytes, nonce: bool) -> None:
    whole = rewrite(html, HOST_ONLY, [], nonce)
    for cut in range(1, len(html)):
        assert rewrite(html, HOST_ONLY, [cut], nonce) == whole, cut
    assert rewrite(html, HOST_ONLY, list(range(len(html))), nonce) == whole


@pytest.mark.parametrize(
    "html",
    [
        b"<span><svg></span><![CDATA[x><img src=//tracker.test/p>]]>",
        b"<div><svg></div><![CDATA[x><img src=//tracker.test/p>]]></svg>",
        b"<a><svg><path></path></a><![CDATA[><img src=//tracker.test/p>]]></svg><p>",
        b"<b><math><mrow></b><![CDATA[x><script src=//tracker.test/a.js></script>",
    ],
)
def test_cdata_after_an_end_tag_that_may_end_foreign_content_is_read_as_html(html: bytes) -> None:
    """An end tag closing an HTML element around <svg>/<math> ends foreign content: what
    follows "<![CDATA[x>" is markup again, and its tracker must be held (it loaded before)."""
    check(html, HOST_ONLY, [])
    check(html, HOST_ONLY, list(range(len(html))))


_KNOWN_GAP = pytest.mark.xfail(
    strict=True,
    reason="known gap: whether an end tag in <svg>/<math> closes an HTML element around it (and "
    "ends the foreign content) only the tree knows; the rewriter reads on in foreign content, "
    "CDATA excepted, so it may hold a tag the browser reads as text (README: what it cannot "
    "catch)",
)


@_KNOWN_GAP
def test_an_end_tag_closing_an_html_ancestor_of_foreign_content() -> None:
    check(b"<foreignObject><svg></foreignObject><style><img src=//tracker.test/p>", HOST_ONLY, [])


def test_an_end_tag_that_closes_nothing_in_foreign_content() -> None:
    """The parser reads the section as text, the preload scanner the pixel in it: held, in
    the text (this was over-holding once; the scanner makes it needed)."""
    check(b"<svg></span><![CDATA[x><img src=//tracker.test/p>]]>", HOST_ONLY, [])
