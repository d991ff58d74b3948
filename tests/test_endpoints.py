"""The gate's own endpoints: recording a choice, the generated pages and the banner's assets."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from typing import Any

import httpx
import pytest
from markupsafe import escape

from asgi_client import Client, run
from consent_gate import Consent, ConsentGate, Policy, endpoints
from consent_gate._types import Message, Receive, Scope, Send
from consent_gate.banner import static_dir

SECRET = "endpoint-test-secret"
POLICY = Policy.default()
HONOUR_DNT = dataclasses.replace(POLICY, dnt="honour")
OPTIONAL = POLICY.optional_categories
CONSENT = "/consent-gate/consent"
SITE = "http://testserver"
SAME_ORIGIN = {"origin": SITE}
TRACKER_PAGE = (
    b"<!doctype html><html><head>"
    b'<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
    b"</head><body><p>Hello</p></body></html>"
)


async def _site(scope: Scope, receive: Receive, send: Send) -> None:
    """The site behind the gate: one HTML page with a tracker, whatever the path."""
    headers = [(b"content-type", b"text/html; charset=utf-8")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": TRACKER_PAGE})


def make_gate(policy: Policy = POLICY) -> ConsentGate:
    return ConsentGate(_site, secret_key=SECRET, policy=policy)


GATE = make_gate()


def request(
    method: str,
    path: str,
    *,
    gate: ConsentGate = GATE,
    base_url: str = SITE,
    **kwargs: Any,
) -> httpx.Response:
    response = Client(gate, base_url=base_url).request(method, path, **kwargs)
    assert response.status_code != 500
    lengths = response.headers.get_list("content-length")
    if "content-encoding" not in response.headers and method != "HEAD":
        assert lengths == [str(len(response.content))]
    return response


def post(
    *,
    data: Any = None,
    json: Any = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    all_headers = {**SAME_ORIGIN, **(headers or {})}
    return request(
        "POST", CONSENT, data=data, json=json, content=content, headers=all_headers, **kwargs
    )


def cookie_lines(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


def consent_line(response: httpx.Response, name: str = "consent_gate") -> str:
    lines = [line for line in cookie_lines(response) if line.startswith(name + "=")]
    assert len(lines) == 1, cookie_lines(response)
    return lines[0]


def decision(response: httpx.Response, gate: ConsentGate = GATE) -> Consent:
    """The consent the response's Set-Cookie records, as the gate will read it back."""
    value = consent_line(response).split(";")[0].partition("=")[2]
    consent = gate.codec.loads(value)
    assert consent.decided
    return consent


def cookie_header(consent_cookie_value: str, *others: str) -> dict[str, str]:
    return {"cookie": "; ".join([*others, f"consent_gate={consent_cookie_value}"])}


def cookie_for(accepted: set[str], gate: ConsentGate = GATE) -> str:
    return gate.codec.dumps(gate.codec.decide(accepted))


def choices(consent: Consent) -> set[str]:
    return {c for c in OPTIONAL if consent.allows(c)}


# --- the no-JavaScript form ---------------------------------------------------------------------


def test_a_form_post_redirects_back_with_303_and_sets_the_cookie() -> None:
    response = post(data={"action": "accept_all", "next": "/shop/item?id=7"})
    assert response.status_code == 303
    assert response.headers["location"] == "/shop/item?id=7"
    assert response.headers["cache-control"] == "no-store"
    assert choices(decision(response)) == set(OPTIONAL)


@pytest.mark.parametrize(
    "next_url",
    [
        "//evil.com",
        "//evil.com/path",
        "https://evil.com",
        "http://evil.com/",
        "/\\evil.com",
        "\\\\evil.com",
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,hi",
        "/ok\r\nSet-Cookie: x=1",
        "/\t/evil.com",
        "/\x00",
        "/\x7f",
        "evil.com",
        "http:/evil.com",
    ],
)
def test_open_redirects_are_refused(next_url: str) -> None:
    response = post(data={"action": "reject_all", "next": next_url})
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_without_next_the_form_returns_to_the_same_origin_referer() -> None:
    response = post(
        data={"action": "reject_all"},
        headers={"referer": f"{SITE}/products/42?ref=nav"},
    )
    assert response.headers["location"] == "/products/42?ref=nav"


