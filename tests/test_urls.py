"""Every spelling of a tracker's address that a browser fetches is held back: URLs are read the
way the WHATWG URL standard reads them, in whichever attribute or element loads them."""

from __future__ import annotations

import base64
import copy
import html
from unittest import mock
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from consent_gate import urls
from consent_gate.html import HtmlRewriter, grammar
from consent_gate.html import rewriter as html_rewriter
from consent_gate.policy import Policy
from consent_gate.rules import Blocker, Rules
from consent_gate.unknown import UnknownParties
from consent_gate.urls import Target, absolute, page_url, refresh_url, target

POLICY = Policy.default()
RULES = Rules(POLICY)
ALL_REFUSED = frozenset(POLICY.optional_categories)
PAGE = "http://shop.example/dir/page"
GTM = "www.googletagmanager.com"


def rewrite(markup: bytes, *, url: str = PAGE, refused: frozenset[str] = ALL_REFUSED) -> bytes:
    blocker = RULES.blocking(refused)
    assert blocker is not None
    rewriter = HtmlRewriter(blocker, lambda match: b"PLACEHOLDER", url=url)
    return rewriter.feed(markup) + rewriter.close()


def held(markup: bytes, **kwargs: object) -> bool:
    return b"data-cg-category=" in rewrite(markup, **kwargs)  # type: ignore[arg-type]


# Each spells https://{a}.{b}.{c}/{path} in a way Chromium fetches.
SPELLINGS = [
    "https:{a}.{b}.{c}/{path}",  # no slashes (another scheme than the page's)
    "https:/{a}.{b}.{c}/{path}",
    "https:///{a}.{b}.{c}/{path}",
    "https:/\t/{a}.{b}.{c}/{path}",
    "ht\ntps://{a}.{b}.{c}/{path}",
    "https://{a}.{b1}\t{b2}.{c}/{path}",
    "\x01\x1f https://{a}.{b}.{c}/{path}\x00 ",
    "https:\\\\{a}.{b}.{c}\\{path}",
    "https://{a}&#46;{b}&#x2E;{c}/{path}",
    "https://{a}&period;{b}&period;{c}/{path}",
    "https:&sol;&sol;{a}.{b}.{c}/{path}",
    "https&colon;//{a}.{b}.{c}/{path}",
    "&#x68;ttps://{a}.{b}.{c}/{path}",
    "https://{a}.{b}\u3002{c}/{path}",
    "https://{a}\uff0e{b}\uff61{c}/{path}",
    "https://\uff57\uff57\uff57.{b}.{c}/{path}",
    "https://{a}.{b}%2e{c}/{path}",
    "https://%77%77%77.{b}.{c}/{path}",
    "HTTPS://{A}.{B}.{C}/{path}",
    "https://x@{a}.{b}.{c}/{path}",
    "https://x:y@{a}.{b}.{c}/{path}",
    "https://{a}.{b}.{c}./{path}",
    "https://{a}.{b}.{c}:443/{path}",
    "https://{a}.{b}.{c}:8443/{path}",
    "//{a}.{b}.{c}/{path}",
    "\\\\{a}.{b}.{c}/{path}",
    "https://{a}.{b}.{c}/x/../{path}",
]


def spell(template: str, host: str, path: str) -> str:
    a, b, c = host.split(".")
    half = len(b) // 2
    return template.format(
        a=a, b=b, c=c, A=a.upper(), B=b.upper(), C=c.upper(), b1=b[:half], b2=b[half:], path=path
    )


@pytest.mark.parametrize("template", SPELLINGS)
def test_every_spelling_of_a_tracker_url_is_read_as_the_browser_reads_it(template: str) -> None:
    found = target(html.unescape(spell(template, GTM, "gtag/js?id=G-1")), PAGE)
    assert found is not None
    assert found.host.partition(":")[0] == GTM
    assert found.path == "/gtag/js?id=G-1"


@pytest.mark.parametrize("template", SPELLINGS)
@pytest.mark.parametrize("quote_char", ['"', "'", ""])
def test_every_spelling_is_held_back_in_a_script(template: str, quote_char: str) -> None:
    spelling = spell(template, GTM, "gtag/js?id=G-1")
    if not quote_char and any(c in spelling for c in " \t\n\x00\x01\x1f"):
        pytest.skip("an unquoted value ends at whitespace")
    markup = f"<script async src={quote_char}{spelling}{quote_char}></script>"
    out = rewrite(markup.encode("utf-8"))
    assert b'type="text/plain" data-cg-category="analytics"' in out, out
    assert b" data-cg-src=" in out


