"""Header rewriting as pure functions: the app's headers and the decision in, the gate's out,
the inputs untouched."""

from __future__ import annotations

import asyncio

import pytest

from asgi_client import exchange, http_scope, make_gate, respond
from consent_gate import ConsentGate
from consent_gate._types import Headers
from consent_gate.decision import PageDecision, classify, decide
from consent_gate.response_headers import held_cookies, held_loads, locked_headers, page_headers

HTML: Headers = [(b"content-type", b"text/html; charset=utf-8")]
APP: Headers = [
    *HTML,
    (b"content-length", b"42"),
    (b"etag", b'"v1"'),
    (b"last-modified", b"Sun, 06 Dec 2026 10:00:00 GMT"),
    (b"cache-control", b"public, max-age=60, s-maxage=600"),
    (b"vary", b"Accept-Encoding"),
    (b"x-app", b"kept"),
]


@pytest.fixture
def gate() -> ConsentGate:
    return make_gate(respond(b""))


def decision(gate: ConsentGate, cookie: bytes = b"_ga=1; session=2") -> PageDecision:
    headers = [(b"host", b"shop.example"), (b"cookie", cookie)]
    scope = http_scope("GET", "/", headers, scheme="https")
    consent = gate.read(scope["headers"], secure=True)
    return decide(gate.page, scope, consent, HTML, classify("GET", 200, HTML, []))


def rewritten(gate: ConsentGate, made: PageDecision, **options: object) -> Headers:
    settings: dict[str, object] = {"length": None, "opt_out": None, "collected": False}
    settings.update(options)
    return page_headers(
        APP,
        made,
        csp=gate.page.csp,
        vary=gate.page.vary,
        **settings,  # type: ignore[arg-type]
    )


def values(headers: Headers, name: bytes) -> list[bytes]:
    return [v for k, v in headers if k == name]


def test_a_page_is_made_per_visitor_for_caches_without_the_apps_validators(
    gate: ConsentGate,
) -> None:
    before = list(APP)
    out = rewritten(gate, decision(gate))
    assert before == APP  # a new list: the app's is not edited
    assert values(out, b"content-length") == []
    assert values(out, b"etag") == values(out, b"last-modified") == []
    assert values(out, b"cache-control") == [b"private, max-age=60"]
    assert values(out, b"vary") == [b"Accept-Encoding, Cookie, Accept-Language, Sec-GPC"]
    assert values(out, b"x-app") == [b"kept"]


def test_a_whole_body_gets_its_length_and_the_decision_its_cookies_and_csp(
    gate: ConsentGate,
) -> None:
    made = decision(gate)
    out = rewritten(gate, made, length=1234, opt_out=b"consent_gate=x; Path=/")
    assert values(out, b"content-length") == [b"1234"]
    cookies = values(out, b"set-cookie")
    assert cookies[0] == b"consent_gate=x; Path=/"
    assert cookies[1:] == list(made.expire)
    assert made.expire
    (policy,) = values(out, gate.page.csp.header_name)
    assert f"'nonce-{made.nonce}'".encode() in policy


def test_the_same_inputs_give_the_same_headers(gate: ConsentGate) -> None:
    made = decision(gate)
    assert rewritten(gate, made) == rewritten(gate, made)
    other = made._replace(expire=())
    assert values(rewritten(gate, other), b"set-cookie") == []


def test_a_page_that_reports_its_own_violations_has_no_report_uri(gate: ConsentGate) -> None:
    made = decision(gate)
    (reported,) = values(rewritten(gate, made), gate.page.csp.header_name)
    (collected,) = values(rewritten(gate, made, collected=True), gate.page.csp.header_name)
    assert b"report-uri" in reported
    assert b"report-uri" not in collected


def test_html_that_fails_closed_gets_an_enforced_policy_whatever_the_mode(
    gate: ConsentGate,
) -> None:
    consent = gate.codec.undecided
    out = locked_headers(HTML, consent, csp=gate.page.csp, vary=gate.page.vary)
    (policy,) = values(out, b"content-security-policy")
    assert b"script-src 'self'" in policy
    assert values(out, b"cache-control") == [b"private"]
    everything = gate.codec.decide(set(gate.policy.optional_categories))
    unlocked = locked_headers(HTML, everything, csp=gate.page.csp, vary=gate.page.vary)
    assert values(unlocked, b"content-security-policy") == []


def test_refused_set_cookie_lines_are_dropped_and_others_kept(gate: ConsentGate) -> None:
    app = [
        (b"content-type", b"application/json"),
        (b"set-cookie", b"_ga=GA1.1.1; Path=/"),
        (b"set-cookie", b"session=abc; HttpOnly"),
    ]
    refused = gate.codec.undecided.held
    out = held_cookies(app, refused, gate.page.cookie_rules)
    assert out == [app[0], app[2]]
    assert len(app) == 3


