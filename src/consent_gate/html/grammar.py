"""The HTML tokenizer's grammar, as far as the rewriter follows it: tag, attribute and
raw-text patterns, the names that matter, and the compiled patterns that copy in C what
Python need not see. Everything here is built once per process (or per set of hosts).
"""

from __future__ import annotations

import re
from functools import lru_cache

from .._patterns import trie
from ..rules import Examine

__all__ = [
    "ATTR",
    "ATTRIBUTE",
    "ATTRIBUTES",
    "BOGUS_END",
    "BREAKOUT",
    "CDATA_END",
    "COMMENT_END",
    "DOCUMENT_ATTRS",
    "END_TAG",
    "FOREIGN_ONLY",
    "FOREIGN_SCRIPT_END",
    "HTML_POINTS",
    "LOADING_TYPES",
    "NEVER_OPEN",
    "PRESENTATION",
    "RAW_END",
    "SCRIPT_TOKEN",
    "START_TAG",
    "STYLED",
    "TEXT_POINTS",
    "TRACKED",
    "UNSTAMPED",
    "URL_ATTRS",
    "copier",
    "end_tag_at",
    "foreign_copier",
]

_RAWTEXT = (b"style", b"textarea", b"title", b"xmp", b"noembed", b"noframes", b"iframe")

_LOADING = (
    b"script",
    b"img",
    b"iframe",
    b"frame",
    b"link",
    b"embed",
    b"object",
    b"source",
    b"video",
    b"audio",
    b"input",
    b"track",
    # Loads that are not sources: pings, backgrounds, SVG references, forms, a refresh, the
    # document's base URL (read below, never copied by the fast path).
    b"a",
    b"area",
    b"base",
    b"body",
    b"table",
    b"thead",
    b"tbody",
    b"tfoot",
    b"tr",
    b"td",
    b"th",
    b"colgroup",
    b"col",
    b"image",
    b"feimage",
    b"set",
    b"animate",
    b"use",
    b"form",
    b"button",
    b"meta",
)

# All patterns run on a lower-cased copy of the input, so they can stay case-sensitive (and fast).
_WS = rb"[\t\n\f\r ]"

_NAME_END = rb"(?=[\t\n\f\r />])"

_NAME_END_BYTES = frozenset(bytes([c]) for c in b"\t\n\f\r />")

# One attribute exactly as the HTML tokenizer reads it; ATTRIBUTES, a tag's run of them.
_NAME = rb"[^\t\n\f\r />][^\t\n\f\r />=]*+"  # its first character may be "="


def _attribute(value: bytes, name: bytes = _NAME) -> bytes:
    """One attribute as the tokenizer reads it, `value` being the value's grammar.

    A value opened by a quote ends only at the matching quote: while that quote has not arrived
    the attribute (and so the tag) is incomplete, never re-read as an unquoted value. A name
    followed by "=" must have a value.
    """
    return (
        rb"[\t\n\f\r /]*+"
        + name
        + rb"(?:"
        + _WS
        + rb"*+="
        + _WS
        + rb"*+"
        + value
        + rb"|(?!"
        + _WS
        + rb"*+=))"
    )


_VALUE = rb"(?:\"[^\"]*+\"|'[^']*+'|(?![\"'])[^\t\n\f\r >]*+)"

ATTRIBUTE = _attribute(_VALUE)

ATTRIBUTES = rb"(?:" + ATTRIBUTE + rb")*+"

# The rest of a tag up to its ">": a tag whose quoted value is still open cannot be copied.
_FAST_ATTRS = ATTRIBUTES + rb"[\t\n\f\r /]*+"

# The same, for a tag that must end at its first ">" (no quoted value holds one).
_FAST_ATTRS_NO_GT = (
    rb"(?:" + _attribute(rb"(?:\"[^\">]*+\"|'[^'>]*+'|(?![\"'])[^\t\n\f\r >]*+)") + rb")*+"
    rb"[\t\n\f\r /]*+"
)

# A whole comment ("<!-->" and "<!--->" are whole), whose text holds no "</noscript" (which ends
# it inside a <noscript>, read as raw text): Python reads no comment the copier can.
_COMMENT = rb"<!--(?:-?>|(?:[^-<]++|-(?!-!?>)|<(?!/noscript" + _NAME_END + rb"))*+--!?>)"