@pytest.mark.parametrize("template", SPELLINGS)
def test_every_spelling_is_held_back_in_a_pixel(template: str) -> None:
    pixel = spell(template, "www.facebook.com", "tr?id=1")
    out = rewrite(f'<img alt="" src="{pixel}">'.encode())
    assert b'data-cg-category="marketing"' in out, (pixel, out)


def test_a_scheme_without_slashes_is_relative_on_a_page_of_the_same_scheme() -> None:
    assert target(f"https:{GTM}/x", "https://shop.example/dir/") == Target(
        "https", "shop.example", f"/dir/{GTM}/x"
    )
    assert target(f"https:{GTM}/x", "http://shop.example/dir/") == Target("https", GTM, "/x")


def test_first_party_and_other_urls_are_left_alone() -> None:
    for markup in [
        b'<script src="/app.js"></script>',
        b'<img src="logo.png" alt="Note: no tracker here &amp; none there">',
        b'<a href="https://www.facebook.com/acme">Us on Facebook</a>',
        b'<img src="https://cdn.example/x.png" style="color: red">',
        b'<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">',
        b'<base href="/static/">',
    ]:
        assert rewrite(markup) == markup


def test_relative_urls_resolve_against_base_href() -> None:
    markup = (
        b'<base href="https://cdn.jsdelivr.net/npm/">'
        b'<script src="@fingerprintjs/fingerprintjs@4/dist/fp.min.js"></script>'
    )
    out = rewrite(markup)
    assert out.startswith(b'<base href="https://cdn.jsdelivr.net/npm/">')  # not a tracker
    assert b'data-cg-service="fingerprintjs"' in out
    assert b'data-cg-src="@fingerprintjs' in out


def test_a_base_href_on_a_tracker_is_itself_held_and_moves_nothing() -> None:
    markup = f'<base href="https://{GTM}/gtag/"><script src="js?id=G-1"></script>'.encode()
    out = rewrite(markup)
    assert out.startswith(b'<base data-cg-category="analytics"')
    assert b'data-cg-href="https://www.googletagmanager.com/gtag/"' in out
    # Relative URLs stay on the page's own host, so the script is first-party.
    assert out.endswith(b'<script src="js?id=G-1"></script>')


def test_only_the_first_base_href_counts() -> None:
    markup = (
        b'<base target="_blank"><base href="/"><base href="https://cdn.jsdelivr.net/npm/">'
        b'<script src="@fingerprintjs/fingerprintjs@4/dist/fp.min.js"></script>'
    )
    assert rewrite(markup) == markup


# Plain URLs are read without the parser (urls._plain); it must never read one differently.
URL_BASES = [
    "https://shop.example/dir/page?x=1#f",
    "http://shop.example:8080/",
    "https://shop.example/a/b/",
    "ftp://files.example/dir/",
]
URL_PIECES = [*"aZ09-._~!$&'()*+,;=:@/%?#\\ \t\"<>`{}^|[]", "//", "https:", "HTTP:", "%2e", "%2E"]
URL_PIECES += ["..", "xn--", "0x", "1", "\u00e9", "\u3002", "mailto:", "a.b", "//a.b", "/./"]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(URL_PIECES), max_size=14).map("".join), st.sampled_from(URL_BASES))
@example("//Tracker.Example/p?q#f", URL_BASES[0])
@example("https://0x7f.1/x", URL_BASES[0])
@example("img/a.png?", URL_BASES[2])
@example("//cdn.example/a", "http://[")  # a base the parser refuses: no crash, as ada reads it
@example("a.png", "https://%")
def test_plain_urls_are_read_as_the_parser_reads_them(value: str, base: str) -> None:
    assert urls._plain(value, base) in (None, urls._parsed(value, base))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://Cdn.Example/a/b.js?v=1#x", Target("https", "cdn.example", "/a/b.js?v=1")),
        ("//cdn.example?q", Target("https", "cdn.example", "/?q")),
        ("/img/a.png", Target("https", "shop.example", "/img/a.png")),
        ("a.png?", Target("https", "shop.example", "/dir/a.png")),
        ("?page=2", Target("https", "shop.example", "/dir/page?page=2")),
        ("#top", Target("https", "shop.example", "/dir/page?x=1")),
    ],
)
def test_plain_urls_are_read_without_the_parser(value: str, expected: Target) -> None:
    assert urls._plain(value, URL_BASES[0]) == expected == target(value, URL_BASES[0])


