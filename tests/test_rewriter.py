"""The streaming rewriter: what it holds back, and that it changes nothing else."""

from __future__ import annotations

import base64
import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent_gate.html import MAX_INLINE_SCRIPT, HtmlRewriter
from consent_gate.policy import Policy, Service
from consent_gate.rules import Blocker, Classifier, Match, Rules

SNIPPETS = Path(__file__).parent / "data" / "snippets"
MANIFEST = tomllib.loads((SNIPPETS / "MANIFEST.toml").read_text())["files"]
POLICY = Policy.default()
ALL_REFUSED = frozenset(POLICY.optional_categories)
PLACEHOLDER = b"PLACEHOLDER"

TEST_SERVICES = [
    Service(
        id="ga",
        name="GA",
        category="analytics",
        hosts=("google-analytics.com",),
        urls=("googletagmanager.com/gtag/js*", "/first-party/track*"),
        snippets=("gtag(",),
    ),
    Service(id="yt", name="YouTube", category="marketing", hosts=("youtube.com",)),
]


TEST_SERVICES_TUPLE = tuple(TEST_SERVICES)
CLASSIFIER = Classifier(TEST_SERVICES_TUPLE)


def blocker(refused: frozenset[str] = frozenset({"analytics", "marketing"})) -> Blocker:
    return Blocker(CLASSIFIER, refused)


def rewrite(html: bytes, block: Blocker | None = None, chunk: int = 0) -> bytes:
    rewriter = HtmlRewriter(block or blocker(), lambda match: PLACEHOLDER)
    if not chunk:
        return rewriter.feed(html) + rewriter.close()
    parts = [rewriter.feed(html[i : i + chunk]) for i in range(0, len(html), chunk)]
    return b"".join(parts) + rewriter.close()


_ADDED = re.compile(
    rb' type="text/plain"(?= data-cg-category=)| data-cg-category="[^"]*"'
    rb'| data-cg-service="[^"]*"| srcdoc="' + PLACEHOLDER + rb'"'
)
_RENAMED = re.compile(
    rb"data-cg-(?=(?:src|srcset|href|type|srcdoc|data|poster|imagesrcset|xlink:href|ping)\b)",
    re.IGNORECASE,
)


# A held sheet's text waits in an attribute (Chromium's preload scanner reads @import from any
# <style>): it goes back between the tags, unescaped.
_HELD_SHEET = re.compile(rb' data-cg-text="([^"]*)">')


def undo(output: bytes) -> bytes:
    """The input again: remove exactly what neutralising adds."""

    def sheet(found: re.Match[bytes]) -> bytes:
        return b">" + found.group(1).replace(b"&quot;", b'"').replace(b"&amp;", b"&")

    return _RENAMED.sub(b"", _ADDED.sub(b"", _HELD_SHEET.sub(sheet, output)))


def held(output: bytes) -> int:
    return output.count(b"data-cg-category=")


# --- what is held back --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (
            b'<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>',
            b'<script type="text/plain" data-cg-category="analytics" data-cg-service="ga" async '
            b'data-cg-src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>',
        ),
        (
            b"<SCRIPT SRC=//www.google-analytics.com/analytics.js></SCRIPT>",
            b'<SCRIPT type="text/plain" data-cg-category="analytics" data-cg-service="ga" '
            b"data-cg-SRC=//www.google-analytics.com/analytics.js></SCRIPT>",
        ),
        (
            b"<script>gtag('config','G-1')</script>",
            b'<script type="text/plain" data-cg-category="analytics" data-cg-service="ga">'
            b"gtag('config','G-1')</script>",
        ),
        (
            b'<script type="module" src="https://google-analytics.com/m.js"></script>',
            b'<script type="text/plain" data-cg-category="analytics" data-cg-service="ga" '
            b'data-cg-type="module" data-cg-src="https://google-analytics.com/m.js"></script>',
        ),
        (
            b"<img src='https://ssl.google-analytics.com/collect?v=1&amp;t=pageview' alt=''>",
            b'<img data-cg-category="analytics" data-cg-service="ga" '
            b"data-cg-src='https://ssl.google-analytics.com/collect?v=1&amp;t=pageview' alt=''>",
        ),
        (
            b'<iframe src="https://www.youtube.com/embed/x" allowfullscreen></iframe>',
            b'<iframe data-cg-category="marketing" data-cg-service="yt" srcdoc="PLACEHOLDER" '
            b'data-cg-src="https://www.youtube.com/embed/x" allowfullscreen></iframe>',
        ),
        (
            b'<link rel="preconnect" href="https://www.google-analytics.com">',
            b'<link data-cg-category="analytics" data-cg-service="ga" rel="preconnect" '
            b'data-cg-href="https://www.google-analytics.com">',
        ),
        (
            b'<img srcset="/a.png 1x, https://google-analytics.com/p.gif 2x">',
            b'<img data-cg-category="analytics" data-cg-service="ga" '
            b'data-cg-srcset="/a.png 1x, https://google-analytics.com/p.gif 2x">',
        ),
        (
            b'<script src="/first-party/track.js"></script>',
            b'<script type="text/plain" data-cg-category="analytics" data-cg-service="ga" '
            b'data-cg-src="/first-party/track.js"></script>',
        ),
    ],
)
def test_neutralises_tracker_elements(html: bytes, expected: bytes) -> None:
    assert rewrite(html) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://user@www.google-analytics.com/analytics.js",
        "https://user:pass@www.google-analytics.com/analytics.js",
        "https://www.google-analytics.com./analytics.js",
        "//www.google-\nanalytics.com/analytics.js",
        "https://www%2egoogle-analytics.com/analytics.js",
        "https:\\\\www.google-analytics.com\\analytics.js",
        "https:/\\www.google-analytics.com/analytics.js",
        "HTTPS://WWW.GOOGLE-ANALYTICS.COM/ANALYTICS.JS",
        " https://www.google-analytics.com/analytics.js ",
        "https://www.googletagmanager.com/./gtag/js?id=G-1",
    ],
)
def test_urls_are_read_the_way_browsers_read_them(url: str) -> None:
    # Quoted, so tabs and newlines stay inside the attribute value.
    for tag in (f'<script src="{url}"></script>', f'<img src="{url}">'):
        assert held(rewrite(tag.encode())) == 1, tag