@pytest.mark.parametrize("data", [{"action": "reject_all"}, {"action": "reject_all", "next": ""}])
def test_without_next_or_referer_the_form_returns_to_the_home_page(data: dict[str, str]) -> None:
    response = post(data=data)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_a_same_origin_referer_with_a_protocol_relative_path_is_not_followed() -> None:
    response = post(data={"action": "reject_all"}, headers={"referer": f"{SITE}//evil.com/x"})
    assert response.headers["location"] == "/"


# --- JSON from the banner -----------------------------------------------------------------------


def test_a_json_choice_answers_with_the_decision() -> None:
    response = post(json={"action": "save", "categories": ["analytics"]})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    consent = decision(response)
    assert body == {
        "decided": True,
        "action": "save",
        "id": consent.id,
        "choices": {"preferences": False, "analytics": True, "marketing": False},
        "services": {},
        "signals": {},
        "revision": POLICY.revision,
    }


def test_a_json_content_type_with_a_charset_is_accepted() -> None:
    response = post(
        content=b'{"action": "accept_all"}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200


# --- cross-site requests ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "http://testserver.evil.example"},
        {"origin": "https://testserver"},  # another scheme is another origin
        {"origin": "null"},
        {"origin": "null", "sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
        {"sec-fetch-site": "cross-site", "origin": SITE},
        {"referer": "https://evil.example/page"},
    ],
    ids=lambda h: ",".join(f"{k}={v}" for k, v in h.items()),
)
def test_cross_site_choices_are_refused(headers: dict[str, str]) -> None:
    data = {"action": "accept_all", "next": "/"}
    for response in (
        request("POST", CONSENT, data=data, headers=headers),
        request("POST", CONSENT, json=data, headers={**headers, "accept": "application/json"}),
    ):
        assert response.status_code == 403
        assert cookie_lines(response) == []
    assert "cross-" in response.json()["error"]


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": SITE},
        {"origin": SITE, "sec-fetch-site": "same-origin"},
        {"sec-fetch-site": "same-origin"},
        {"sec-fetch-site": "none"},
        {"referer": f"{SITE}/page"},
        # A page with Referrer-Policy: no-referrer makes the browser send "Origin: null" on
        # its own form posts; Sec-Fetch-Site still says where the post came from.
        {"origin": "null", "sec-fetch-site": "same-origin"},
        {},
    ],
    ids=lambda h: ",".join(f"{k}={v}" for k, v in h.items()) or "no-headers",
)
def test_same_origin_choices_are_allowed(headers: dict[str, str]) -> None:
    response = request("POST", CONSENT, json={"action": "reject_all"}, headers=headers)
    assert response.status_code == 200
    assert choices(decision(response)) == set()


def test_same_origin_over_https() -> None:
    response = request(
        "POST",
        CONSENT,
        json={"action": "accept_all"},
        headers={"origin": "https://testserver"},
        base_url="https://testserver",
    )
    assert response.status_code == 200


# --- bad requests: 4xx with a clear message, never 500 ------------------------------------------

BAD_JSON: list[tuple[bytes, str]] = [
    (b"{", "not valid JSON"),
    (b"", "not valid JSON"),
    (b"\xff\xfe{}", "not valid JSON"),
    (b"[1, 2]", "expected a JSON object"),
    (b'"accept_all"', "expected a JSON object"),
    (b"null", "expected a JSON object"),
    (b"{}", '"action" must be a string'),
    (b'{"action": 1}', '"action" must be a string'),
    (b'{"action": null}', '"action" must be a string'),
    (b'{"action": "save", "categories": "analytics"}', '"categories" must be a list'),
    (b'{"action": "save", "categories": [1]}', '"categories" must be a list'),
    (b'{"action": "save", "categories": {"analytics": true}}', '"categories" must be a list'),
    (b'{"action": "approve"}', "unknown action 'approve'"),
    (b'{"action": "save", "categories": ["spying"]}', "unknown categories: spying"),
    (b'{"action": "allow"}', "'allow' needs at least one category"),
    (b'{"action": "allow", "categories": []}', "'allow' needs at least one category"),
    (b"[" * 15000, "not valid JSON"),
    (b'{"a":' * 2000 + b"1" + b"}" * 2000, "not valid JSON"),
]


