"""No request byte becomes markup: whatever a visitor sends, every element and attribute in what
the gate renders is one its templates wrote.

The gate once cached the banner with placeholders and replaced them per request; a path that
spelled a placeholder (`/x__cg_next__ __cg_nonce__ autofocus onfocus=alert(1)`) made the banner
carry attributes of the attacker's choosing. Here hostile paths, queries and headers (every old
placeholder, quotes, angle brackets, NULs) go through the whole gate, and the structure of its
output, parsed as a browser would, must equal the structure of a benign request's.
"""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_client import Client, run
from consent_gate import ConsentGate, Policy
from consent_gate._types import Receive, Scope, Send
from consent_gate.banner import Banner
from consent_gate.consent import ConsentCodec
from consent_gate.cookies import CookieRules
from consent_gate.policy import CspSettings
from consent_gate.rules import Match

SECRET = "injection-secret"
BASE = Policy.default()
POLICY = dataclasses.replace(BASE, banner=dataclasses.replace(BASE.banner, hide_from_bots=False))
PAGE = (
    b'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>'
    b'<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
    b"</head><body><h1>Shop</h1>"
    b'<iframe src="https://www.youtube.com/embed/abc" width="560" height="315"></iframe>'
    b"</body></html>"
)
# Markers the gate used, and what an attacker would try with or without them.
PAYLOADS = [
    "__cg_next__ __cg_nonce__ autofocus onfocus=alert(1) y",
    "__cg_next_q__",
    '"><script>alert(1)</script>',
    "' onmouseover='alert(1)",
    "\x00__cg_next__\x00",
    "</script><img src=x onerror=alert(1)>",
    "&quot; autofocus onfocus=alert(1) x=&quot;",
    "javascript:alert(1)",
    "<!--",
    "`onfocus=alert(1)`",
]
hostile = st.one_of(
    st.sampled_from(PAYLOADS),
    st.text(alphabet=st.sampled_from(list("\"'<>&=`/ \t\n\x00ab_%;:")), max_size=40),
    st.lists(st.one_of(st.sampled_from(PAYLOADS), st.text(max_size=10)), max_size=4).map("".join),
)


class Structure(HTMLParser):
    """Each element and its attribute names, in order; srcdoc documents parsed in turn."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, tuple[str, ...]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, tuple(name for name, _ in attrs)))
        for name, value in attrs:
            if name == "srcdoc" and value is not None:
                self.found += [("srcdoc", ()), *structure(value.encode())]

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)


def structure(html: bytes) -> list[tuple[str, tuple[str, ...]]]:
    parser = Structure()
    parser.feed(html.decode("utf-8", "replace"))
    parser.close()
    return parser.found


async def shop(scope: Scope, receive: Receive, send: Send) -> None:
    """The app's page, the same for every path (an app's 404 page included)."""
    status = 200 if scope["path"] == "/" else 404
    headers = [(b"content-type", b"text/html; charset=utf-8")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": PAGE})


def gate(mode: str = "report-only") -> ConsentGate:
    policy = dataclasses.replace(POLICY, csp=CspSettings(mode=mode))  # type: ignore[arg-type]
    return ConsentGate(shop, secret_key=SECRET, policy=policy)


GATES = {mode: gate(mode) for mode in ("off", "report-only", "enforce")}


def call(app: ConsentGate, path: str, query: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    """One GET through the gate, with a raw path and query as a server would pass them."""
    sent = run(
        app,
        "GET",
        path,
        [(b"host", b"shop.example"), (b"accept", b"text/html"), *headers],
        query=query,
        scheme="https",
        client="203.0.113.9",
        server=("shop.example", 443),
    )
    assert sent.status < 500
    return sent.body


def latin1(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")[:200].decode("latin-1").encode("latin-1")


@pytest.mark.parametrize("mode", list(GATES))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=hostile, query=hostile, referer=hostile, agent=hostile, language=hostile)
def test_no_request_text_becomes_markup_on_a_gated_page(
    mode: str, path: str, query: str, referer: str, agent: str, language: str
) -> None:
    app = GATES[mode]
    benign = structure(call(app, "/", b"", []))
    headers = [
        (b"referer", latin1(referer)),
        (b"user-agent", latin1(agent)),
        (b"accept-language", latin1(language)),
        (b"cookie", latin1(f"{POLICY.cookie_name}={query}; other={path}")),
    ]
    page = call(app, "/" + path, latin1(query), headers)

    assert structure(page) == benign
    assert head_script(page) == head_script(call(app, "/", b"", []))


def head_script(page: bytes) -> bytes:
    """The gate's head script without its per-response nonce: it depends on nothing sent."""
    found = re.search(
        rb'<meta charset="utf-8"><script(?: nonce="[^"]*")?>(.*?)</script>', page, re.S
    )
    assert found is not None
    return found.group(1)