def test_links_to_refused_trackers_are_dropped(gate: ConsentGate) -> None:
    app = [
        (b"link", b"<https://www.google-analytics.com/analytics.js>; rel=preload; as=script"),
        (b"link", b"</style.css>; rel=preload; as=style"),
        (b"refresh", b"0; url=https://www.google-analytics.com/collect"),
    ]
    blocker = gate.page.rules.blocking(gate.codec.undecided.held)
    assert blocker is not None
    out = held_loads(app, blocker, "https://shop.example/")
    assert out == [app[1]]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (
            b"img-src 'none'; report-uri https://www.google-analytics.com/collect",
            b"img-src 'none';",
        ),
        (
            b"img-src 'none'; REPORT-URI /csp\t//www.google-analytics.com/c https://r.example/",
            b"img-src 'none'; report-uri /csp https://r.example/",
        ),
        (  # two policies in one header, each with its own directive
            b"report-uri https://connect.facebook.net/r;img-src 'self', "
            b"script-src 'self';report-uri https://www.facebook.com/tr",
            b";img-src 'self', script-src 'self';",
        ),
        (b"report-uri https://www.facebook.com/tr", b""),  # nothing left: no header
        (b"img-src 'none';  report-uri  /csp-reports ", None),  # kept byte for byte
        (b"img-src https://www.google-analytics.com; x-report-uri-y a", None),
    ],
)
def test_a_csp_report_uri_on_a_refused_tracker_is_dropped(
    gate: ConsentGate, policy: bytes, expected: bytes | None
) -> None:
    """The browser POSTs each violation of the app's policy, the page's address in it, to its
    report-uri: a beacon before consent that needs no script (proved in Chromium)."""
    blocker = gate.page.rules.blocking(gate.codec.undecided.held)
    assert blocker is not None
    for name in (b"content-security-policy", b"content-security-policy-report-only"):
        app = [*HTML, (name, policy)]
        out = held_loads(app, blocker, "https://shop.example/")
        kept = policy if expected is None else expected
        assert out == [*HTML, (name, kept)] if kept else out == HTML


@pytest.mark.parametrize(
    "link",
    [
        b'</logo.png>; rel=preload; as=image; imagesrcset="https://www.facebook.com/tr 1x"',
        b"</logo.png>; rel=preload; as=image; ImageSrcSet=//www.facebook.com/tr",
        b'<data:,x>; rel=preload; as=image; imagesrcset="/a 1x, https://www.facebook.com/tr 2x"',
        b'</a.png>; rel=preload; as=image; imagesrcset="https://www.face\\book.com/tr"',
    ],
)
def test_a_link_preloading_an_image_set_on_a_refused_tracker_is_dropped(
    gate: ConsentGate, link: bytes
) -> None:
    """Chromium preloads the image a Link header's imagesrcset picks, whatever its URI."""
    blocker = gate.page.rules.blocking(gate.codec.undecided.held)
    assert blocker is not None
    kept = b'</logo.png>; rel=preload; as=image; imagesrcset="/logo-2x.png 2x"'
    out = held_loads([(b"link", link + b", " + kept)], blocker, "https://shop.example/")
    assert out == [(b"link", kept)]


def test_a_redirect_to_a_refused_tracker_loses_its_location_unless_navigated(
    gate: ConsentGate,
) -> None:
    blocker = gate.page.rules.blocking(gate.codec.undecided.held)
    assert blocker is not None
    pixel = (b"location", b"https://www.facebook.com/tr?id=1")
    own = (b"location", b"/thanks")
    base = "https://shop.example/px"
    assert held_loads([pixel], blocker, base, follows=True) == []
    assert held_loads([own], blocker, base, follows=True) == [own]
    assert held_loads([pixel], blocker, base) == [pixel]  # a navigation: the visitor's own


@pytest.mark.parametrize(
    ("name", "value", "held"),
    [
        (b"reporting-endpoints", b'default="https://www.google-analytics.com/r"', True),
        (b"reporting-endpoints", b'csp="/csp", default="https://www.facebook.com/tr"', True),
        (b"reporting-endpoints", b'default="https://reports.shop.example/r"', False),
        (b"reporting-endpoints", b'default="/reports"', False),
        (
            b"report-to",
            b'{"group":"net","max_age":86400,'
            b'"endpoints":[{"url":"https://www.google-analytics.com/nel"}]}',
            True,
        ),
        (  # a JSON escape spelling the host's dots
            b"report-to",
            b'{"group":"net","max_age":1,'
            b'"endpoints":[{"url":"https://www\\u002efacebook\\u002ecom/tr"}]}',
            True,
        ),
        (
            b"report-to",
            b'{"group":"net","max_age":1,"endpoints":[{"url":"https://shop.example/nel"}]}',
            False,
        ),
    ],
)
def test_a_reporting_endpoint_on_a_refused_tracker_is_dropped(
    gate: ConsentGate, name: bytes, value: bytes, held: bool
) -> None:
    """Reports (CSP violations, deprecations, network errors with NEL) are POSTed to the
    endpoints these headers name, the page's address in each: a beacon with no script. Not
    seen in a test browser (Chromium sends them in batches, a minute later), so held on
    principle, like a CSP report-uri."""
    blocker = gate.page.rules.blocking(gate.codec.undecided.held)
    assert blocker is not None
    headers = [*HTML, (name, value), (b"nel", b'{"report_to":"net","max_age":86400}')]
    out = held_loads(headers, blocker, "https://shop.example/")
    assert ((name, value) not in out) == held
    assert out[-1][0] == b"nel"


def test_a_reporting_endpoint_is_held_on_a_response_that_is_not_html() -> None:
    app = respond(
        b"{}",
        content_type=b"application/json",
        headers=[(b"Reporting-Endpoints", b'default="https://www.facebook.com/tr"')],
    )
    sent = asyncio.run(exchange(make_gate(app), "GET", "/api"))
    assert sent.values(b"reporting-endpoints") == []
    assert sent.body == b"{}"
