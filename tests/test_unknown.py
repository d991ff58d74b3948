"""Third parties nobody classified: held back or allowed, and reported once per host."""

from __future__ import annotations

import logging

import pytest
from tests.test_middleware import consent_cookie, make_gate, respond, run

from consent_gate.html import HtmlRewriter
from consent_gate.policy import Policy, PolicyError
from consent_gate.reports import Reports
from consent_gate.rules import Rules
from consent_gate.unknown import UnknownParties, site_of

SITE = {"domains": ["acme.example"]}
HOLD = Policy.from_dict({"unknown": {"third_parties": "hold"}, "site": SITE})
ALLOW = Policy.from_dict({"site": SITE})
REFUSED = frozenset({"preferences", "analytics", "marketing"})


def rewrite(
    policy: Policy, html: bytes, host: str = "www.acme.example", refused: frozenset[str] = REFUSED
) -> bytes:
    rules = Rules(policy, unknown=UnknownParties(policy, Reports()))
    blocker = rules.blocking(refused)
    assert blocker is not None
    rewriter = HtmlRewriter(blocker.for_host(host), lambda match: b"PLACEHOLDER")
    return rewriter.feed(html) + rewriter.close()


@pytest.mark.parametrize(
    "tag",
    [
        b'<script src="https://cdn.widgets.example/w.js"></script>',
        b'<iframe src="https://embed.widgets.example/x"></iframe>',
        b'<img src="https://px.widgets.example/p?id=1&e=pv">',
        b'<img src="https://px.widgets.example/1x1.gif?e=pv">',
        b'<embed src="https://media.widgets.example/x.swf">',
    ],
)
def test_hold_neutralises_unknown_scripts_frames_and_pixels_as_its_category(tag: bytes) -> None:
    out = rewrite(HOLD, tag)
    assert b'data-cg-category="marketing"' in out
    assert b"data-cg-service" not in out  # no service to name
    # With marketing allowed it loads.
    assert rewrite(HOLD, tag, refused=frozenset({"analytics"})) == tag


@pytest.mark.parametrize(
    "tag",
    [
        b'<img src="https://images.shop.example/products/shoe.jpg?w=300">',  # a picture
        b'<img src="https://images.shop.example/products/shoe">',  # no query: a picture
        b'<link rel="preload" as="font" href="https://fonts.shop.example/a.woff2">',
        b'<script src="https://cdn.jsdelivr.net/npm/htmx.org@2/dist/htmx.min.js"></script>',
        b'<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>',
        b'<link rel="stylesheet" href="https://fonts.googleapis.com/css2?family=Inter">',
        b'<script src="https://static.acme.example/app.js"></script>',  # [site] domains
        b'<script src="https://cdn.www.acme.example/app.js"></script>',
        b'<script src="/static/app.js"></script>',
        b'<script src="http://localhost:8000/dev.js"></script>',
        b'<script data-consent="necessary" src="https://pay.widgets.example/p.js"></script>',
    ],
)
def test_hold_leaves_own_benign_and_content_urls_alone(tag: bytes) -> None:
    assert rewrite(HOLD, tag) == tag


def test_the_request_host_is_first_party_without_site_domains() -> None:
    policy = Policy.from_dict({"unknown": {"third_parties": "hold"}})
    tag = b'<script src="https://static.shop.co.uk/app.js"></script>'
    assert rewrite(policy, tag, host="www.shop.co.uk") == tag
    assert b"data-cg-category" in rewrite(policy, tag, host="www.other.co.uk")


def test_catalogue_services_keep_their_own_category_under_hold() -> None:
    tag = b'<script src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
    out = rewrite(HOLD, tag, refused=frozenset({"analytics"}))
    assert b'data-cg-service="google-analytics"' in out


def test_allow_lets_unknown_hosts_load() -> None:
    tag = b'<script src="https://cdn.widgets.example/w.js"></script>'
    assert rewrite(ALLOW, tag) == tag