def test_every_duplicate_of_a_loading_attribute_is_renamed() -> None:
    # HTML keeps the first of duplicate attributes; renaming only one would activate the other.
    out = rewrite(
        b'<img src="https://google-analytics.com/a" SRC="https://google-analytics.com/b">'
    )
    assert b" src=" not in out.lower().replace(b"data-cg-src", b"")


def test_pixels_inside_noscript_are_held_back() -> None:
    html = b'<noscript><img height="1" src="https://www.google-analytics.com/p?x=1"/></noscript>'
    assert held(rewrite(html)) == 1


def test_a_base_href_after_a_held_one_is_held_with_it() -> None:
    # A browser takes the first <base href>; once that is held, the next one moves relative URLs.
    html = (
        b'<base href="https://www.google-analytics.com/">'
        b'<base href="https://www.googletagmanager.com/">'
        b'<script async src="gtag/js?id=G-1"></script><base href="/other/">'
    )
    out = rewrite(html)
    assert held(out) == 3
    assert out.count(b'data-cg-service="ga" data-cg-href=') == 3
    assert undo(out) == html


_GA_SHEET = b"@import url(https://www.google-analytics.com/c.css);"


@pytest.mark.parametrize(
    "html",
    [
        b'<link rel="stylesheet" href="data:text/css,' + _GA_SHEET + b'">',
        b'<link rel="stylesheet" href="data:text/css;base64,' + base64.b64encode(_GA_SHEET) + b'">',
        b"<link rel=stylesheet href='data:text/css,a{background:url(//google-analytics.com/p)}'>",
        b'<style>@import url("data:text/css,' + _GA_SHEET + b'");</style>',
        b'<style>@import "data:text/css;base64,' + base64.b64encode(_GA_SHEET) + b'";</style>',
        b'<svg><style>@import "data:text/css;base64,' + base64.b64encode(_GA_SHEET) + b'";</style>',
    ],
)
def test_a_style_sheet_in_a_data_url_is_read_for_what_it_loads(html: bytes) -> None:
    # Its text is in the page, but the browser fetches its @import and url() as any sheet's.
    out = rewrite(html)
    assert held(out) == 1
    assert undo(out) == html


@pytest.mark.parametrize(
    "html", [b"<svg></svg><2", b"<p>a</p><math></math><p>I <3 it</p><img src=/a.png>"]
)
def test_a_lone_lt_after_inline_svg_or_math_passes_through(html: bytes) -> None:
    # Once raised SystemError in CPython's re: every such page was a 500.
    assert rewrite(html) == html


def test_refused_categories_only() -> None:
    html = b'<script src="https://google-analytics.com/a.js"></script><img src="//youtube.com/x">'
    out = rewrite(html, blocker(frozenset({"marketing"})))
    assert b'src="https://google-analytics.com/a.js"' in out
    assert b'data-cg-category="marketing"' in out


def test_site_owner_marks_elements_explicitly() -> None:
    html = (
        b'<script data-consent="analytics">track()</script>'
        b'<script data-consent="necessary">gtag("x")</script>'
        b'<img data-consent="preferences" src="/me.png">'
    )
    out = rewrite(html, blocker(frozenset({"analytics", "preferences"})))
    assert out.count(b'data-cg-category="analytics"') == 1
    assert b'<script data-consent="necessary">gtag("x")</script>' in out  # exempt
    assert b'data-cg-category="preferences"' in out


def test_a_mark_holds_what_the_tag_loads_and_leaves_a_tag_that_loads_nothing() -> None:
    html = (
        b'<div data-consent="analytics" style="color:red">a</div>'
        b'<svg data-consent="analytics"><g data-consent="analytics" fill="red"/></svg>'
        b'<p data-consent="analytics" style="background:url(/first-party.png)">b</p>'
    )
    sheet = b'<p style="background:url(/other.png)">c</p>'
    for page in (html + sheet, html):  # with CSS that loads in sight, or not yet
        out = rewrite(page) + rewrite(sheet)
        assert out.startswith(html[: html.index(b"<p")])  # nothing to hold: as it was
        assert b'<p data-cg-category="analytics" data-consent="analytics" data-cg-style=' in out


