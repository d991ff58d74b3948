"""Building the consent-aware CSP and merging the gate's headers with the app's."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from asgi_client import Client
from consent_gate import ConsentGate
from consent_gate.consent import Consent, ConsentCodec
from consent_gate.csp import DENIED_FEATURES, Csp, parse_report
from consent_gate.policy import CspSettings, Policy, Service

SERVICES = (
    Service(id="ga", name="GA", category="analytics", hosts=("google-analytics.com",)),
    Service(id="px", name="Pixel", category="marketing", urls=("facebook.com/tr*",)),
    Service(id="cdn", name="CDN", category="necessary", hosts=("cdn.example.net",)),
    Service(id="own", name="Own", category="analytics", urls=("/stats/*",)),
)
POLICY = Policy(services=SERVICES, csp=CspSettings(sources={"img-src": ("images.example.org",)}))
CODEC = ConsentCodec("csp-test", POLICY)
NONE = CODEC.undecided
ANALYTICS = CODEC.decide({"analytics"})
ALL = CODEC.decide(set(POLICY.optional_categories))


def directives(value: bytes) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for part in value.decode().split(";"):
        name, *sources = part.split()
        found[name] = sources
    return found


def gate_header(headers: list[tuple[bytes, bytes]], csp: Csp | None = None) -> bytes:
    name = (csp or Csp(POLICY)).header_name
    values = [v for k, v in headers if k == name]
    assert len(values) == 1
    return values[0]


def apply(
    consent: Consent, app: list[tuple[bytes, bytes]] | None = None, nonce: str = "N0NCE"
) -> list[tuple[bytes, bytes]]:
    return Csp(POLICY).apply(list(app or []), consent, nonce)


# --- building ----------------------------------------------------------------------------------


def test_before_consent_only_self_necessary_hosts_and_the_sites_own_sources() -> None:
    policy = directives(gate_header(apply(NONE)))

    assert policy["script-src"] == [
        "'self'",
        "cdn.example.net",
        "*.cdn.example.net",
        "'nonce-N0NCE'",
    ]
    assert policy["img-src"] == [
        "'self'",
        "data:",
        "blob:",
        "images.example.org",
        "cdn.example.net",
        "*.cdn.example.net",
    ]
    assert policy["connect-src"] == [
        "'self'",
        "data:",
        "blob:",
        "cdn.example.net",
        "*.cdn.example.net",
    ]
    assert policy["frame-src"] == ["'self'", "cdn.example.net", "*.cdn.example.net"]
    assert policy["script-src-attr"] == ["'none'"]
    assert policy["report-uri"] == ["/consent-gate/reports/csp"]


@pytest.mark.parametrize("nonce", ["N0NCE", None])
def test_inline_handlers_run_only_when_the_site_lists_their_hashes(nonce: str | None) -> None:
    listed = ("'unsafe-hashes'", "'sha256-AAAA'")
    policy = Policy(csp=CspSettings(sources={"script-src-attr": listed}))
    plain = directives(gate_header(Csp(Policy()).apply([], NONE, nonce)))
    hashed = directives(gate_header(Csp(policy).apply([], NONE, nonce), Csp(policy)))

    assert plain["script-src-attr"] == ["'none'"]
    assert hashed["script-src-attr"] == list(listed)


def test_an_accepted_category_adds_its_hosts_with_subdomains_and_url_pattern_hosts() -> None:
    value = gate_header(apply(ANALYTICS)).decode()
    assert "google-analytics.com *.google-analytics.com" in value
    assert "facebook.com" not in value

    value = gate_header(apply(ALL)).decode()
    assert "facebook.com *.facebook.com" in value
    assert " /stats" not in value  # first-party paths are 'self' already


def test_the_mode_names_the_header() -> None:
    enforce = dataclasses.replace(POLICY, csp=CspSettings(mode="enforce"))
    assert Csp(POLICY).header_name == b"content-security-policy-report-only"
    assert Csp(enforce).header_name == b"content-security-policy"
    assert not Csp(dataclasses.replace(POLICY, csp=CspSettings(mode="off"))).enabled


def test_the_pieces_are_built_once_per_consent_state() -> None:
    csp = Csp(POLICY)
    first = csp._pieces(ANALYTICS)
    assert csp._pieces(CODEC.decide({"analytics"})) is first
    assert csp._pieces(ALL) is not first


# --- nonces and the app's own policies ---------------------------------------------------------


def test_a_fresh_nonce_per_response_that_the_rewriter_may_stamp() -> None:
    csp = Csp(POLICY)
    first, stamp = csp.nonce([])
    second, _ = csp.nonce([])
    assert stamp is True
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", first)
    assert first != second


@pytest.mark.parametrize(
    "value",
    [
        b"script-src 'self' 'nonce-AbC+/9='",
        b"default-src 'none'; img-src 'self'; script-src-elem 'nonce-AbC+/9=' 'strict-dynamic'",
        b"default-src 'nonce-AbC+/9='",
    ],
)
def test_an_app_enforcing_its_own_nonce_lends_it_and_nothing_is_stamped(value: bytes) -> None:
    assert Csp(POLICY).nonce([(b"content-security-policy", value)]) == ("AbC+/9=", False)


def test_a_report_only_app_nonce_is_not_reused() -> None:
    headers = [(b"content-security-policy-report-only", b"script-src 'nonce-AbC'")]
    nonce, stamp = Csp(POLICY).nonce(headers)
    assert nonce != "AbC"
    assert stamp is True


def test_the_apps_policies_stay_and_its_nonces_and_hashes_are_copied() -> None:
    app = [
        (b"content-security-policy", b"script-src 'nonce-app1' 'sha256-AAAA='; img-src 'none'"),
        (b"content-security-policy-report-only", b"default-src 'sha384-BBBB' https:"),
        (b"content-type", b"text/html"),
    ]
    csp = Csp(dataclasses.replace(POLICY, csp=CspSettings(mode="enforce")))

    out = csp.apply(list(app), ALL, "N0NCE")

    assert [h for h in out if h[0] != b"permissions-policy"][:3] == app
    ours = out[-1]
    assert ours[0] == b"content-security-policy"
    script = directives(ours[1])["script-src"]
    assert script[-4:] == ["'nonce-N0NCE'", "'nonce-app1'", "'sha256-AAAA='", "'sha384-BBBB'"]
    assert "https:" not in script  # the app's host lists are its own business


def test_the_apps_nonce_used_as_the_gates_is_listed_once() -> None:
    app = [(b"content-security-policy", b"script-src 'nonce-app1'")]
    value = gate_header(Csp(POLICY).apply(app, NONE, "app1")).decode()
    assert value.count("'nonce-app1'") == 1


# --- Permissions-Policy and client hints -------------------------------------------------------


def test_before_marketing_consent_features_are_denied_and_client_hints_dropped() -> None:
    app = [
        (b"accept-ch", b"Sec-CH-UA-Model, Sec-CH-UA-Arch"),
        (b"critical-ch", b"Sec-CH-UA-Model"),
        (b"permissions-policy", b"geolocation=(self), browsing-topics=*"),
        (b"permissions-policy", b'camera=(self "https://x.example")'),
    ]

    out = apply(ANALYTICS, app)

    names = [k for k, _ in out]
    assert b"accept-ch" not in names
    assert b"critical-ch" not in names
    [value] = [v for k, v in out if k == b"permissions-policy"]
    items = value.decode().split(", ")
    assert items[:2] == ["geolocation=(self)", 'camera=(self "https://x.example")']
    assert items[2:] == [f"{feature}=()" for feature in DENIED_FEATURES]
    assert "browsing-topics=*" not in items  # the denial wins before consent
    assert {"ch-ua-model=()", "ch-ua-full-version-list=()", "interest-cohort=()"} <= set(items)


def test_after_marketing_consent_the_apps_headers_pass_unchanged() -> None:
    app = [
        (b"accept-ch", b"Sec-CH-UA-Model"),
        (b"permissions-policy", b"browsing-topics=*"),
    ]
    assert apply(ALL, app)[:-1] == app


def test_without_an_app_header_the_denials_stand_alone() -> None:
    [value] = [v for k, v in apply(NONE) if k == b"permissions-policy"]
    assert value.startswith(b"browsing-topics=(), attribution-reporting=(), interest-cohort=()")


# --- reports -----------------------------------------------------------------------------------


def test_a_classic_report_counts_host_directive_and_page_path() -> None:
    body = {
        "csp-report": {
            "document-uri": "https://shop.example/basket?id=42#top",
            "blocked-uri": "https://www.tracker.example/px.gif?uid=1",
            "violated-directive": "img-src",
            "effective-directive": "img-src",
        }
    }
    assert parse_report(body) == [("www.tracker.example", "img-src", "/basket")]


def test_older_reports_with_only_violated_directive_take_its_name() -> None:
    body = {
        "csp-report": {
            "document-uri": "https://shop.example/",
            "blocked-uri": "inline",
            "violated-directive": "script-src-elem 'self' 'nonce-x'",
        }
    }
    assert parse_report(body) == [("inline", "script-src-elem", "/")]


def test_reporting_api_lists_are_read_and_other_types_skipped() -> None:
    body = [
        {
            "type": "csp-violation",
            "url": "https://shop.example/a",
            "body": {"blockedURL": "eval", "effectiveDirective": "script-src"},
        },
        {
            "type": "csp-violation",
            "url": "https://shop.example/b",
            "body": {"blockedURL": "data:image/png;base64,AAA", "effectiveDirective": "img-src"},
        },
        {"type": "deprecation", "url": "https://shop.example/", "body": {}},
    ]
    assert parse_report(body) == [("eval", "script-src", "/a"), ("data", "img-src", "/b")]


@pytest.mark.parametrize(
    "body",
    [
        "nonsense",
        {"csp-report": "x"},
        {"csp-report": {"document-uri": "/"}},
        [{"type": "csp-violation", "body": {"blockedURL": 1, "effectiveDirective": "img-src"}}],
    ],
)
def test_malformed_reports_are_refused(body: object) -> None:
    with pytest.raises(ValueError, match="report"):
        parse_report(body)


def test_oddities_are_kept_short_and_not_echoed() -> None:
    body = {
        "csp-report": {
            "document-uri": "https://shop.example/" + "p" * 1000,
            "blocked-uri": "<script>alert(1)</script>",
            "effective-directive": "img-src",
        }
    }
    [(host, _, page)] = parse_report(body)
    assert host == "other"
    assert len(page) == 200


def test_reports_for_hosts_the_senders_consent_now_allows_are_dropped() -> None:
    kind = Csp(POLICY).report_kind(lambda headers, *, secure: ALL if headers else NONE)
    assert kind.keep is not None
    sender = [(b"cookie", b"consent=...")]

    assert not kind.keep(("www.google-analytics.com", "connect-src", "/"), sender)
    assert not kind.keep(("www.facebook.com", "img-src", "/"), sender)
    assert kind.keep(("unknown.example", "img-src", "/"), sender)
    assert kind.keep(("inline", "script-src-elem", "/"), sender)
    assert kind.keep(("www.google-analytics.com", "connect-src", "/"), [])  # not allowed yet
    assert kind.fields == ("host", "directive", "page")


# --- through the gate --------------------------------------------------------------------------

PAGE = (
    "<!doctype html><html><head><title>T</title></head><body>"
    "<script>app()</script><script src='/app.js'></script></body></html>"
)


def browser(gate: ConsentGate) -> Client:
    """A browser-like client of one gate: same origin, keeps its cookies."""
    headers = {"origin": "http://testserver", "accept-language": "en", "user-agent": "Mozilla/5.0"}
    return Client(gate, base_url="http://testserver", headers=headers)


def serve(
    mode: str = "report-only",
    headers: dict[str, str] | None = None,
    media_type: str = "text/html",
    body: str = PAGE,
) -> Client:
    async def page(request: Request) -> Response:
        return Response(body, media_type=media_type, headers=headers)

    policy = dataclasses.replace(Policy.default(), csp=CspSettings(mode=mode))  # type: ignore[arg-type]
    return browser(ConsentGate(Starlette(routes=[Route("/", page)]), secret_key="k", policy=policy))


def nonce_of(value: str) -> str:
    found = re.search(r"'nonce-([^']+)'", value)
    assert found is not None
    return found.group(1)


def test_an_html_response_gets_the_header_and_its_nonce_goes_on_every_gate_script() -> None:
    response = serve().get("/")

    value = response.headers["content-security-policy-report-only"]
    nonce = nonce_of(value)
    assert "content-security-policy" not in response.headers
    assert f'<script nonce="{nonce}">app()</script>' in response.text
    assert "<script src='/app.js'></script>" in response.text
    assert re.search(
        rf'<script src="/consent-gate/static/banner.js[^"]*" defer nonce="{nonce}">', response.text
    )
    assert response.headers["vary"] == "Cookie, Accept-Language, Sec-GPC"
    assert "browsing-topics=()" in response.headers["permissions-policy"]


def test_refusing_nothing_the_page_is_not_scanned_and_inline_scripts_are_allowed() -> None:
    client = serve(mode="enforce")
    accepted = client.post("/consent-gate/consent", json={"action": "accept_all"})
    assert accepted.status_code == 200

    response = client.get("/")

    policy = directives(response.headers["content-security-policy"].encode())
    assert "'unsafe-inline'" in policy["script-src"]
    assert not any(source.startswith("'nonce-") for source in policy["script-src"])
    assert "*.google-analytics.com" in policy["script-src"]  # hosts still count
    assert "nonce=" not in response.text
    assert "<script>app()</script><script src='/app.js'></script>" in response.text
    # A refusal brings the nonce back.
    client.post("/consent-gate/consent", json={"action": "reject_all"})
    assert "'nonce-" in client.get("/").headers["content-security-policy"]


def test_the_head_scripts_carry_the_nonce() -> None:
    client = serve(mode="enforce")
    gate = client.app
    assert isinstance(gate, ConsentGate)
    gate.head.add(lambda consent: "guard();")

    response = client.get("/")

    nonce = nonce_of(response.headers["content-security-policy"])
    head_script = re.search(
        r"<head>(<script[^>]*>)(.*?)</script>((?:<script[^>]*></script>)+)<title>",
        response.text,
        re.S,
    )
    assert head_script is not None
    assert head_script.group(1) == f'<script nonce="{nonce}">'
    assert head_script.group(2).endswith("\nguard();")
    files = re.findall(r"<script ([^>]*)>", head_script.group(3))
    assert [f.split(" src=")[0] for f in files] == [f'nonce="{nonce}"'] * 2  # guard.js, runtime.js


def test_the_page_reports_its_own_violations_so_report_uri_goes_while_something_is_refused() -> (
    None
):
    client = serve()
    undecided = client.get("/")
    assert "report-uri" not in undecided.headers["content-security-policy-report-only"]
    runtime = re.search(r'src="(/consent-gate/static/runtime\.js[^"]*)"', undecided.text)
    assert runtime is not None
    assert "securitypolicyviolation" in client.get(runtime.group(1)).text  # its collector
    client.post("/consent-gate/consent", json={"action": "accept_all"})
    accepted = client.get("/")  # no runtime.js: the browser reports
    assert "runtime.js" not in accepted.text
    assert (
        "report-uri /consent-gate/reports/csp"
        in accepted.headers["content-security-policy-report-only"]
    )


def test_a_fragment_without_the_head_script_keeps_report_uri() -> None:
    response = serve(body="<p>a fragment</p>").get("/", headers={"hx-request": "true"})
    assert "securitypolicyviolation" not in response.text
    assert "report-uri" in response.headers["content-security-policy-report-only"]


def test_each_response_has_its_own_nonce() -> None:
    client = serve(mode="enforce")
    first, second = (nonce_of(client.get("/").headers["content-security-policy"]) for _ in "ab")
    assert first != second


def test_mode_off_adds_no_policy_and_stamps_nothing_but_client_hints_still_wait() -> None:
    response = serve(mode="off", headers={"accept-ch": "Sec-CH-UA-Model"}).get("/")

    assert not any("content-security-policy" in name for name in response.headers)
    assert "nonce" not in response.text
    assert "accept-ch" not in response.headers
    assert "browsing-topics=()" in response.headers["permissions-policy"]


def test_non_html_responses_get_no_policy() -> None:
    response = serve(media_type="application/json", body="{}").get("/")
    assert "content-security-policy-report-only" not in response.headers


def test_client_hints_are_requested_only_after_marketing_consent() -> None:
    client = serve(headers={"accept-ch": "Sec-CH-UA-Model", "critical-ch": "Sec-CH-UA-Model"})
    assert "accept-ch" not in client.get("/").headers

    client.post("/consent-gate/consent", data={"action": "accept_all"})
    response = client.get("/")

    assert response.headers["accept-ch"] == "Sec-CH-UA-Model"
    assert response.headers["critical-ch"] == "Sec-CH-UA-Model"
    assert "permissions-policy" not in response.headers
    assert "facebook.net" in response.headers["content-security-policy-report-only"]


def test_an_app_nonce_policy_lends_its_nonce_and_its_scripts_are_not_stamped() -> None:
    body = PAGE.replace("<script>app()", '<script nonce="appN">app()')
    response = serve(
        mode="enforce", headers={"content-security-policy": "script-src 'nonce-appN'"}, body=body
    ).get("/")

    assert response.headers.get_list("content-security-policy")[0] == "script-src 'nonce-appN'"
    assert nonce_of(response.headers.get_list("content-security-policy")[1]) == "appN"
    assert '<script nonce="appN">app()</script>' in response.text
    assert 'defer nonce="appN">' in response.text


def test_csp_reports_are_received_and_summarised() -> None:
    policy = Policy.default()
    gate = ConsentGate(Starlette(), secret_key="k", policy=policy, reports_token="t")
    client = browser(gate)
    report = {
        "csp-report": {
            "document-uri": "https://shop.example/cart?x=1",
            "blocked-uri": "https://new-tracker.example/t.js",
            "effective-directive": "script-src-elem",
        }
    }

    for _ in range(2):
        sent = client.post(
            "/consent-gate/reports/csp",
            content=json.dumps(report),
            headers={"content-type": "application/csp-report"},
        )
        assert sent.status_code == 204
    summary = client.get("/consent-gate/reports", headers={"authorization": "Bearer t"}).json()

    assert summary["csp"]["reports"] == [
        {"host": "new-tracker.example", "directive": "script-src-elem", "page": "/cart", "count": 2}
    ]
    assert client.post("/consent-gate/reports/csp", content=b"[1, 2").status_code == 400