def test_absolute_resolves_base_hrefs() -> None:
    assert absolute("../a/", "https://x.example/b/c/") == "https://x.example/b/a/"
    assert absolute("http://[", PAGE) is None


@pytest.mark.parametrize(
    ("markup", "renamed"),
    [
        (f'<a href="/buy" ping="https://{GTM}/collect">Buy</a>', b"data-cg-ping="),
        ('<area href="/buy" ping="https://www.facebook.com/tr?id=1">', b"data-cg-ping="),
        ('<body background="https://www.facebook.com/tr?id=1">', b"data-cg-background="),
        ('<table background="https://www.facebook.com/tr?id=1">', b"data-cg-background="),
        ('<td background="//www.facebook.com/tr?id=1">', b"data-cg-background="),
        ('<svg><image href="https://www.facebook.com/tr?id=1"/></svg>', b"data-cg-href="),
        ('<svg><image xlink:href="https://www.facebook.com/tr"/></svg>', b"data-cg-xlink:href="),
        ('<svg><use href="https://www.facebook.com/tr?id=1#i"/></svg>', b"data-cg-href="),
        (
            '<meta http-equiv="refresh" content="0; url=https://www.facebook.com/tr?id=1">',
            b"data-cg-content=",
        ),
        (  # a character reference in http-equiv: the browser refreshes all the same
            '<meta http-equiv="&#x52;e&#102;resh" content="0; url=https://www.facebook.com/tr">',
            b"data-cg-content=",
        ),
        ('<form action="https://www.facebook.com/tr" method="post">', b"data-cg-action="),
        ('<button formaction="https://www.facebook.com/tr">', b"data-cg-formaction="),
        (f'<link rel="modulepreload" href="https://{GTM}/gtm.js?id=1">', b"data-cg-href="),
        (f'<link rel="icon" href="https://{GTM}/gtm.js?id=1">', b"data-cg-href="),
        ('<video poster="https://www.facebook.com/tr?id=1"></video>', b"data-cg-poster="),
        ('<object data="https://www.facebook.com/tr?id=1"></object>', b"data-cg-data="),
        ('<embed src="https://www.facebook.com/tr?id=1">', b"data-cg-src="),
        ('<input type="image" src="https://www.facebook.com/tr?id=1">', b"data-cg-src="),
        ('<img data-src="https://www.facebook.com/tr?id=1" class="lazy">', b"data-cg-data-src="),
        ('<img data-lazy-src="https://www.facebook.com/tr?id=1">', b"data-cg-data-lazy-src="),
        ('<img data-srcset="https://www.facebook.com/tr?id=1 2x">', b"data-cg-data-srcset="),
        (
            f'<script type="rocketlazyloadscript" data-rocket-src="https://{GTM}/gtm.js?id=1">'
            "</script>",
            b"data-cg-data-rocket-src=",
        ),
    ],
)
def test_every_loading_attribute_is_held_back(markup: str, renamed: bytes) -> None:
    out = rewrite(markup.encode())
    assert b"data-cg-category=" in out, out
    assert renamed in out, out


@pytest.mark.parametrize(
    ("content", "url"),
    [
        ("0;url=//x'@www.facebook.com/tr", "//x'@www.facebook.com/tr"),
        ("0; URL = 'https://a.example/b'c", "https://a.example/b"),
        ('1.5, url="//x"@www.facebook.com/tr', "//x"),
        ("0 https://a.example/", "https://a.example/"),
        ("5", None),
    ],
)
def test_a_refresh_url_is_read_as_browsers_read_it(content: str, url: str | None) -> None:
    """Only a quote that opens the URL ends it: `url=//x'@host/` goes to host (x' is user
    info), as Chromium proved; the gate cut it at the quote and let the refresh through."""
    assert refresh_url(content) == url


def test_a_meta_that_does_not_refresh_is_left_alone() -> None:
    markup = b'<meta name="x" content="https://www.facebook.com/tr?id=1">'
    assert rewrite(markup) == markup


FRAME_DOC = f'<script async src="https://{GTM}/gtag/js?id=G-1"></script>'