@pytest.mark.parametrize(
    "html",
    [
        b'<script type="application/ld+json">{"sameAs":"gtag(youtube.com)"}</script>',
        b'<script type="text/plain" data-category="analytics">gtag(1)</script>',
        b'<a href="https://www.youtube.com/c/acme">YouTube</a>',
        b'<script src="https://cdn.example.com/jquery.js"></script>',
        b"<script>fetch('/api/cart')</script>",
        b'<img src="/logo.png" alt="a > b">',
        # A "<" that starts no tag after an <svg> or <math> copied whole: Python 3.11's re
        # raised SystemError on it (CPython gh-101955, a group captured in a possessive repeat).
        b"<svg></svg><b>1 < 2</b>",
        b"<p><math></math> a <= b</p>",
    ],
)
def test_leaves_everything_else_alone(html: bytes) -> None:
    assert rewrite(html) == html


# --- HTML's raw-text rules ----------------------------------------------------------------------

TRACKER = b'<script src="https://google-analytics.com/a.js"></script>'
PIXEL = b'<img src="https://google-analytics.com/p.gif">'

AWKWARD = [
    b"<!-- " + TRACKER + b" -->",
    b"<textarea>" + TRACKER + b"</textarea>",
    b"<title>" + TRACKER + b"</title>",
    b"<style>/*" + TRACKER + b"*/</style>",
    b"<xmp>" + TRACKER + b"</xmp>",
    b"<iframe>" + TRACKER + b"</iframe>",
    b'<script>var s = "' + TRACKER.replace(b"</script>", b"<\\/script>") + b'";</script>',
    b"<?php " + TRACKER.replace(b">", b"") + b" ?>",
    b'<div title="' + TRACKER + b'">x</div>',
    b"<div title='" + TRACKER + b"'>x</div>",
]


@pytest.mark.parametrize("html", AWKWARD)
def test_markup_in_text_is_not_mistaken_for_tags(html: bytes) -> None:
    out = rewrite(html)
    # Nothing inside is renamed (a script whose text names a tracker is held whole).
    assert b"data-cg-src" not in out
    assert undo(out) == html


@pytest.mark.parametrize(
    ("html", "count"),
    [
        # The comment ends at "-->" or "--!>"; "<!-->" is a whole (empty) comment.
        (b"<!-->" + TRACKER, 1),
        (b"<!--->" + TRACKER, 1),
        (b"<!-- a --!>" + TRACKER, 1),
        (b"<!---->" + TRACKER, 1),
        (b"<!-- a -- ->" + TRACKER + b"-->", 0),
        (b"<!-- <!-- a --->" + TRACKER, 1),
        (b"<!-- </noscript> -->" + TRACKER, 1),  # outside <noscript>, no end
        (b"<noscript><!-- a --></noscript>" + TRACKER, 1),
        (b"<svg><!-- " + TRACKER + b" --></svg>", 0),
        (b"<svg><!-- a --><foreignObject>" + TRACKER, 1),
        # A bogus comment ends at the first ">" even when it looks like a comment opener.
        (b"<?x <!-- ?>" + TRACKER + b"-->", 1),
        (b"<![CDATA[ x ]]>" + TRACKER, 1),
        # Raw text ends at its own end tag, in any case, followed by space, / or >.
        (b"<TEXTAREA>x</textArea >" + TRACKER, 1),
        (b"<title>x</title/>" + TRACKER, 1),
        (b"<style>x</styled></style>" + TRACKER, 1),
        # "</script>" in a string still ends the script; the tracker after it is real.
        (b'<script>var a = "</script>' + TRACKER, 1),
        # Script double-escaping: "<!--<script>" keeps the next "</script>" inside the script.
        # (Held: the outer script, for the tracker its text names; the inner tag is text.)
        (b"<script><!--<script></script>" + TRACKER + b"--></script>", 1),
        (b"<script><!-- x --></script>" + TRACKER, 1),
        # (A script the site marks as necessary is not held: its inner tag stays text.)
        (b'<script data-consent="necessary"><!--<script></script>' + TRACKER + b"--></script>", 0),
        # Quotes only open values after "="; elsewhere they are plain characters.
        (b"<a b='c'>don't" + TRACKER, 1),
        (b'<a "x>' + TRACKER, 1),
        (b'<a ="x>' + TRACKER, 1),
        (b'<a b="1"="x>' + TRACKER, 1),
        # ...and "<script" after a quoted value is just another attribute name of <a>.
        (b'<a title="x>"' + TRACKER.replace(b"<script", b" <script"), 0),
        (b"<p>1 < 2 and 3 > 2</p>" + TRACKER, 1),
        (b"</ x>" + TRACKER + b"</>", 1),
        # <noscript>: read as markup (scripting off), but its end is honoured the way a
        # scripting browser reads it, so nothing after it is missed.
        (b"<noscript><!-- </noscript>" + TRACKER + b" --></noscript>", 1),
        (b"<noscript><style></noscript>" + TRACKER, 1),
        (b"<noscript><script></noscript>" + TRACKER, 1),
        # A self-closed raw-text element (SVG) does not swallow the rest of the page.
        (b"<svg><title/></svg>" + TRACKER, 1),
        (b'<svg><script href="x"/></svg>' + TRACKER, 1),
        (b"<plaintext>" + TRACKER, 0),
        # ...but in HTML "/>" is ignored: the script's data runs to its end tag.
        (b"<script/><style></script>" + PIXEL, 1),
        (b"<title/>" + PIXEL + b"</title>", 0),
        # Foreign content has no raw text: a browser sees the tags in SVG's or MathML's
        # <style>, <title>, <script>, <textarea>, <noscript>, <plaintext>...
        (b"<svg><style>" + PIXEL + b"</style></svg>", 1),
        (b"<SVG><title>" + PIXEL + b"</title></SVG>", 1),
        (b"<math><textarea>" + PIXEL + b"</textarea></math>", 1),
        (b"<svg><g><plaintext>" + PIXEL, 1),
        (b"<svg><noscript><style></noscript>" + PIXEL, 1),
        # A comment in an SVG script hides the pixel from the parser, but the script names a
        # tracker host: held as a whole, erring towards holding.
        (b"<svg><script><!--" + PIXEL + b"--></script></svg>", 1),
        # ...except inside an integration point (HTML again) or after HTML ends it.
        (b"<svg><foreignObject><style>" + PIXEL + b"</style></foreignObject></svg>" + PIXEL, 1),
        (b"<math><mi><textarea>" + PIXEL + b"</textarea></mi></math>", 0),
        (b'<math><annotation-xml encoding="text/html"><style>' + PIXEL, 0),
        (b"<math><annotation-xml><style>" + PIXEL, 1),
        (b'<svg><annotation-xml encoding="text/html"><style>' + PIXEL, 1),  # SVG's: no point
        (b"<math><annotation-xml><svg><style>" + PIXEL, 1),
        (b"<svg><p><style>" + PIXEL + b"</style>" + PIXEL, 1),
        (b"<svg><font color=red><style>" + PIXEL + b"</style>", 0),
        (b"<svg><font><style>" + PIXEL + b"</style>", 1),
        (b"<svg></p><style>" + PIXEL + b"</style>", 0),
        (b"<svg></svg><style>" + PIXEL + b"</style>", 0),
        (b"<svg/><style>" + PIXEL + b"</style>", 0),
        (b"<svg><g></svg><style>" + PIXEL + b"</style>", 0),
        # CDATA sections exist only in foreign content, and end at "]]>"; Chromium's preload
        # scanner reads one as a bogus comment up to its first ">" and fetches what follows.
        (b"<svg><![CDATA[ > " + PIXEL + b" ]]>" + PIXEL, 2),
        (b"<svg><![CDATA[ " + PIXEL + b" ]]>" + PIXEL, 1),
        (b"<svg><![cdata[ x ]]>" + PIXEL, 1),  # (a bogus comment: case matters)
        # SVG scripts load through href, run their text, and "/>" closes them.
        (b'<svg><script href="//google-analytics.com/a.js"/>' + PIXEL, 2),
        (b'<svg><script xlink:href="//google-analytics.com/a.js"></script></svg>', 1),
        (b"<svg><script>gtag('config')</script></svg>", 1),
        (b"<svg><script>var a = 1</script></svg>" + PIXEL, 1),
    ],
)
def test_tokenizer_edge_cases(html: bytes, count: int) -> None:
    out = rewrite(html)
    assert held(out) == count
    assert undo(out) == html