_INTERESTING = trie({*_RAWTEXT, *_LOADING, b"noscript", b"plaintext", b"svg", b"math", b"frameset"})

_HOST_CHAR = rb"[^/\t\n\f\r \"'>?#\\@%]"

# What the fast path copies without reading URLs: no "&" (a character reference can spell any
# URL), no ":" (`https:host` needs no slashes), no control character.
_QUIET = rb"[^>/\\:&\x00-\x08\x0b\x0e-\x1f"

_UNTOKENISED_NAMES = frozenset(
    n for n in _LOADING if n not in _RAWTEXT and n not in (b"script", b"base")
)

_UNTOKENISED_LOADING = trie(set(_UNTOKENISED_NAMES))

# A tag without a style attribute, read with the exact attribute grammar.
# SVG presentation attributes that take a CSS url() (`fill="url(https://...)"` loads it).
PRESENTATION = frozenset(
    b"clip-path cursor fill filter marker-end marker-mid marker-start mask stroke".split()
)


def _without(names: frozenset[bytes]) -> bytes:
    """A tag without any of these attributes, read with the exact attribute grammar."""
    return (
        rb"(?=(?:(?![\t\n\f\r /]*+"
        + trie(set(names))
        + rb"[\t\n\f\r /=>])"
        + ATTRIBUTE
        + rb")*+[\t\n\f\r /]*+>)"
    )


# A tag without a style attribute; in foreign content, without a presentation attribute either.
_UNSTYLED = _without(frozenset({b"style"}))
_UNSTYLED_FOREIGN = _without(PRESENTATION | {b"style"})

# CSS that may load something: a url( or image-set(, or one spelled with escapes.
STYLED = (b"url(", b"image-set(", b"\\", b"&#", b"&lpar")

# With nonces to stamp, only a script that will not get one may be copied whole: one with an
# attribute `_stamp` leaves alone (looked for with the exact attribute grammar, so a chunked
# stream, which Python sees tag by tag, decides the same).
_UNSTAMPED_ATTR = (
    rb"(?=(?:" + ATTRIBUTE + rb")*?[\t\n\f\r /]*+(?:src|href|xlink:href|nonce)[\t\n\f\r /=>])"
)


@lru_cache(maxsize=4)
def _unloading(styles: bool) -> bytes:
    """Loading tags (not scripts, bases or raw text) that lack every attribute they could load
    from, their owner's mark and (with `styles`) a style attribute: they load nothing."""
    by_attrs: dict[frozenset[bytes], set[bytes]] = {}
    for name in _UNTOKENISED_NAMES:
        attrs = {*URL_ATTRS[name], *DOCUMENT_ATTRS.get(name, ()), b"data-consent"}
        if name == b"meta":
            attrs = {b"http-equiv", b"data-consent"}  # only a refresh loads (see _classify)
        by_attrs.setdefault(frozenset(attrs | ({b"style"} if styles else set())), set()).add(name)
    return b"".join(
        rb"|<"
        + trie(names)
        + _NAME_END
        + rb"(?=(?:(?![\t\n\f\r /]*+"
        + trie(set(attrs))
        + rb"[\t\n\f\r /=>])"
        + ATTRIBUTE
        + rb")*+[\t\n\f\r /]*+>)"
        + _FAST_ATTRS
        + rb">"
        for attrs, names in sorted(by_attrs.items(), key=lambda item: sorted(item[1]))
    )


