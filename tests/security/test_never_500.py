"""Never a 500: any bytes in, a 4xx with a message out, on every endpoint of the gate.

Before the fix, `{"action":"save","categories":["\\ud800"]}` answered 500, and one CSP report
with a lone surrogate in `blocked-uri` made the owner's report summary a 500 until restart.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_client import exchange
from consent_gate import ConsentGate, Policy
from consent_gate._types import Receive, Scope, Send
from consent_gate.fingerprint import API_NAMES

TOKEN = "fuzz-token"
PREFIX = "/consent-gate"
_SAME_ORIGIN = [(b"host", b"testserver"), (b"origin", b"http://testserver")]
_CHECKED = {b"host", b"origin", b"referer", b"sec-fetch-site", b"authorization"}
_POSTED = {f"{PREFIX}/consent", f"{PREFIX}/reports/csp", f"{PREFIX}/reports/fingerprint"}
_FITTING = {
    f"{PREFIX}/consent": [*_SAME_ORIGIN, (b"content-type", b"application/json")],
    f"{PREFIX}/reports/csp": [(b"content-type", b"application/csp-report")],
    f"{PREFIX}/reports": [(b"authorization", b"Bearer " + TOKEN.encode())],
}
seen = {"examples": 0, "5xx": 0}


async def _site(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError(f"the app was asked for {scope['path']!r}")  # only the gate's paths


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> ConsentGate:
    """One gate for every example, so what one request leaves (a report) meets the next."""
    dsn = f"sqlite:///{tmp_path_factory.mktemp('log') / 'log.sqlite3'}"
    policy = Policy.from_dict(
        {"log": {"dsn": dsn, "per_minute": 10_000}, "reports": {"per_minute": 10_000}}
    )
    return ConsentGate(_site, secret_key="s" * 32, policy=policy, reports_token=TOKEN)


# Text as json.loads can hand it over: lone surrogates included (sent as \ud800 escapes).
TEXT = st.text(st.one_of(st.characters(), st.integers(0xD800, 0xDFFF).map(chr)), max_size=40)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(TEXT, inner, max_size=5)),
    max_leaves=20,
)
CATEGORIES = st.one_of(st.sampled_from(["necessary", "analytics", "marketing", "x"]), TEXT)
CHOICES = st.fixed_dictionaries(
    {"action": st.one_of(st.sampled_from(["save", "accept_all", "allow", "gpc"]), VALUES)},
    optional={
        "categories": st.one_of(st.lists(CATEGORIES, max_size=4), VALUES),
        "via": st.one_of(st.sampled_from(["banner", "gpc"]), VALUES),
        "gpc": VALUES,
    },
)
CSP_REPORTS = st.one_of(
    st.fixed_dictionaries(
        {
            "csp-report": st.fixed_dictionaries(
                {},
                optional={
                    "blocked-uri": st.one_of(TEXT, VALUES, TEXT.map("https://".__add__)),
                    "effective-directive": st.one_of(TEXT, st.just("script-src-elem")),
                    "violated-directive": VALUES,
                    "document-uri": st.one_of(TEXT, VALUES, TEXT.map("https://t/".__add__)),
                },
            )
        }
    ),
    st.lists(
        st.fixed_dictionaries(
            {"type": st.just("csp-violation"), "url": VALUES},
            optional={
                "body": st.fixed_dictionaries(
                    {}, optional={"blockedURL": TEXT, "effectiveDirective": TEXT}
                )
            },
        ),
        max_size=3,
    ),
)
FINGERPRINT_REPORTS = st.fixed_dictionaries(
    {
        "page": st.one_of(TEXT, TEXT.map("/".__add__)),
        "attempts": st.lists(
            st.fixed_dictionaries(
                {
                    "script": st.one_of(TEXT, TEXT.map("https://x.example/".__add__)),
                    "api": st.one_of(st.sampled_from(sorted(API_NAMES)), VALUES),
                    "count": st.one_of(st.integers(), VALUES),
                }
            ),
            max_size=3,
        ),
    }
)


def _encoded(documents: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """As JSON: surrogates as \\udxxx escapes, or as (invalid) UTF-8 bytes."""
    return st.one_of(
        documents.map(lambda doc: json.dumps(doc).encode()),
        documents.map(
            lambda doc: json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")
        ),
    )


NASTY = st.one_of(
    _encoded(VALUES),
    st.binary(max_size=300),
    st.integers(1, 100_000).map(lambda n: b"[" * n + b"]" * (n % 3)),  # deep nesting
    st.integers(1, 20_000).map(lambda n: b'{"action": ' + b"9" * n + b"}"),  # huge numbers
    st.just(b'{"action": "save\x00", "categories": ["\x00"]}'),
    st.just(b"action=save&category=analytics&next=/%00%ff%ed%a0%80"),
    st.binary(max_size=300).map(lambda b: b"action=accept_all&next=" + b),
)
BODIES = {
    f"{PREFIX}/consent": st.one_of(_encoded(CHOICES), NASTY),
    f"{PREFIX}/reports/csp": st.one_of(_encoded(CSP_REPORTS), NASTY),
    f"{PREFIX}/reports/fingerprint": st.one_of(_encoded(FINGERPRINT_REPORTS), NASTY),
}
# Each target with its share of the examples: the endpoints that read bodies, and the summary
# that shows what they took in, most; None stands for any path under the prefix.
TARGETS = {
    f"{PREFIX}/consent": 1000,
    f"{PREFIX}/reports/csp": 800,
    f"{PREFIX}/reports/fingerprint": 400,
    f"{PREFIX}/reports": 300,
    f"{PREFIX}/preferences": 200,
    f"{PREFIX}/policy": 100,
    f"{PREFIX}/policy.json": 50,
    f"{PREFIX}/static/banner.js": 50,
    "/.well-known/gpc.json": 50,
    None: 300,
}
ANY_ROUTE = st.one_of(
    TEXT.map(lambda text: f"{PREFIX}/{text}"),
    TEXT.map(lambda text: f"{PREFIX}/reports/{text}"),
    TEXT.map(lambda text: f"{PREFIX}/static/{text}"),
)
CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            b"application/json",
            b"application/json; charset=utf-16",
            b"application/x-www-form-urlencoded",
            b"application/csp-report",
            b"application/reports+json",
            b"multipart/form-data; boundary=x",
            b"text/plain",
            b"",
        ]
    ),
    st.binary(max_size=60),
)
HEADER_NAMES = [
    b"host",
    b"origin",
    b"referer",
    b"sec-fetch-site",
    b"accept",
    b"accept-language",
    b"cookie",
    b"user-agent",
    b"sec-gpc",
    b"dnt",
    b"authorization",
]
HEADER_VALUES = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"testserver",
            b"http://testserver",
            b"same-origin",
            b"application/json",
            b"1",
            b"Bearer " + TOKEN.encode(),
            b"consent_gate=x; _ga=1",
            b"null",
        ]
    ),
)


def _request(
    gate: ConsentGate,
    route: str,
    body: bytes,
    method: str,
    query: bytes,
    content_type: bytes,
    headers: list[tuple[bytes, bytes]],
    fitting: bool,
    chunked: bool,
) -> None:
    sent = [(b"content-type", content_type), *headers]
    if fitting:  # half the requests get past the method, type, origin and token checks
        method = "POST" if route in _POSTED else "GET"
        sent = [*_FITTING.get(route, []), *[(k, v) for k, v in headers if k not in _CHECKED]]
    pieces = [body[: len(body) // 2], body[len(body) // 2 :]] if chunked else [body]

    async def receive() -> dict[str, Any]:
        piece = pieces.pop(0) if pieces else b""
        return {"type": "http.request", "body": piece, "more_body": bool(pieces)}

    seen["examples"] += 1
    try:
        response = asyncio.run(exchange(gate, method, route, sent, query=query, receive=receive))
    except Exception:
        seen["5xx"] += 1
        raise
    if response.status >= 500:
        seen["5xx"] += 1
    assert response.status < 500, (response.status, response.body[:200])
    if response.status >= 400 and method != "HEAD":
        assert response.body.strip(), "an error without a message"


@pytest.mark.parametrize("target", list(TARGETS), ids=lambda target: target or "any path")
def test_no_request_gets_a_500(gate: ConsentGate, target: str | None) -> None:
    @settings(
        max_examples=TARGETS[target],
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        route=st.just(target) if target else ANY_ROUTE,
        body=BODIES.get(target or "", NASTY),
        method=st.one_of(
            st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]),
            st.text(max_size=8),
        ),
        query=st.binary(max_size=100),
        content_type=CONTENT_TYPES,
        headers=st.lists(st.tuples(st.sampled_from(HEADER_NAMES), HEADER_VALUES), max_size=8),
        fitting=st.booleans(),
        chunked=st.booleans(),
    )
    def fuzz(**request: Any) -> None:
        _request(gate, **request)

    before = dict(seen)
    fuzz()
    print(
        f"\n{target or 'any path'}: {seen['examples'] - before['examples']} fuzzed requests; "
        f"all targets so far: {seen['examples']} requests, {seen['5xx']} answered 5xx"
    )
    assert seen["5xx"] == 0