# A ">" inside a quoted value does not end the tag, whichever path copies it, and a value whose
# closing quote has not arrived yet is never re-read as an unquoted one (chunking cannot matter).
QUOTED_GT = [
    b'<img alt="Next >" src="https://www.google-analytics.com/collect?x">',
    b"<img alt='>' src=https://www.google-analytics.com/collect>",
    b'<source media="(width >= 1px)" srcset="https://www.youtube.com/x.gif">',
    b'<iframe title="a > b" src=//www.youtube.com/embed/1></iframe>',
    b'<script data-x=">" src="//google-analytics.com/a.js"></script>',
    b'<link title = ">" href=//google-analytics.com>',
    b'<img alt=">"src=//google-analytics.com/p>',
    b'<img/alt=">"/src=//google-analytics.com/p>',
]


@pytest.mark.parametrize("html", QUOTED_GT)
def test_a_quoted_gt_does_not_end_a_loading_tag(html: bytes) -> None:
    whole = rewrite(html)
    assert held(whole) == 1
    assert undo(whole) == html
    for cut in range(len(html) + 1):
        rewriter = HtmlRewriter(blocker(), lambda match: PLACEHOLDER)
        assert rewriter.feed(html[:cut]) + rewriter.feed(html[cut:]) + rewriter.close() == whole


@pytest.mark.parametrize(
    "html",
    [
        # The quote opened after "=" is still open at the first ">": "<img" is inside the value.
        b'<div title="x>" <img src=//google-analytics.com/p>',
        b"<a href='/x>' <img src=//google-analytics.com/p>",
        b'<a b = "x>" <script src=//google-analytics.com/a.js></script>',
    ],
)
def test_a_tag_inside_an_open_quoted_value_is_no_tag(html: bytes) -> None:
    for cut in range(len(html) + 1):
        rewriter = HtmlRewriter(blocker(), lambda match: PLACEHOLDER)
        assert rewriter.feed(html[:cut]) + rewriter.feed(html[cut:]) + rewriter.close() == html