@lru_cache(maxsize=64)
def copier(
    hosts: frozenset[str],
    examine: Examine,
    marks: bool,
    stamping: bool = False,
    styles: bool = False,
    in_point: bool = False,
) -> re.Pattern[bytes]:
    """Copies text, comments and every tag that cannot load anything, stopping before the first
    that can.

    A loading tag is copied too when none of the attributes it loads from is there (read with
    the exact attribute grammar). `examine` says which of the others are copied as well, when
    no quoted value holds a ">" (so the tag ends at the first ">"): "known", those in which no
    "//" before that ">" is followed by a known host and no site owner's mark appears (looked
    for only when the buffer holds one: `marks`); "absolute", those with no "//" at all (only
    relative URLs, which stay on the page's own site: unknown third parties are judged);
    "all", none (first-party path rules, or a base URL on another host). With `styles` (the
    buffer holds CSS that may load something), a tag with a style attribute is examined too.
    `in_point`: inside an HTML integration point of foreign content, whose end tags (and
    MathML's glyph tags) Python follows.
    """
    script = rb"|<script" + _NAME_END + (_UNSTAMPED_ATTR if stamping else b"")
    quick = _unloading(styles)
    if examine != "all":
        if examine == "known":
            known = trie({h.encode() for h in hosts}) if hosts else b"(?!)"
            host = rb"(?:" + _HOST_CHAR + rb"*\.)?" + known + rb"(?![a-z0-9-]|\.[a-z0-9])|"
        else:
            host = rb"|"  # any host at all
        plain = _QUIET + (rb"d]++|d(?!ata-consent)" if marks else rb"]++")
        safe = (
            # Up to the first ">", no "//" (a backslash reads as "/") is followed by a host
            # examined, or by a host with user info, escapes, tabs, newlines or non-ASCII in
            # it; a ":" ends no "http", "https" or "data" (a tab or newline may end one), or
            # comes before "//" or a space; a "&" only starts "&amp;" (see `_QUIET`).
            _NAME_END
            + rb"(?=(?:"
            + plain
            + rb"|(?<![spa\t\n\r]):|:(?=[/\\][/\\]| )|&amp;|[/\\](?![/\\]"
            + host
            + rb"[/\\]"
            + _HOST_CHAR
            + rb"*[\t\n\r@%\\\x80-\xff]|[/\\]{2}|[\t\n\r]))*+>)"
            + _FAST_ATTRS_NO_GT
            + rb">"
        )
        # ...and a script with no text at all (the usual external one) is copied whole.
        quick += (
            rb"|<"
            + _UNTOKENISED_LOADING
            + safe
            + script
            + safe
            + _WS
            + rb"*+</script"
            + _NAME_END
            + _FAST_ATTRS
            + rb">"
        )
    return re.compile(
        rb"[^<]*+(?:(?:"
        rb"<(?!"
        + (_INTERESTING_IN_POINT if in_point else _INTERESTING)
        + _NAME_END
        + rb")[a-z][^\t\n\f\r />]*+"
        + (_UNSTYLED if styles else b"")
        + _FAST_ATTRS
        + rb">"
        rb"|</(?!"
        + (_TRACKED_END if in_point else b"noscript")
        + _NAME_END
        + rb")[a-z][^\t\n\f\r />]*+"
        + _FAST_ATTRS
        + rb">"
        + quick
        + _whole_roots(styles)
        + rb"|"
        + _COMMENT
        + rb"|<(?=[^a-z!?/]))[^<]*+)*+"
    )


@lru_cache(maxsize=2)
def _whole_roots(styles: bool) -> bytes:
    """An <svg> or <math> with nothing inside that Python must follow, copied whole: one
    alternative per root, as a group captured inside the copier's possessive repeat (for a
    backreference to the root's name) makes Python 3.11's re raise SystemError (CPython
    gh-101955) on the first "<" that starts no tag after it."""
    return b"".join(
        rb"|<"
        + root
        + _NAME_END
        + (_UNSTYLED_FOREIGN if styles else b"")
        + _FAST_ATTRS
        + rb"(?<!/)>"
        + _foreign_body(styles)
        + rb"</"
        + root
        + _NAME_END
        + _FAST_ATTRS
        + rb">"
        for root in (b"svg", b"math")
    )


# The tags Python looks at, read with the tokenizer's exact attribute grammar.
START_TAG = re.compile(rb"<([a-z][^\t\n\f\r />]*+)(" + ATTRIBUTES + rb")([\t\n\f\r /]*+)>")

END_TAG = re.compile(rb"</([a-z][^\t\n\f\r />]*+)" + ATTRIBUTES + rb"[\t\n\f\r /]*+>")

ATTR = re.compile(_attribute(rb"(" + _VALUE + rb")", rb"(" + _NAME + rb")"))

_NOSCRIPT_END = rb"|</noscript" + _NAME_END

COMMENT_END = (re.compile(rb"--!?>"), re.compile(rb"--!?>" + _NOSCRIPT_END))