@pytest.mark.parametrize(("body", "message"), BAD_JSON, ids=[m for _, m in BAD_JSON])
def test_bad_json_gets_a_400_with_a_json_error(body: bytes, message: str) -> None:
    response = post(
        content=body,
        headers={"content-type": "application/json", "accept": "application/json"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert message in response.json()["error"]
    assert cookie_lines(response) == []


@pytest.mark.parametrize(
    "body",
    [
        b'{"action": "save", "categories": ["\\ud800"]}',
        b'{"action": "\\udc00"}',
        b'{"action": "save", "via": "\\ud800", "categories": []}',
        b'{"action": "save", "categories": ["\xed\xa0\x80"]}',
    ],
)
@pytest.mark.parametrize("accept", ["application/json", "text/plain"])
def test_a_lone_surrogate_gets_a_400_not_a_500(body: bytes, accept: str) -> None:
    response = post(content=body, headers={"content-type": "application/json", "accept": accept})
    assert response.status_code == 400
    assert "not valid JSON" in response.text


def test_a_surrogate_pair_is_text() -> None:
    body = b'{"action": "accept_all", "via": "\\ud83d\\ude00"}'
    assert post(content=body, headers={"content-type": "application/json"}).status_code == 200


def test_without_accept_json_the_error_is_plain_text() -> None:
    response = post(content=b"{", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert "not valid JSON" in response.text


BAD_FORMS: list[tuple[Any, str]] = [
    ({"action": ["save", "accept_all"]}, "exactly one 'action'"),
    ({"category": "analytics"}, "exactly one 'action'"),
    ({"action": "approve"}, "unknown action"),
    ({"action": "save", "category": ["analytics", "spying"]}, "unknown categories: spying"),
    ({"action": "allow"}, "'allow' needs at least one category"),
]


@pytest.mark.parametrize(("data", "message"), BAD_FORMS, ids=[m for _, m in BAD_FORMS])
def test_bad_forms_get_a_400_with_a_clear_message(data: Any, message: str) -> None:
    response = post(data=data)
    assert response.status_code == 400
    assert message in response.text
    plain = post(data=data, headers={"accept": "application/json"})
    assert message in plain.json()["error"]


def test_a_form_that_is_not_utf8_gets_a_400() -> None:
    response = post(
        content=b"action=save&next=/caf\xe9",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert "could not be read" in response.text


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "multipart/form-data; boundary=x", "application/xml", None],
)
def test_an_unsupported_content_type_gets_415(content_type: str | None) -> None:
    headers = {"accept": "application/json"}
    if content_type:
        headers["content-type"] = content_type
    response = post(content=b"action=save", headers=headers)
    assert response.status_code == 415
    assert "application/json" in response.json()["error"]


def test_an_oversized_body_gets_413() -> None:
    body = b'{"action": "save", "categories": [' + b'"analytics",' * 2000 + b'"analytics"]}'
    assert len(body) > 16 * 1024
    response = post(
        content=body, headers={"content-type": "application/json", "accept": "application/json"}
    )
    assert response.status_code == 413
    assert "larger than 16384 bytes" in response.json()["error"]
    assert response.headers["connection"] == "close"  # the rest of the body is not awaited


def test_a_body_just_under_the_limit_is_read() -> None:
    filler = " " * (16 * 1024 - 100)
    body = ('{"action": "accept_all"' + filler + "}").encode()
    response = post(content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200


def _slow_post(path: str, receive: Receive) -> tuple[int, bytes, float]:
    """A raw ASGI POST whose body comes from `receive`: (status, body, seconds taken)."""
    headers = [
        (b"host", b"testserver"),
        (b"origin", SITE.encode()),
        (b"content-type", b"application/json"),
    ]
    started = time.monotonic()
    sent = run(GATE, "POST", path, headers, receive=receive, client="192.0.2.7")
    return sent.status, sent.body, time.monotonic() - started


@pytest.mark.parametrize("path", [CONSENT, "/consent-gate/reports/csp"])
def test_a_stalled_body_gets_408_in_time(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(endpoints, "BODY_SECONDS", 0.3)

    async def stalls() -> Message:
        await asyncio.Event().wait()  # nothing ever arrives
        raise AssertionError("unreachable")

    status, body, seconds = _slow_post(path, stalls)
    assert status == 408
    assert b"did not arrive within 0.3 seconds" in body
    assert 0.3 <= seconds < 2


def test_a_dripping_body_is_timed_as_a_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(endpoints, "BODY_SECONDS", 0.5)

    async def drips() -> Message:
        await asyncio.sleep(0.05)  # each byte well within any per-chunk limit
        return {"type": "http.request", "body": b" ", "more_body": True}

    status, _, seconds = _slow_post(CONSENT, drips)
    assert status == 408
    assert seconds < 2


def test_a_body_that_arrives_in_time_in_pieces_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(endpoints, "BODY_SECONDS", 2.0)
    pieces = [b'{"action": ', b'"reject_all"}']

    async def pieces_arrive() -> Message:
        await asyncio.sleep(0.05)
        return {"type": "http.request", "body": pieces.pop(0), "more_body": bool(pieces)}

    status, _, _ = _slow_post(CONSENT, pieces_arrive)
    assert status == 200


# --- what each action records -------------------------------------------------------------------


def test_accept_all_allows_every_optional_category() -> None:
    assert choices(decision(post(json={"action": "accept_all"}))) == set(OPTIONAL)


def test_reject_all_refuses_every_optional_category() -> None:
    response = post(json={"action": "reject_all", "categories": ["analytics"]})
    assert choices(decision(response)) == set()


def test_save_records_exactly_the_chosen_categories() -> None:
    response = post(data={"action": "save", "category": ["analytics", "preferences"]})
    assert choices(decision(response)) == {"analytics", "preferences"}
    assert choices(decision(post(data={"action": "save"}))) == set()


def test_saving_a_required_category_changes_nothing() -> None:
    consent = decision(post(json={"action": "save", "categories": ["necessary"]}))
    assert choices(consent) == set()
    assert consent.allows("necessary")


def test_withdraw_refuses_everything_with_a_new_id() -> None:
    before = cookie_for(set(OPTIONAL))
    response = post(json={"action": "withdraw"}, headers=cookie_header(before))
    consent = decision(response)
    assert choices(consent) == set()
    assert consent.id != GATE.codec.loads(before).id


def test_allow_adds_to_the_current_choices() -> None:
    current = cookie_for({"analytics"})
    response = post(
        data={"action": "allow", "category": "marketing"}, headers=cookie_header(current)
    )
    assert choices(decision(response)) == {"analytics", "marketing"}


def test_allow_without_a_previous_choice_allows_only_that_category() -> None:
    response = post(data={"action": "allow", "category": "preferences", "next": "/map"})
    assert response.status_code == 303
    assert response.headers["location"] == "/map"
    assert choices(decision(response)) == {"preferences"}


def test_every_decision_gets_a_fresh_random_id() -> None:
    ids = {decision(post(json={"action": "accept_all"})).id for _ in range(5)}
    assert len(ids) == 5


# --- Do Not Track -------------------------------------------------------------------------------


def test_dnt_is_recorded_as_ignored_by_default() -> None:
    response = post(json={"action": "accept_all"}, headers={"dnt": "1"})
    assert response.json()["signals"] == {"dnt": "ignored"}
    consent = decision(response)
    assert consent.signals == {"dnt": "ignored"}
    assert choices(consent) == set(OPTIONAL)


def test_no_dnt_no_signal() -> None:
    assert post(json={"action": "accept_all"}, headers={"dnt": "0"}).json()["signals"] == {}


def test_dnt_is_recorded_as_honoured_when_the_policy_honours_it() -> None:
    gate = make_gate(HONOUR_DNT)
    response = post(json={"action": "reject_all"}, headers={"dnt": "1"}, gate=gate)
    assert response.json()["signals"] == {"dnt": "honoured"}
    assert decision(response, gate).signals == {"dnt": "honoured"}


def test_an_honoured_dnt_visitor_gets_no_banner_prompt_and_no_trackers() -> None:
    gate = make_gate(HONOUR_DNT)
    page = request("GET", "/", gate=gate, headers={"dnt": "1"}).content
    assert b'id="cg-banner"' not in page
    assert b'id="cg-settings"' in page
    assert b'data-cg-src="https://www.googletagmanager.com' in page
    # Without DNT the same gate asks.
    assert b'id="cg-banner"' in request("GET", "/", gate=gate).content


def test_an_ignored_dnt_visitor_is_still_asked() -> None:
    page = request("GET", "/", headers={"dnt": "1"}).content
    assert b'id="cg-banner"' in page


# --- the cookie ---------------------------------------------------------------------------------


def test_withdraw_expires_refused_cookies_the_browser_sent() -> None:
    headers = cookie_header(cookie_for(set(OPTIONAL)), "_ga=GA1.2.3", "_fbp=fb.1", "sid=1")
    response = post(json={"action": "withdraw"}, headers=headers)
    lines = cookie_lines(response)
    expired = [line.split("=")[0] for line in lines if "Max-Age=0" in line]
    assert expired.count("_ga") == 1  # testserver: a single-label host, no Domain variants
    assert expired.count("_fbp") == 1
    assert "sid" not in expired
    assert "consent_gate" not in expired


def test_accept_all_expires_nothing() -> None:
    headers = cookie_header(cookie_for(set()), "_ga=GA1.2.3", "_fbp=fb.1")
    response = post(json={"action": "accept_all"}, headers=headers)
    assert [line for line in cookie_lines(response) if "Max-Age=0" in line] == []


def test_expiry_on_a_multi_label_host_covers_parent_domains() -> None:
    response = request(
        "POST",
        CONSENT,
        json={"action": "reject_all"},
        headers={"origin": "http://www.shop.example", "cookie": "_ga=1"},
        base_url="http://www.shop.example",
    )
    expired = [line for line in cookie_lines(response) if line.startswith("_ga=")]
    assert len(expired) == 3
    assert any(line.endswith("; Domain=www.shop.example") for line in expired)
    assert any(line.endswith("; Domain=shop.example") for line in expired)


def _attributes(line: str) -> list[str]:
    return [part.strip() for part in line.split(";")[1:]]


def test_the_consent_cookie_on_http() -> None:
    attributes = _attributes(consent_line(post(json={"action": "accept_all"})))
    assert "HttpOnly" in attributes
    assert "SameSite=Lax" in attributes
    assert "Path=/" in attributes
    assert f"Max-Age={POLICY.max_age}" in attributes
    assert "Secure" not in attributes


def test_the_consent_cookie_on_https_is_secure() -> None:
    response = request(
        "POST",
        CONSENT,
        data={"action": "reject_all"},
        headers={"origin": "https://testserver"},
        base_url="https://testserver",
    )
    attributes = _attributes(consent_line(response, "__Host-consent_gate"))
    assert "Secure" in attributes
    assert not [a for a in attributes if a.lower().startswith("domain")]
    assert "HttpOnly" in attributes
    assert "SameSite=Lax" in attributes
    assert "Path=/" in attributes
    assert f"Max-Age={POLICY.max_age}" in attributes


def test_the_new_cookie_is_what_the_next_page_view_reads() -> None:
    value = consent_line(post(json={"action": "save", "categories": ["analytics"]}))
    page = request("GET", "/", headers={"cookie": value.split(";")[0]}).content
    assert b'id="cg-banner"' not in page
    assert b'<script async src="https://www.googletagmanager.com/gtag/js?id=G-1">' in page


# --- preferences page ---------------------------------------------------------------------------


def _checked(page: str) -> dict[str, bool]:
    switch = r'<input class="cg-switch"[^>]* name="category" value="([\w-]+)"([^>]*)>'
    found = re.findall(switch, page)
    return {category: " checked" in rest for category, rest in found}


def test_preferences_page_when_undecided_has_every_optional_switch_off() -> None:
    response = request("GET", "/consent-gate/preferences")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert _checked(response.text) == {
        "necessary": True,
        "preferences": False,
        "analytics": False,
        "marketing": False,
    }
    assert 'id="cg-consent-id"' not in response.text
    assert "You have not made a choice yet." in response.text
    assert _withdraw_button(response.text) in (None, True)  # absent, or hidden


def _withdraw_button(page: str) -> bool | None:
    """Whether the page's withdraw button is hidden; None when there is none."""
    found = re.search(r'<button [^>]*value="withdraw"[^>]*>', page)
    return None if found is None else " hidden" in found.group()


def test_preferences_page_checks_the_stored_choices_and_shows_the_consent_id() -> None:
    value = cookie_for({"analytics", "preferences"})
    response = request("GET", "/consent-gate/preferences", headers=cookie_header(value))
    assert _checked(response.text) == {
        "necessary": True,
        "preferences": True,
        "analytics": True,
        "marketing": False,
    }
    consent_id = GATE.codec.loads(value).id
    assert consent_id is not None
    assert f'<code id="cg-consent-id">{consent_id}</code>' in response.text
    assert _withdraw_button(response.text) is False  # there, and shown


def test_preferences_page_required_category_cannot_be_switched_off() -> None:
    page = request("GET", "/consent-gate/preferences").text
    necessary = re.search(r'<input class="cg-switch"[^>]* value="necessary"[^>]*>', page)
    assert necessary is not None
    assert " disabled" in necessary.group()


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [("/shop?x=1", "/shop?x=1"), ("//evil.com", "/"), ("https://evil.com", "/")],
)
def test_preferences_page_returns_only_to_same_origin_pages(next_url: str, expected: str) -> None:
    page = request("GET", "/consent-gate/preferences", params={"next": next_url}).text
    assert f'<input type="hidden" name="next" value="{escape(expected)}">' in page
    assert "evil.com" not in page


# --- cookie policy page -------------------------------------------------------------------------


def _article(page: str, service_id: str) -> str:
    found = re.search(
        rf'<article class="cg-service" id="service-{re.escape(service_id)}">(.*?)</article>',
        page,
        re.S,
    )
    assert found is not None, service_id
    return found.group(1)


def test_policy_page_lists_every_cookie_of_every_listed_service() -> None:
    response = request("GET", "/consent-gate/policy")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    page = response.text
    assert POLICY.listed_services
    for service in POLICY.listed_services:
        article = _article(page, service.id)
        assert str(escape(service.name)) in article
        for cookie in service.cookies:
            row = re.search(
                rf"<tr><td><code>{re.escape(str(escape(cookie.name)))}</code></td>(.*?)</tr>",
                article,
            )
            assert row is not None, (service.id, cookie.name)
            party = "First party" if cookie.party == "first" else "Third party"
            assert row.group(1) == (
                f"<td>{escape(cookie.purpose)}</td><td>{escape(cookie.lifetime)}</td>"
                f"<td>{party}</td>"
            )


def test_policy_page_lists_only_the_services_the_site_uses() -> None:
    policy = dataclasses.replace(POLICY, uses=("google-analytics", "meta-pixel"))
    page = request("GET", "/consent-gate/policy", gate=make_gate(policy)).text
    assert re.findall(r'<article class="cg-service" id="service-([\w-]+)">', page) == [
        "google-analytics",
        "meta-pixel",
    ]
    assert "<code>_ga</code>" in page
    assert "<code>_fbp</code>" in page


def test_policy_page_states_that_dnt_is_not_honoured() -> None:
    page = request("GET", "/consent-gate/policy").text
    statement = re.search(r'<p id="cg-dnt-statement">(.*?)</p>', page, re.S)
    assert statement is not None
    assert "does not honour" in statement.group(1)


def test_policy_page_states_that_dnt_is_honoured_when_it_is() -> None:
    page = request("GET", "/consent-gate/policy", gate=make_gate(HONOUR_DNT)).text
    assert "This site honours" in page


def test_policy_page_shows_the_visitors_choice_and_consent_id() -> None:
    value = cookie_for({"marketing"})
    page = request("GET", "/consent-gate/policy", headers=cookie_header(value)).text
    consent_id = GATE.codec.loads(value).id
    assert f'<code id="cg-consent-id">{consent_id}</code>' in page
    marketing = re.search(r'id="category-marketing">\s*<h3>(.*?)</h3>', page, re.S)
    assert marketing is not None
    assert "Allowed" in marketing.group(1)


def test_policy_json_has_the_dnt_statement() -> None:
    response = request("GET", "/consent-gate/policy.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    data = response.json()
    assert data["do_not_track"]["honoured"] is False
    assert "does not honour" in data["do_not_track"]["statement"]
    assert data["revision"] == POLICY.revision
    assert data["consent_cookie"] == {
        "name": "consent_gate",
        "name_on_https": "__Host-consent_gate",
        "max_age_seconds": POLICY.max_age,
    }
    assert {s["id"] for s in data["services"]} == {s.id for s in POLICY.listed_services}
    honoured = request("GET", "/consent-gate/policy.json", gate=make_gate(HONOUR_DNT)).json()
    assert honoured["do_not_track"]["honoured"] is True


# --- static files and paths beside the prefix -----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "media"),
    [("banner.js", ("text/javascript", "application/javascript")), ("banner.css", ("text/css",))],
)
def test_static_files_are_served_with_their_content_type(name: str, media: tuple[str, ...]) -> None:
    response = request("GET", f"/consent-gate/static/{name}", headers={"accept-encoding": "br"})
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] in media
    assert "content-encoding" not in response.headers
    # banner.js comes called with the policy's part of its configuration
    assert response.content.startswith((static_dir() / name).read_bytes().rstrip())
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["vary"] == "Accept-Encoding"
    stale = request("GET", f"/consent-gate/static/{name}", params={"v": "abc"})
    assert stale.headers["cache-control"] == "no-cache"  # an old version's URL: not for good
    version = GATE.assets.get(name).version  # type: ignore[union-attr]
    versioned = request("GET", f"/consent-gate/static/{name}", params={"v": version})
    assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_the_banners_files_as_a_page_links_them_are_cached_for_good() -> None:
    page = request("GET", "/", headers={"accept": "text/html"}).text
    links = re.findall(r'(?:href|src)="(/consent-gate/static/banner\.(?:css|js)\?v=[^"]+)"', page)
    assert len(set(links)) == 2
    for link in links:
        cache = request("GET", link).headers["cache-control"]
        assert cache == "public, max-age=31536000, immutable", link


@pytest.mark.parametrize(
    ("accept_encoding", "gzipped"),
    [
        ("gzip, deflate, br", True),
        ("GZIP", True),
        ("br;q=1.0, gzip;q=0.5", True),
        ("*", True),
        ("gzip;q=0", False),
        ("gzip;q=0.000", False),
        ("identity", False),
        ("", False),
    ],
)
def test_static_files_go_gzipped_to_browsers_that_take_it(
    accept_encoding: str, gzipped: bool
) -> None:
    response = request(
        "GET", "/consent-gate/static/banner.css", headers={"accept-encoding": accept_encoding}
    )
    assert (response.headers.get("content-encoding") == "gzip") is gzipped
    assert response.content == GATE.assets.get("banner.css").body  # type: ignore[union-attr]


def test_paths_that_only_start_like_the_prefix_belong_to_the_site() -> None:
    response = request("GET", "/consent-gate-shop/item")
    assert response.status_code == 200
    assert b"<p>Hello</p>" in response.content