# --- real-world snippets ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_catalogue_holds_back_every_vendor_snippet(name: str) -> None:
    html = (SNIPPETS / name).read_bytes()
    expected = MANIFEST[name]
    out = rewrite(html, Rules(POLICY).blocking(ALL_REFUSED))
    assert held(out) == expected["elements"], out.decode()
    assert undo(out) == html
    services = set(re.findall(rb'data-cg-service="([^"]+)"', out))
    assert services <= {s.encode() for s in expected["services"]}


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_snippets_pass_untouched_once_their_categories_are_accepted(name: str) -> None:
    html = (SNIPPETS / name).read_bytes()
    by_id = {s.id: s for s in POLICY.services}
    accepted = {by_id[s].category for s in MANIFEST[name]["services"]}
    block = Rules(POLICY).blocking(ALL_REFUSED - accepted)
    if block is None:
        return
    assert rewrite(html, block) == html


# --- streaming ----------------------------------------------------------------------------------

CORPUS = [
    *AWKWARD,
    b"<!DOCTYPE html><html><head><title>t</title>" + TRACKER + b"</head><body>"
    b"<script>gtag('js')</script><noscript><img src=//google-analytics.com/p></noscript>"
    b"<iframe src=https://youtube.com/embed/1></iframe><p>\xc3\xa9</p></body></html>",
]
CORPUS += [(SNIPPETS / name).read_bytes() for name in ("gtm.html", "meta-pixel.html")]


@pytest.mark.parametrize("html", CORPUS)
def test_every_split_point_gives_the_same_output(html: bytes) -> None:
    whole = rewrite(html)
    for cut in range(len(html) + 1):
        rewriter = HtmlRewriter(blocker(), lambda match: PLACEHOLDER)
        out = rewriter.feed(html[:cut]) + rewriter.feed(html[cut:]) + rewriter.close()
        assert out == whole, cut


@pytest.mark.parametrize("html", CORPUS)
def test_byte_by_byte_feeding_gives_the_same_output(html: bytes) -> None:
    assert rewrite(html, chunk=1) == rewrite(html)


def test_output_flows_while_input_streams() -> None:
    rewriter = HtmlRewriter(blocker(), lambda match: PLACEHOLDER)
    page = b"<p>" + b"x" * 10_000 + b"</p>"
    out = rewriter.feed(page[:5000])
    assert len(out) >= 4900  # only a marker-sized tail may wait for the next chunk


def test_long_inline_script_is_decided_on_its_prefix_and_not_held() -> None:
    rewriter = HtmlRewriter(blocker(), lambda match: PLACEHOLDER)
    start = rewriter.feed(b"<script>gtag('config');" + b"x" * 100)
    assert start == b""  # held until the text is known
    sent = 0
    for _ in range(2 * MAX_INLINE_SCRIPT // 65536 + 2):
        sent += len(rewriter.feed(b"y" * 65536))
    out = rewriter.feed(b"</script><p>after</p>") + rewriter.close()
    assert sent > MAX_INLINE_SCRIPT  # streaming resumed after the bound
    assert out.endswith(b"</script><p>after</p>")


LONG_CUTS = [0, 4096, 65536, 100_003]


def rewrite_in(html: bytes, size: int) -> bytes:
    return rewrite(html, chunk=size)


@pytest.mark.parametrize("size", LONG_CUTS)
def test_a_script_longer_than_can_be_examined_is_held_back_for_any_chunking(size: int) -> None:
    # Its tracker call comes after the bytes examined: it is held back all the same (fail
    # closed), and so is one with no tracker at all, under the first refused category.
    late = b"<script>" + b"x" * MAX_INLINE_SCRIPT + b"gtag(1)</script><p>after</p>"
    none = b"<script>" + b"y" * (MAX_INLINE_SCRIPT + 1) + b"</script>"
    for html in (late, none):
        out = rewrite_in(html, size)
        assert out.startswith(b'<script type="text/plain" data-cg-category="analytics">')
        assert undo(out) == html


@pytest.mark.parametrize("size", [*LONG_CUTS, MAX_INLINE_SCRIPT + 8, MAX_INLINE_SCRIPT + 9])
def test_a_script_of_exactly_the_examined_length_is_decided_on_its_text(size: int) -> None:
    html = b"<script>" + b"y" * MAX_INLINE_SCRIPT + b"</script>"
    assert rewrite_in(html, size) == html
    svg = b"<svg><script>" + b"y" * MAX_INLINE_SCRIPT + b"</script></svg>"
    assert rewrite_in(svg, size) == svg


def test_a_long_script_the_site_owner_marked_is_left_to_the_mark() -> None:
    html = b'<script data-consent="necessary">' + b"y" * (MAX_INLINE_SCRIPT + 1) + b"</script>"
    assert rewrite(html) == html


def test_buffer_stays_bounded_for_a_large_page() -> None:
    rewriter = HtmlRewriter(blocker(), lambda match: PLACEHOLDER)
    row = b'<div class="r"><img src="/i.png"><script>var a=1;</script>' + TRACKER + b"</div>\n"
    for _ in range(2000):
        rewriter.feed(row * 8)
        assert len(rewriter._buf) < 4096
    rewriter.close()


def test_unterminated_constructs_pass_through_at_the_end() -> None:
    for html in (b"<script src=//google-analytics.com/a", b"<!-- open", b"<textarea>x", b"<"):
        assert rewrite(html) == html


# --- properties ---------------------------------------------------------------------------------

_TOKENS = st.sampled_from(
    [
        b"<script>",
        b"</script>",
        b"<script src=//google-analytics.com/a.js>",
        b"<SCRIPT>gtag(1)",
        b"<!--",
        b"-->",
        b"--!>",
        b"<img src='https://youtube.com/p'>",
        b"<iframe src=//youtube.com/e>",
        b"</iframe>",
        b"<noscript>",
        b"</noscript>",
        b"<textarea>",
        b"</textarea>",
        b"<style>",
        b"</style>",
        b"<title>",
        b"<!",
        b"<?",
        b"</",
        b"<",
        b">",
        b"/>",
        b'"',
        b"'",
        b"=",
        b" ",
        b"a",
        b"<div title=",
        b"<plaintext>",
        b"<svg>",
        b"</svg>",
        b"<math>",
        b"\x00",
        b"\xff",
        b'<div data-consent="analytics" style="color:red">',
        b"<p style=background:url(/a.png)>",
        b"<g data-consent=analytics fill=red>",
    ]
)
_HTML = st.one_of(st.binary(max_size=300), st.lists(_TOKENS, max_size=60).map(b"".join))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(html=_HTML, cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6))
def test_any_input_and_chunking(html: bytes, cuts: list[int]) -> None:
    whole = rewrite(html)
    assert undo(whole) == html  # identical except where it neutralises
    rewriter = HtmlRewriter(blocker(), lambda match: PLACEHOLDER)
    points = sorted({min(c, len(html)) for c in cuts})
    pieces = [html[a:b] for a, b in zip([0, *points], [*points, len(html)], strict=True)]
    assert b"".join(rewriter.feed(p) for p in pieces) + rewriter.close() == whole