BOGUS_END = (re.compile(rb">"), re.compile(rb">" + _NOSCRIPT_END))

SCRIPT_TOKEN = (
    re.compile(rb"<!--|-->|</?script" + _NAME_END),
    re.compile(rb"<!--|-->|</?script" + _NAME_END + _NOSCRIPT_END),
)

RAW_END = {
    name: (
        re.compile(rb"</" + name + _NAME_END),
        re.compile(rb"</" + name + _NAME_END + _NOSCRIPT_END),
    )
    for name in _RAWTEXT
}

_JS_TYPES = frozenset(
    {
        b"",
        b"module",
        b"text/javascript",
        b"application/javascript",
        b"application/ecmascript",
        b"application/x-ecmascript",
        b"application/x-javascript",
        b"text/ecmascript",
        b"text/javascript1.0",
        b"text/javascript1.1",
        b"text/javascript1.2",
        b"text/javascript1.3",
        b"text/javascript1.4",
        b"text/javascript1.5",
        b"text/jscript",
        b"text/livescript",
        b"text/x-ecmascript",
        b"text/x-javascript",
        b"text/partytown",  # runs in a worker, trackers included
    }
)

# Lazy loaders copy these into src/srcset once the element is near the viewport.
_LAZY = (b"data-src", b"data-srcset", b"data-lazy-src", b"data-lazy-srcset")

LOADING_TYPES = _JS_TYPES | {b"importmap", b"speculationrules"}

URL_ATTRS = {
    b"script": (b"src", b"href", b"xlink:href", b"data-src", b"data-rocket-src"),
    b"img": (b"src", b"srcset", *_LAZY),
    b"iframe": (b"src", b"data-src", b"data-lazy-src"),
    b"frame": (b"src",),
    b"link": (b"href", b"imagesrcset"),
    b"embed": (b"src",),
    b"object": (b"data",),
    b"source": (b"src", b"srcset", *_LAZY),
    b"video": (b"src", b"poster", b"data-src", b"data-poster"),
    b"audio": (b"src", b"data-src"),
    b"input": (b"src", b"formaction"),
    b"track": (b"src",),
    b"a": (b"ping",),
    b"area": (b"ping",),
    b"base": (b"href",),
    b"body": (b"background",),
    **{
        name: (b"background",)
        for name in (b"table", b"thead", b"tbody", b"tfoot", b"tr", b"td", b"th", b"colgroup")
    },
    b"col": (b"background",),
    # HTML's tree builder makes <image> an <img>; in SVG it is SVG's own image.
    b"image": (b"href", b"xlink:href", b"src", b"srcset"),
    b"feimage": (b"href", b"xlink:href"),
    # SVG animation that sets an image's href to a URL (`<set attributeName=href to=...>`).
    b"set": (b"to",),
    b"animate": (b"from", b"to", b"by", b"values"),
    b"use": (b"href", b"xlink:href"),
    b"form": (b"action",),
    b"button": (b"formaction",),
    b"meta": (b"content",),  # only <meta http-equiv=refresh>: see Tag.urls
}

# Attributes whose value is a whole HTML document, or may be one (a data: URL).
DOCUMENT_ATTRS = {
    b"iframe": (b"srcdoc", b"src"),
    b"frame": (b"src",),
    b"object": (b"data",),
    b"embed": (b"src",),
}

UNSTAMPED = frozenset({b"src", b"href", b"xlink:href", b"nonce"})

CDATA_END = (re.compile(rb"\]\]>"), re.compile(rb"\]\]>" + _NOSCRIPT_END))

FOREIGN_SCRIPT_END = re.compile(rb"</script" + _NAME_END)

# HTML start tags that end foreign content (and "<font" with color, face or size).
BREAKOUT = frozenset(
    b"b big blockquote body br center code dd div dl dt em embed h1 h2 h3 h4 h5 h6 head hr i img "
    b"li listing menu meta nobr ol p pre ruby s small span strong strike sub sup table tt u ul "
    b"var".split()
)

HTML_POINTS = {b"svg": (b"foreignobject", b"desc", b"title"), b"math": ()}

TEXT_POINTS = {b"svg": (), b"math": (b"mi", b"mo", b"mn", b"ms", b"mtext")}