@pytest.mark.parametrize(
    "markup",
    [
        f'<iframe srcdoc="{html.escape(FRAME_DOC)}"></iframe>',
        f"<iframe srcdoc='{FRAME_DOC}'></iframe>",
        f'<iframe src="data:text/html,{quote(FRAME_DOC)}"></iframe>',
        f'<iframe src="data:text/html;base64,{base64.b64encode(FRAME_DOC.encode()).decode()}">',
        f'<object data="data:text/html;base64,{base64.b64encode(FRAME_DOC.encode()).decode()}">',
        f'<embed src="data:text/html,{quote(FRAME_DOC)}">',
        "<iframe src=\"javascript:'<scr'+'ipt src=//www.googletagmanager.com/gtag/js>'\">",
        "<iframe srcdoc='<script src=\"https://www.googletagmanager&#x3002;com/gtag/js\">'>",
    ],
)
def test_a_frame_whose_own_document_holds_a_tracker_is_held(markup: str) -> None:
    out = rewrite(markup.encode())
    assert b'data-cg-category="analytics"' in out, out


def test_a_held_srcdoc_frame_gets_the_placeholder_and_keeps_its_document() -> None:
    out = rewrite(f'<iframe srcdoc="{html.escape(FRAME_DOC)}"></iframe>'.encode())
    assert b' srcdoc="PLACEHOLDER"' in out
    assert b' data-cg-srcdoc="&lt;script' in out


def test_a_frame_with_a_harmless_document_is_left_alone() -> None:
    for markup in [
        b'<iframe srcdoc="&lt;p&gt;hello from https://example.com/&lt;/p&gt;"></iframe>',
        b'<iframe src="data:text/html,%3Cp%3Ehi%3C/p%3E"></iframe>',
    ]:
        assert rewrite(markup) == markup


def test_accepted_categories_are_left_alone() -> None:
    markup = f"<script src=https:{GTM}/gtag/js?id=G-1></script>".encode()
    assert rewrite(markup, refused=frozenset({"marketing"})) == markup


def test_blocker_url_takes_the_page_base() -> None:
    blocker = RULES.blocking(ALL_REFUSED)
    assert isinstance(blocker, Blocker)
    assert blocker.url(f"https:{GTM}/gtag/js", base="http://x.example/") is not None
    assert blocker.url(f"https:{GTM}/gtag/js", base="https://x.example/") is None


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("shop.example:8000", "http://shop.example:8000/a%20b"),
        ("", "http://document.invalid/a%20b"),
        ("a@www.googletagmanager.com", "http://document.invalid/a%20b"),
        ("bad host<>", "http://document.invalid/a%20b"),
    ],
)
def test_the_page_url_is_always_a_valid_base(host: str, expected: str) -> None:
    assert page_url("http", host, "/a%20b") == expected


# --- inline scripts: hosts, escapes, joined strings ----------------------------------------


@pytest.mark.parametrize(
    ("script", "service"),
    [
        ('var s = "https:\\/\\/www.googletagmanager.com\\/gtag\\/js?id=G-1";', "google-analytics"),
        ("var s = 'https:\\x2f\\x2fwww.googletagmanager.com\\x2fgtag/js';", "google-analytics"),
        ("var s = 'https:\\u002f\\u002fwww.googletagmanager.com/gtag/js';", "google-analytics"),
        ("var s = 'https://www.googletag' + 'manager.com/gtag/js?id=' + id;", "google-analytics"),
        (
            "document.write('<scr'+'ipt src=\"https://ad.doubleclick.net/ddm/x.js\"></scr'+'ipt>')",
            "google-ads",
        ),
        (
            "(function(d,s){var e=d.createElement(s);e.src='//js.hs-analytics.net/analytics/'"
            "+Date.now()+'/123.js';d.head.appendChild(e)})(document,'script');",
            "hubspot",
        ),
        ('{"src": "https:\\/\\/connect.facebook.net\\/en_US\\/fbevents.js"}', "meta-pixel"),
    ],
)
def test_inline_scripts_are_matched_by_host_after_undoing_escapes(
    script: str, service: str
) -> None:
    out = rewrite(f"<script>{script}</script>".encode())
    assert out.startswith(b'<script type="text/plain" data-cg-category='), out
    assert f'data-cg-service="{service}"'.encode() in out, out


@pytest.mark.parametrize(
    "script",
    [
        "var x = 'https://notdoubleclick.net/ddm/x.js';",
        "var x = 'https://googletagmanager.com.example/gtag/js';",
        "var name = 'connect' + 'ed'; var re = /\\//;",
        "var share = 'https://www.facebook.com/sharer/sharer.php';",  # no tracking path
    ],
)
def test_inline_scripts_without_a_tracker_host_run(script: str) -> None:
    markup = f"<script>{script}</script>".encode()
    assert rewrite(markup) == markup