def test_placeholder_gets_the_match() -> None:
    seen: list[Match] = []

    def placeholder(match: Match) -> bytes:
        seen.append(match)
        return b"P"

    rewriter = HtmlRewriter(blocker(), placeholder)
    rewriter.feed(b"<iframe src=https://www.youtube.com/embed/x></iframe>")
    assert seen == [Match("marketing", "yt")]


# --- nonce stamping (CSP) ----------------------------------------------------------------------

NONCE = b' nonce="n0nce"'


def stamped(html: bytes, block: Blocker | None = None, chunk: int = 0) -> bytes:
    rewriter = HtmlRewriter(block or blocker(), lambda match: PLACEHOLDER, "n0nce")
    if not chunk:
        return rewriter.feed(html) + rewriter.close()
    parts = [rewriter.feed(html[i : i + chunk]) for i in range(0, len(html), chunk)]
    return b"".join(parts) + rewriter.close()


@pytest.mark.parametrize("chunk", [0, 1, 7])
def test_inline_scripts_get_the_nonce_and_nothing_else_changes(chunk: int) -> None:
    html = (
        b"<p>hi</p><SCRIPT>var a = 1;</SCRIPT>\n"
        b'<script type="module" defer>import "/a.js";</script>'
        b'<script type="application/json" id="data">{"a": 1}</script>'
        b"<script\n>b()</script><img src=x>"
    )
    assert stamped(html, chunk=chunk) == (
        b'<p>hi</p><SCRIPT nonce="n0nce">var a = 1;</SCRIPT>\n'
        b'<script nonce="n0nce" type="module" defer>import "/a.js";</script>'
        b'<script nonce="n0nce" type="application/json" id="data">{"a": 1}</script>'
        b'<script nonce="n0nce"\n>b()</script><img src=x>'
    )


@pytest.mark.parametrize(
    "tag",
    [
        b'<script src="/app.js"></script>',
        b'<script async src="https://cdn.example.org/lib.js">/* text */</script>',
        b'<script nonce="apps">a()</script>',
        b'<svg><script href="https://cdn.example.org/x.js"></script></svg>',
        b'<svg><script xlink:href="/x.js"></script></svg>',
        b"<style>p{}</style><!-- <script>a()</script> --><textarea><script>x</textarea>",
    ],
)
def test_external_already_nonced_and_non_script_markup_is_not_stamped(tag: bytes) -> None:
    assert stamped(tag) == tag


def test_held_back_inline_scripts_keep_a_nonce_for_activation_after_consent() -> None:
    out = stamped(b"<script>gtag('config', 'G-1')</script>")
    assert out.startswith(b'<script nonce="n0nce" type="text/plain" data-cg-category="analytics"')


def test_held_back_external_scripts_get_no_nonce() -> None:
    out = stamped(b'<script src="https://www.google-analytics.com/a.js"></script>')
    assert b"nonce" not in out
    assert b'data-cg-src="https://www.google-analytics.com/a.js"' in out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(html=_HTML, cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6))
def test_stamping_only_adds_nonces_whatever_the_input_and_chunking(
    html: bytes, cuts: list[int]
) -> None:
    whole = stamped(html)
    assert undo(whole.replace(NONCE, b"")) == html
    # Every stamp sits right after a script tag's name.
    assert whole.count(NONCE) == len(re.findall(rb"(?i)<script" + NONCE, whole))
    rewriter = HtmlRewriter(blocker(), lambda match: PLACEHOLDER, "n0nce")
    points = sorted({min(c, len(html)) for c in cuts})
    pieces = [html[a:b] for a, b in zip([0, *points], [*points, len(html)], strict=True)]
    assert b"".join(rewriter.feed(p) for p in pieces) + rewriter.close() == whole