# The only foreign elements whose being open changes how markup reads: the others can open and
# close uncounted (an end tag that finds no open element of its name changes nothing).
TRACKED = frozenset(
    {b"svg", b"math", b"annotation-xml", b"mglyph", b"malignmark"}
    | {name for names in (*HTML_POINTS.values(), *TEXT_POINTS.values()) for name in names}
)

_TRACKED_END = trie({*TRACKED, b"noscript", b"p", b"br"})

_INTERESTING_IN_POINT = trie(
    {*_RAWTEXT, *_LOADING, b"noscript", b"plaintext", b"svg", b"math", b"frameset"}
    | {b"mglyph", b"malignmark"}
)

# SVG and MathML elements that are no HTML element: their end tags in foreign content close a
# foreign element or nothing. (`a`, `font`, `image`, `script`, `style`, `title` are both.)
FOREIGN_ONLY = frozenset(
    b"altglyph altglyphdef altglyphitem animate animatecolor animatemotion animatetransform "
    b"circle clippath color-profile cursor defs desc discard ellipse feblend fecolormatrix "
    b"fecomponenttransfer fecomposite feconvolvematrix fediffuselighting fedisplacementmap "
    b"fedistantlight fedropshadow feflood fefunca fefuncb fefuncg fefuncr fegaussianblur "
    b"feimage femerge femergenode femorphology feoffset fepointlight fespecularlighting "
    b"fespotlight fetile feturbulence filter font-face font-face-format font-face-name "
    b"font-face-src font-face-uri foreignobject g glyph glyphref hatch hatchpath hkern line "
    b"lineargradient marker mask mesh meshgradient meshpatch meshrow metadata missing-glyph "
    b"mpath path pattern polygon polyline radialgradient rect set solidcolor stop svg switch "
    b"symbol text textpath tref tspan use view vkern "
    b"math maction maligngroup malignmark menclose merror mfenced mfrac mglyph mi mlabeledtr "
    b"mlongdiv mmultiscripts mn mo mover mpadded mphantom mprescripts mroot mrow ms mscarries "
    b"mscarry msgroup msline mspace msqrt msrow mstack mstyle msub msubsup msup mtable mtd "
    b"mtext mtr munder munderover none semantics annotation annotation-xml".split()
)

# HTML elements that are never open around foreign content: void, raw text and RCDATA ones.
NEVER_OPEN = frozenset(
    b"area base basefont bgsound br col embed frame hr img input keygen link meta param source "
    b"track wbr iframe noembed noframes plaintext script style textarea title xmp".split()
)


@lru_cache(maxsize=2)
def _foreign_body(styles: bool) -> bytes:
    """Inside a foreign element: copies text and the tags that change nothing, stopping before
    any that may (breakout, tracked, loading, script, font, style; with `styles`, one with a
    style or presentation attribute), before an end tag that may close an HTML element around
    the foreign content, and before CDATA and a comment that may hold "</noscript"."""
    return (
        rb"[^<]*+(?:(?:<(?!"
        + trie({*BREAKOUT, *TRACKED, *_LOADING, *URL_ATTRS, b"font", b"style"})
        + _NAME_END
        + rb")[a-z][^\t\n\f\r />]*+"
        + (_UNSTYLED_FOREIGN if styles else b"")
        + _FAST_ATTRS
        + rb">|</"
        + trie(set(FOREIGN_ONLY | NEVER_OPEN) - {*TRACKED, b"noscript", b"p", b"br"})
        + _NAME_END
        + _FAST_ATTRS
        + rb">|"
        + _COMMENT
        + rb"|<(?=[^a-z/!?]))[^<]*+)*+"
    )


@lru_cache(maxsize=2)
def foreign_copier(styles: bool) -> re.Pattern[bytes]:
    """What copies foreign content Python need not see (`styles`: see `copier`)."""
    return re.compile(_foreign_body(styles))


def end_tag_at(low: bytes, start: int, opening: bytes) -> int:
    """The first `opening` (e.g. b"</script") from `start` that a name end follows, or -1."""
    at = low.find(opening, start)
    after = len(opening)
    while at != -1 and low[at + after : at + after + 1] not in _NAME_END_BYTES:
        at = low.find(opening, at + 1)
    return at