@pytest.mark.parametrize(
    "markup",
    [
        '<script type="importmap">{"imports": {"fp": '
        '"https://cdn.jsdelivr.net/npm/@fingerprintjs/fingerprintjs@4/+esm"}}</script>',
        '<script type="speculationrules">{"prefetch": [{"source": "list", '
        '"urls": ["https://www.googletagmanager.com/gtag/js?id=G-1"]}]}</script>',
    ],
)
def test_import_maps_and_speculation_rules_naming_trackers_are_held(markup: str) -> None:
    out = rewrite(markup.encode())
    assert out.startswith(b'<script type="text/plain" data-cg-category='), out
    assert b"data-cg-type=" in out


# --- CSS in style attributes -------------------------------------------------------------------


@pytest.mark.parametrize(
    "style",
    [
        "background: url(https://www.facebook.com/tr?id=1)",
        "background:url('//www.facebook.com/tr?id=1')",
        'background-image: image-set("https://www.facebook.com/tr?id=1" 1x)',
        "background: \\75 rl(https://www.facebook.com/tr?id=1)",
        "background: url(https:www.facebook.com/tr?id=1)",
        "background: url&lpar;https://www.facebook.com/tr?id=1&rpar;",
        "background: &#117;rl(//www.facebook.com/tr?id=1)",
        "background: url(//www.faceb\\6f ok.com/tr?id=1)",
    ],
)
@pytest.mark.parametrize("element", ["div", "span", "img", "section", "svg", "math"])
def test_a_style_attribute_loading_a_tracker_is_held(style: str, element: str) -> None:
    quoted = html.escape(style) if "&" not in style else style.replace('"', "&quot;")
    markup = f'<p>x</p><{element} class="hero" style="{quoted}">text</{element}>'.encode()
    out = rewrite(markup)
    assert b'data-cg-category="marketing"' in out, out
    assert b" data-cg-style=" in out, out


@pytest.mark.parametrize(
    "markup",
    [
        b'<div style="background: url(/hero.png); color: red">x</div>',
        b'<div style="font-family: &quot;Helvetica&quot;">x</div>',
        b'<div style="background: url(https://cdn.example/a.png)">x</div>',
        b'<p title="a>b" style="color: red">x</p><div style="width: calc(100% - 2px)">',
    ],
)
def test_style_attributes_loading_no_tracker_are_left_alone(markup: bytes) -> None:
    assert rewrite(markup) == markup


def test_a_style_attribute_is_found_whatever_the_chunking() -> None:
    markup = (
        b'<p title="x>y">a</p><div class="a" style="background:url(//www.facebook.com/tr)">'
        b"<span>b</span></div>"
    )
    blocker = RULES.blocking(ALL_REFUSED)
    assert blocker is not None
    for size in (1, 3, 7, 16):
        rewriter = HtmlRewriter(blocker, lambda match: b"P", url=PAGE)
        out = b"".join(rewriter.feed(markup[i : i + size]) for i in range(0, len(markup), size))
        out += rewriter.close()
        assert out == rewrite(markup)
        assert b"data-cg-style=" in out


@pytest.mark.parametrize(
    "sheet",
    [
        ".hero { background: url(https://www.facebook.com/tr?id=1) }",
        '@import "https://www.facebook.com/tr?id=1";',
        "@import url(//www.facebook.com/tr?id=1) screen;",
        '.a { background-image: -webkit-image-set("//www.facebook.com/tr?id=1" 1x) }',
        ".a { background: \\75 rl(https:www.facebook.com/tr?id=1) }",
    ],
)
@pytest.mark.parametrize("chunk", [0, 5])
def test_a_style_sheet_loading_a_tracker_is_held_whole(sheet: str, chunk: int) -> None:
    markup = f"<p>a</p><style media=screen>{sheet}</style><p>b</p>".encode()
    blocker = RULES.blocking(ALL_REFUSED)
    assert blocker is not None
    rewriter = HtmlRewriter(blocker, lambda match: b"P", url=PAGE)
    size = chunk or len(markup)
    out = b"".join(rewriter.feed(markup[i : i + size]) for i in range(0, len(markup), size))
    out += rewriter.close()
    held = html.escape(sheet, quote=True).replace("&#x27;", "'").encode()
    assert out == (
        b'<p>a</p><style type="text/plain" data-cg-category="marketing" '
        b'data-cg-service="meta-pixel" media=screen data-cg-text="' + held + b'"></style><p>b</p>'
    )