@pytest.mark.parametrize("ends", [b"</style><p>after</p>", b""], ids=["closed", "page-ends-in-it"])
@pytest.mark.parametrize("chunk", [0, 4096, 65536])
def test_a_held_sheet_too_long_to_wait_for_streams_on_into_its_attribute(
    chunk: int, ends: bytes
) -> None:
    """Past 1 MiB the sheet is decided on what came and its text streams into data-cg-text
    (the preload scanner would fetch the @import left between the tags), the same bytes for
    any chunking."""
    css = b"@import url(https://www.google-analytics.com/x.css);" + b'a[title="&"]{}' * 80_000
    assert len(css) > 1024 * 1024
    html = b"<style>" + css + ends
    out = rewrite(html, chunk=chunk)
    assert out == rewrite(html)
    assert undo(out) == html
    assert held(out) == 1
    assert out.endswith(b'">' + ends)  # nothing of the sheet left between its tags


@pytest.mark.parametrize("chunk", [0, 4096, 65536])
def test_a_long_sheet_is_decided_on_its_first_mebibyte_in_any_chunking(chunk: int) -> None:
    """A tracker's url() past 1 MiB of a sheet is not read (README: memory stays bounded),
    whether the page came whole or in pieces; one within it holds the sheet."""
    filler = b"p{color:red}" * 90_000
    late = b"<style>" + filler + b"b{background:url(//www.google-analytics.com/p.gif)}</style>"
    early = b"<style>" + filler[:500_000] + b"b{background:url(//google-analytics.com/p)}</style>"
    assert held(rewrite(late, chunk=chunk)) == 0
    assert held(rewrite(early, chunk=chunk)) == 1


@pytest.mark.parametrize(
    ("css", "count"),
    [
        (b"@import 'https://www.google-analytics.com/x.css';", 1),
        (b'@IMPORT "//google-analytics.com/x.css" screen;', 1),
        (b'b{background:-webkit-image-set("//google-analytics.com/p.gif" 1x)}', 1),
        (b"b{background:URL( //google-analytics.com/p.gif )}", 1),
        (b"b{background:u\\72l(//google-analytics.com/p.gif)}", 1),  # an escape spells url(
        (b'b{content:"\\2f\\2fgoogle-analytics.com"} i{background:url("\\\\")}', 1),
        (b"b{background:url(//example.com/x.png);color:rgb(1,2,3)}", 0),
        (b'b{color:rgb(1 2 3)} b::after{content:"//google-analytics.com/p.gif"}', 0),
        (b"/* url(//google-analytics.com/p.gif) */ b{width:calc(1px + 2em)}", 0),
        (b'b{font-family:"/*"}i{background:url(//google-analytics.com/p.gif)}', 1),
        (b"b{background:url\r\n(//google-analytics.com/p.gif)}", 0),  # no longer a function
        # "/*" inside an unquoted url() opens no comment: what follows loads.
        (b"b{background:url(x/*)} i{background:url(//google-analytics.com/p.gif)} /**/", 1),
        (b"b{background:url(x /*)} i{background:url(//google-analytics.com/p.gif)} /**/", 1),
        (b"b{background:u\\72l(x/*)} i{background:url(//google-analytics.com/p.gif)}/**/", 1),
        (b"b{background:url(x'/*)} i{background:url(//google-analytics.com/p.gif)} /**/", 1),
    ],
)
@pytest.mark.parametrize("chunk", [0, 7])
def test_a_sheet_is_held_for_what_it_loads_not_for_what_it_says(
    css: bytes, count: int, chunk: int
) -> None:
    """Strings load only where they are URLs (@import, image-set); comments load nothing;
    escapes and "/*" inside strings are read as the CSS tokenizer reads them."""
    html = b"<style>" + css + b"</style>"
    out = rewrite(html, chunk=chunk)
    assert held(out) == count
    assert undo(out) == html


@pytest.mark.parametrize(
    "ping",
    [
        b"/own https://www.google-analytics.com/collect",
        b"https://example.com/a\thttps://www.google-analytics.com/collect",
        b"https://example.com/a\n\n//www.google-analytics.com/collect ",
    ],
)
def test_every_url_of_a_ping_list_is_read(ping: bytes) -> None:
    """A click pings each URL of the list: a tracker after the site's own was let through."""
    html = b'<a href="/next" ping="' + ping + b'">next</a>'
    out = rewrite(html)
    assert held(out) == 1
    assert b'data-cg-ping="' + ping + b'"' in out
    assert undo(out) == html


_SHEET = b'<link rel=stylesheet href="data:text/css,'
_GA = b"www.google-analytics.com"
_B64_IMPORT = b"QGltcG9ydCB1cmwoaHR0cHM6Ly93d3cuZ29vZ2xlLWFuYWx5dGljcy5jb20veC5jc3MpOw=="