@given(next_url=hostile, lang=hostile)
@settings(max_examples=80, deadline=None)
def test_no_request_text_becomes_markup_on_the_preferences_and_policy_pages(
    next_url: str, lang: str
) -> None:
    app = GATES["report-only"]
    prefix = POLICY.prefix
    for route in ("/preferences", "/policy"):
        benign = structure(call(app, prefix + route, b"", []))
        query = f"next={quote('/' + next_url)}&lang={quote(lang)}".encode()
        assert structure(call(app, prefix + route, query, [])) == benign


@given(next_url=hostile, nonce=st.sampled_from(["", "abc123", "A-_/+="]))
@settings(max_examples=80, deadline=None)
def test_banner_snippet_and_placeholder_hold_any_page_address(next_url: str, nonce: str) -> None:
    """The Banner API itself, whatever address a caller passes (safe_next or not)."""
    codec = ConsentCodec(SECRET, POLICY)
    banner = Banner(POLICY, CookieRules(POLICY))
    undecided = codec.loads(None)
    snippet = banner.snippet(undecided, next_url=next_url, prompt=True, nonce=nonce)
    plain = banner.snippet(undecided, next_url="/", prompt=True, nonce=nonce)
    assert structure(snippet.encode()) == structure(plain.encode())

    match = Match(category="marketing", service="youtube")
    framed = f'<iframe srcdoc="{banner.placeholder(match, next_url=next_url)}"></iframe>'
    benign = f'<iframe srcdoc="{banner.placeholder(match, next_url="/")}"></iframe>'
    assert structure(framed.encode()) == structure(benign.encode())


def test_the_reported_payload_adds_no_attribute() -> None:
    """The request from the report, as a server decodes it."""
    path = "/x__cg_next__ __cg_nonce__ autofocus onfocus=alert(1) y"
    page = call(GATES["enforce"], path, b"", [])
    assert structure(page) == structure(call(GATES["enforce"], "/", b"", []))


def test_srcdoc_placeholders_carry_the_address_escaped_twice() -> None:
    client = Client(GATES["report-only"], base_url="https://shop.example")
    response = client.get('/a"b<c', headers={"accept": "text/html"})
    assert "name=&#34;next&#34; value=&#34;/a&amp;#34;b&amp;lt;c&#34;" in response.text


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("/shop", "q=" + "a" * 5000, "/shop"),
        ("/" + "p" * 5000, "", "/"),
        ("/shop", "q=1", "/shop?q=1"),
    ],
)
def test_a_long_address_is_cut_before_it_is_repeated(path: str, query: str, expected: str) -> None:
    """The address appears in the banner and in every placeholder: its length must not
    multiply what one request makes the gate write."""
    page = call(GATES["off"], path, query.encode(), [])
    values = re.findall(rb'name="next" value="([^"]*)"', page)
    assert values
    assert {v.decode() for v in values} == {expected}
    assert len(page) < len(call(GATES["off"], "/", b"", [])) + 200