def test_a_held_sheet_keeps_its_text_exactly_in_an_attribute() -> None:
    """Its text leaves the element (a preload scanner would fetch an @import there) and reads
    back byte for byte: only & and " are escaped, as an attribute value needs."""
    sheet = "@import \"https://www.facebook.com/tr?a=1&amp;b=2\"; .x{content:'<b>&'}"
    out = rewrite(f"<style>{sheet}</style>".encode())
    value = out.split(b'data-cg-text="')[1].split(b'"')[0]
    assert html.unescape(value.decode()) == sheet
    assert b"@import" in value
    assert out.endswith(b"></style>")


@pytest.mark.parametrize(
    "markup",
    [
        b"<style>.a { background: url(/a.png) } .b::after { content: '</p>' }</style><p>x</p>",
        b"<style>@import url(https://fonts.example/css);</style>",
        b"<style></style>",
        b"<style>",
    ],
)
def test_style_sheets_loading_no_tracker_are_left_alone(markup: bytes) -> None:
    assert rewrite(markup) == markup


def test_deeply_nested_frames_are_searched_without_recursion() -> None:
    markup = '<img src="https://www.facebook.com/tr?id=1">'
    for _ in range(250):  # a RecursionError without the nesting limit
        markup = f'<iframe srcdoc="{html.escape(markup)}"></iframe>'
    out = rewrite(markup.encode())
    assert out.startswith(b'<iframe data-cg-category="marketing"')


# --- the fast path never copies what the exact path holds -------------------------------------

PIECES = [
    ["", "https:", "http:", "HTTPS:", "ht\ttps:", "&#x68;ttps:", "https&colon;", "data:", "x "],
    ["", "/", "//", "///", "\\\\", "/\\", "&sol;&sol;", "/\t/", " //", "&#47;/"],
    ["", "x@", "x:y@", "%40"],
    [
        "www.facebook.com",
        "www&#46;facebook.com",
        "www.facebook\u3002com",
        "www.face\tbook.com",
        "%77ww.facebook.com",
        "www.facebook.com.",
        "WWW.FACEBOOK.COM",
        "cdn.example",
        "facebook.com.example",
    ],
    ["", ":443", ":8080", "&#58;443"],
    ["", "/tr?id=1", "\\tr", "/x", "?a&amp;b"],
]


# Unknown third parties held: any host is read, relative URLs (the page's own site) are not.
HOLD = Policy.from_dict({"unknown": {"third_parties": "hold"}})
UNKNOWN = Rules(HOLD, unknown=UnknownParties(HOLD)).blocking(frozenset(HOLD.optional_categories))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["img", "script", "a", "td", "link", "div", "source", "embed", "meta", "form"]),
    st.sampled_from(
        ["src", "href", "ping", "background", "style", "data-src", "srcset", "http-equiv", "action"]
    ),
    st.tuples(*(st.sampled_from(piece) for piece in PIECES)),
    st.sampled_from(["known", "absolute"]),
)
@example("img", "src", ("https:", "//", "", "www.facebook.com", "", "/tr?id=1"), "absolute")
@example("img", "src", ("", "//", "", "cdn.example", "", "/x"), "absolute")
@example("a", "ping", ("", "/", "", "cdn.example", "", "/x"), "absolute")
@example("meta", "http-equiv", ("", "//", "", "www.facebook.com", "", ""), "known")
def test_the_fast_path_copies_only_what_the_exact_path_would(
    element: str, attribute: str, parts: tuple[str, ...], examine: str
) -> None:
    value = "".join(parts)
    if attribute == "style":
        value = f"background: url({value})"
    extra = ' content="0; url=' + value + '"' if attribute == "http-equiv" else ""
    markup = f'<p>a</p><{element} {attribute}="{value}"{extra}>b</{element}>'.encode()
    blocker = RULES.blocking(ALL_REFUSED) if examine == "known" else UNKNOWN
    assert blocker is not None
    blocker = blocker.for_host("shop.example")
    assert blocker.examines == examine
    fast_out = HtmlRewriter(blocker, lambda match: b"P", url=PAGE).feed(markup)
    exact = copy.copy(blocker)
    exact.examines = "all"
    # No fast path for loading tags at all: each one is read.
    with (
        mock.patch.object(grammar, "_unloading", return_value=b""),
        mock.patch.object(html_rewriter, "copier", grammar.copier.__wrapped__),
    ):
        exact_out = HtmlRewriter(exact, lambda match: b"P", url=PAGE).feed(markup)
    assert fast_out == exact_out, markup