@pytest.mark.parametrize(
    ("html", "count"),
    [
        (_SHEET + b"@import url(//" + _GA + b'/a.css)">', 1),
        (_SHEET + b"b{background:url(https://" + _GA + b'/p.gif)}">', 1),
        # CSS escapes spell the host; a sheet imports a data: sheet that imports the tracker
        (_SHEET + b'b{background:url(//www.google\\2d analytics.com/p)}">', 1),
        (_SHEET + b"@import 'data:text/css,@import url(//www.google%2Danalytics.com/a)'\">", 1),
        (b'<link rel=stylesheet href="DATA:text/css;base64,' + _B64_IMPORT + b'">', 1),
        (
            b'<script type=module src="data:text/javascript,import%20%27https://'
            b'www.googletagmanager.com/gtag/js%27"></script>',
            1,
        ),
        (b'<script src=" &#100;ata:,new Image().src=%27//' + _GA + b'/collect%27"></script>', 1),
        (b"<link rel=modulepreload href=\"data:,import 'https://" + _GA + b"/analytics.js'\">", 1),
        # A URL drops tabs and newlines anywhere: "d<TAB>ata:" is a data: URL.
        (b'<link rel=stylesheet href="d\tata:text/css,@import url(//' + _GA + b'/a.css)">', 1),
        (b'<script src="da\nta:,new Image().src=%27//' + _GA + b'/collect%27"></script>', 1),
        (b'<script src="\x01data\r:,new Image().src=%27//' + _GA + b'/collect%27"></script>', 1),
        # data: URLs that load nothing, and data: images (an image's own loads never happen)
        (_SHEET + b'b{color:red;background:url(/bg.png)}">', 0),
        (b'<script src="data:text/javascript,console.log(1)"></script>', 0),
        # A quirks-mode page applies a sheet whatever its type.
        (b'<link rel=stylesheet href="data:font/woff,@import url(//' + _GA + b'/x.css);">', 1),
        (b"<img src=\"data:image/svg+xml,<svg><image href='//" + _GA + b"/p'/></svg>\">", 0),
    ],
)
def test_a_script_or_sheet_from_a_data_url_is_held_for_what_it_loads(
    html: bytes, count: int
) -> None:
    """The browser runs or applies what a data: URL holds, and that loads what it names (proved
    in Chromium: tests/data/bypass/data-*.html); its text is read as an inline script's."""
    out = rewrite(html)
    assert held(out) == count
    assert undo(out) == html


def _percent(data: bytes) -> bytes:
    return "".join(f"%{byte:02X}" for byte in data).encode()


@pytest.mark.parametrize(
    ("html", "count"),
    [
        (
            b'<iframe src="data:text/html;charset=utf-16le,'
            + _percent((b"<img src=//" + _GA + b"/p>").decode().encode("utf-16-le"))
            + b'"></iframe>',
            1,
        ),
        (
            b'<link rel=stylesheet href="data:text/css;charset=UTF-16LE,'
            + _percent(("@import url(//" + _GA.decode() + "/x.css);").encode("utf-16-le"))
            + b'">',
            1,
        ),
        # ESC ( B switches ISO-2022-JP to ASCII: nothing, between the letters it splits.
        (
            b'<iframe src="data:text/html;charset=iso-2022-jp,<im%1B(Bg src=//www.goo%1B(B'
            + _GA[len(b"www.goo") :]
            + b'/p>"></iframe>',
            1,
        ),
        (b'<iframe src="data:text/html;charset=utf-8,<b>x</b>"></iframe>', 0),
    ],
)
def test_a_data_url_is_read_in_the_charset_it_names(html: bytes, count: int) -> None:
    """A browser decodes a data: URL's bytes as its charset says: UTF-16 markup, or markup that
    ISO-2022-JP's escapes split, shows no tag and no host to a reader of bytes (proved in
    Chromium: tests/data/bypass/iframe-data-utf16.html, link-data-css-utf16.html)."""
    out = rewrite(html)
    assert held(out) == count
    assert undo(out) == html


@pytest.mark.parametrize(
    "css",
    [
        b'@import url("data:text/css,@import url(https://www.google-analytics.com/x.css);");',
        b"@import 'data:text/css,b{background:url(//www.google-analytics.com/p.gif)}';",
    ],
)
def test_a_sheet_importing_a_data_sheet_is_held_for_what_that_loads(css: bytes) -> None:
    """Proved in Chromium: tests/data/bypass/style-data-import*.html."""
    html = b"<style>" + css + b"</style><svg><style>" + css + b"</style></svg>"
    out = rewrite(html)
    assert held(out) == 2
    assert undo(out) == html


@pytest.mark.parametrize("piece", [64, 1000])
def test_a_long_wait_fed_in_small_pieces_is_read_in_linear_time(
    piece: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A streamed template's small pieces while an inline script waits for its end: each read
    with the whole buffer again was square in the script's length (seconds for 300 KB)."""
    html = b"<p>before</p><script>" + b"var a = 1;\n" * 30_000 + b"</script><p>after</p>"
    read: list[int] = []
    run = HtmlRewriter._run

    def counted(self: HtmlRewriter, buf: bytes, low: bytes, final: bool) -> bytes:
        read.append(len(buf))
        return run(self, buf, low, final)

    monkeypatch.setattr(HtmlRewriter, "_run", counted)
    assert rewrite(html, chunk=piece) == rewrite(html)
    assert sum(read) < 6 * len(html)