@pytest.mark.parametrize(("policy", "decision"), [(ALLOW, "allowed"), (HOLD, "held")])
def test_each_unknown_host_is_logged_once_and_counted(
    policy: Policy, decision: str, caplog: pytest.LogCaptureFixture
) -> None:
    reports = Reports()
    rules = Rules(policy, unknown=UnknownParties(policy, reports))
    blocker = rules.blocking(REFUSED)
    assert blocker is not None
    page = (
        b'<script src="https://cdn.widgets.example/a.js"></script>'
        b'<script src="https://cdn.widgets.example/b.js"></script>'
        b'<iframe src="https://embed.other.example/"></iframe>'
    )
    with caplog.at_level(logging.WARNING, logger="consent_gate"):
        for _ in range(3):
            rewriter = HtmlRewriter(blocker.for_host("www.acme.example"), lambda m: b"")
            rewriter.feed(page)
            rewriter.close()
    lines = [r.getMessage() for r in caplog.records if "unknown report" in r.getMessage()]
    assert lines == [
        f"consent_gate: new unknown report: host=cdn.widgets.example, decision={decision}",
        f"consent_gate: new unknown report: host=embed.other.example, decision={decision}",
    ]
    rows = reports.summary()["unknown"]["reports"]
    assert rows[0] == {"host": "cdn.widgets.example", "decision": decision, "count": 6}


def test_memory_for_unknown_hosts_is_bounded() -> None:
    reports = Reports(limit=10)
    unknown = UnknownParties(ALLOW, reports)
    for n in range(50):
        unknown.decide(f"h{n}.example", f"https://h{n}.example/x.js", b"script", "")
    summary = reports.summary()["unknown"]
    assert len(summary["reports"]) == 10
    assert summary["overflow"] == 40


def test_browsers_cannot_post_unknown_reports() -> None:
    reports = Reports()
    UnknownParties(ALLOW, reports)
    with pytest.raises(ValueError, match="by the gate itself"):
        reports.receive("unknown", [{"host": "evil.example"}])


def test_the_gate_holds_unknown_hosts_per_request_host() -> None:
    page = b'<html><body><script src="https://cdn.widgets.example/w.js"></script></body></html>'
    gate = make_gate(respond(page), policy=HOLD)
    held = run(gate).body
    assert b'data-cg-category="marketing"' in held
    own = b'<html><body><script src="https://cdn.www.example.com/w.js"></script></body></html>'
    assert b"data-cg-category" not in run(make_gate(respond(own), policy=HOLD)).body
    accepted = consent_cookie(["marketing"], policy=HOLD)
    assert b"data-cg-category" not in run(gate, cookie=accepted).body


def test_hold_asks_about_its_category_even_if_no_used_service_has_it() -> None:
    policy = Policy.from_dict({"uses": ["google-analytics"], "unknown": {"third_parties": "hold"}})
    assert policy.asked_categories == ("analytics", "marketing")
    assert Policy.from_dict({"uses": ["google-analytics"]}).asked_categories == ("analytics",)


@pytest.mark.parametrize(
    ("unknown", "key"),
    [
        ({"third_parties": "block"}, "unknown.third_parties"),
        ({"third_parties": "hold", "category": "necessary"}, "unknown.category"),
        ({"third_parties": "hold", "category": "ads"}, "unknown.category"),
        ({"colour": 1}, "unknown.colour"),
    ],
)
def test_bad_unknown_settings_name_the_key(unknown: dict[str, object], key: str) -> None:
    with pytest.raises(PolicyError) as error:
        Policy.from_dict({"unknown": unknown})
    assert key in dict(error.value.problems)


@pytest.mark.parametrize(
    ("host", "site"),
    [
        ("www.example.com", "example.com"),
        ("a.b.example.com:8443", "example.com"),
        ("shop.example.co.uk", "example.co.uk"),
        ("example.de", "example.de"),
        ("127.0.0.1:8000", "127.0.0.1"),
    ],
)
def test_site_of(host: str, site: str) -> None:
    assert site_of(host) == site


def test_unknowns_can_have_a_category_of_their_own() -> None:
    policy = Policy.from_dict(
        {
            "categories": {"unclassified": {"title": "Not yet reviewed"}},
            "unknown": {"third_parties": "hold", "category": "unclassified"},
            "uses": ["google-analytics"],
        }
    )
    assert policy.asked_categories == ("analytics", "unclassified")
    tag = b'<script src="https://cdn.widgets.example/w.js"></script>'
    refused = frozenset({"preferences", "analytics", "marketing", "unclassified"})
    assert b'data-cg-category="unclassified"' in rewrite(policy, tag, refused=refused)
    assert rewrite(policy, tag, refused=refused - {"unclassified"}) == tag
