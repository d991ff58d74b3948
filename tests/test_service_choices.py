"""Per-service choices inside categories: the record, its cookie, what the gate holds by them,
and how the consent endpoint takes them (form, JSON, placeholders)."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest

from consent_gate import ConsentGate, Policy
from consent_gate.consent import ConsentCodec, TooManyServicesError
from consent_gate.cookies import CookieRules
from consent_gate.csp import Csp
from consent_gate.policy import Service
from consent_gate.refusal import Refusal
from consent_gate.rules import Rules

SECRET = "service-choices-test-secret-0123456789"
POLICY = Policy.default()
CODEC = ConsentCodec(SECRET, POLICY)
RULES = Rules(POLICY)
YOUTUBE = "https://www.youtube.com/embed/abc"
PIXEL = "https://connect.facebook.net/en_US/fbevents.js"  # Meta Pixel: Marketing too
GA = "https://www.googletagmanager.com/gtag/js?id=G-1"
SITE = "http://testserver"


# --- the record -----------------------------------------------------------------------------


def test_a_service_granted_inside_a_refused_category_is_allowed_alone() -> None:
    consent = CODEC.decide(set(), services={"youtube": True})
    assert consent.allows_service("youtube")
    assert not consent.allows_service("meta-pixel")
    assert not consent.allows("marketing")  # the category as a whole stays refused
    assert consent.held == Refusal(
        categories=frozenset({"preferences", "analytics", "marketing"}),
        granted=frozenset({"youtube"}),
        touched=frozenset({"preferences", "analytics", "marketing"}),
    )


def test_a_service_denied_inside_an_allowed_category_is_held_alone() -> None:
    consent = CODEC.decide({"marketing"}, services={"youtube": False})
    assert consent.allows("marketing")
    assert consent.allows_service("meta-pixel")
    assert not consent.allows_service("youtube")
    assert consent.held.denied == {"youtube"}
    assert "marketing" in consent.held.touched


def test_choices_that_agree_with_their_category_are_not_kept() -> None:
    consent = CODEC.decide({"marketing"}, services={"youtube": True, "google-analytics": True})
    assert consent.services == {"google-analytics": True}


def test_unknown_services_are_not_kept_nor_allowed() -> None:
    consent = CODEC.decide(set(), services={"no-such-service": True})
    assert consent.services == {}
    assert not consent.allows_service("no-such-service")


def test_analytics_checks_keep_working_per_category() -> None:
    consent = CODEC.decide({"analytics"})
    assert consent.allows("analytics")
    assert consent.allows_service("google-analytics")
    assert not consent.allows_service("youtube")
    assert consent.services == {}


def _service(service_id: str, category: str) -> Service:
    return Service(id=service_id, name=service_id, category=category, hosts=(f"{service_id}.test",))


# --- the cookie -----------------------------------------------------------------------------


def test_service_choices_survive_the_cookie() -> None:
    consent = CODEC.decide({"analytics"}, services={"youtube": True, "hotjar": False})
    read = CODEC.loads(CODEC.dumps(consent))
    assert read.services == {"youtube": True, "hotjar": False}
    assert read.allows_service("youtube")
    assert not read.allows_service("hotjar")
    assert read.allows_service("google-analytics")
    assert read.held == consent.held


def test_a_cookie_made_before_services_could_be_chosen_still_reads() -> None:
    old = CODEC._serializer.dumps({"i": "abc", "r": POLICY.revision, "a": ["analytics"]})
    read = CODEC.loads(old)
    assert read.decided
    assert read.allows("analytics")
    assert read.services == {}
    assert read.allows_service("google-analytics")


def test_a_cookie_without_service_choices_is_what_it_was() -> None:
    payload = CODEC._serializer.loads(CODEC.dumps(CODEC.decide({"analytics"})))
    assert set(payload) == {"i", "r", "a"}


def test_a_tampered_service_choice_reads_as_no_consent() -> None:
    value = CODEC.dumps(CODEC.decide(set(), services={"youtube": True}))
    signature = value.rpartition(".")[2]
    forged = CODEC._serializer.dumps({"i": "x", "r": POLICY.revision, "a": [], "g": ["vimeo"]})
    assert CODEC.loads(forged.rpartition(".")[0] + "." + signature) is CODEC.undecided
    flipped = value[:-3] + ("A" if value[-3] != "A" else "B") + value[-2:]
    assert CODEC.loads(flipped) is CODEC.undecided


@pytest.mark.parametrize("bad", ["youtube", [1], {"youtube": 1}])
def test_malformed_service_lists_read_as_no_consent(bad: Any) -> None:
    value = CODEC._serializer.dumps({"i": "x", "r": POLICY.revision, "a": [], "g": bad})
    assert CODEC.loads(value) is CODEC.undecided


def test_a_service_the_policy_no_longer_has_is_dropped_from_the_cookie() -> None:
    value = CODEC._serializer.dumps(
        {"i": "x", "r": POLICY.revision, "a": [], "g": ["youtube", "gone"]}
    )
    assert CODEC.loads(value).services == {"youtube": True}


def test_every_listed_service_chosen_apart_fits_in_the_cookie() -> None:
    listed = {s.id: True for s in POLICY.listed_services}
    value = CODEC.dumps(CODEC.decide(set(), services=listed))
    assert len(value) < 1024  # the worst case the dialog can make: every switch apart
    assert CODEC.loads(value).services == listed


def test_choices_that_would_not_fit_in_the_cookie_are_refused() -> None:
    everything = {s.id: True for s in POLICY.services if s.category != "necessary"}
    with pytest.raises(TooManyServicesError, match="do not fit"):
        CODEC.decide(set(), services=everything)


def test_an_opt_out_signal_beats_a_service_granted_in_its_category() -> None:
    consent = CODEC.opt_out(
        CODEC.decide(set(), services={"youtube": True, "hotjar": True}),
        frozenset({"marketing"}),
        {"gpc": "honoured"},
    )
    assert not consent.allows_service("youtube")
    assert consent.allows_service("hotjar")


def test_of_two_cookies_the_one_allowing_fewer_services_wins() -> None:
    fewer = CODEC.dumps(CODEC.decide(set()))
    more = CODEC.dumps(CODEC.decide(set(), services={"youtube": True}))
    assert CODEC.from_cookies([more, fewer]).services == {}
    other = CODEC.dumps(CODEC.decide(set(), services={"meta-pixel": True}))
    assert CODEC.from_cookies([more, other]) is CODEC.undecided  # neither allows less


# --- what is held ---------------------------------------------------------------------------


def test_an_element_is_held_by_its_service() -> None:
    granted = RULES.blocking(CODEC.decide(set(), services={"youtube": True}).held)
    assert granted is not None
    assert granted.url(YOUTUBE) is None
    assert granted.url(PIXEL, script=True) is not None
    assert granted.url(GA, script=True) is not None
    denied = RULES.blocking(CODEC.decide({"marketing"}, services={"meta-pixel": False}).held)
    assert denied is not None
    assert denied.url(YOUTUBE) is None
    assert denied.url(PIXEL, script=True) is not None


def test_cookies_are_dropped_by_their_service() -> None:
    rules = CookieRules(POLICY)
    held = CODEC.decide({"analytics"}, services={"hotjar": False}).held
    assert rules.refused(["_ga", "_hjSessionUser_1"], held) == ["_hjSessionUser_1"]
    assert not rules.allows_set_cookie(b"_hjSessionUser_1=x; Max-Age=99", held)
    assert rules.allows_set_cookie(b"_ga=x; Max-Age=99", held)


def test_the_csp_lets_in_a_service_allowed_alone() -> None:
    csp = Csp(POLICY)
    granted = csp.apply([], CODEC.decide(set(), services={"youtube": True}), "n")
    denied = csp.apply([], CODEC.decide({"marketing"}, services={"youtube": False}), "n")
    assert b" youtube.com" in granted[-1][1]
    assert b"connect.facebook.net" not in granted[-1][1]
    assert b" youtube.com" not in denied[-1][1]
    assert b"connect.facebook.net" in denied[-1][1]


def test_the_runtime_gate_is_told_the_services_decided_apart() -> None:
    gate = ConsentGate(_site, secret_key=SECRET)
    consent = gate.codec.decide(set(), services={"youtube": True})
    head = gate.head.render(consent, "n").decode()
    inline = head.split('runtime-config"),{value:', 1)[1].split(",configurable")[0]
    assert json.loads(inline) == {
        "r": ["analytics", "marketing", "preferences"],
        "g": ["youtube"],
    }


# --- the consent endpoint -------------------------------------------------------------------


async def _site(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _post(gate: ConsentGate, cookie: str = "", **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=gate)
        async with httpx.AsyncClient(transport=transport, base_url=SITE) as client:
            headers = {"origin": SITE, **({"cookie": f"consent_gate={cookie}"} if cookie else {})}
            return await client.post("/consent-gate/consent", headers=headers, **kwargs)

    return asyncio.run(go())


def _decision(gate: ConsentGate, response: httpx.Response) -> Any:
    line = next(v for v in response.headers.get_list("set-cookie") if v.startswith("consent_"))
    return gate.codec.loads(line.split(";")[0].partition("=")[2])


GATE = ConsentGate(_site, secret_key=SECRET)


def test_allow_with_a_service_grants_that_service_only() -> None:
    response = _post(GATE, data={"action": "allow", "service": "youtube", "via": "placeholder"})
    assert response.status_code == 303
    consent = _decision(GATE, response)
    assert consent.allows_service("youtube")
    assert not consent.allows("marketing")
    assert not consent.allows_service("vimeo")


def test_allow_adds_a_service_to_the_visitors_choices() -> None:
    current = GATE.codec.dumps(GATE.codec.decide({"analytics"}, services={"meta-pixel": True}))
    response = _post(GATE, current, json={"action": "allow", "services": ["youtube"]})
    assert response.json()["services"] == {"youtube": True, "meta-pixel": True}
    assert response.json()["choices"]["analytics"] is True


def test_a_switched_on_category_with_no_service_switched_on_allows_it_whole() -> None:
    response = _post(GATE, data={"action": "save", "category": "marketing"})
    consent = _decision(GATE, response)
    assert consent.allows("marketing")
    assert consent.services == {}


def test_a_switched_on_category_keeps_the_services_switched_off_refused() -> None:
    listed = [s.id for s in POLICY.listed_services if s.category == "marketing"]
    kept = [s for s in listed if s != "youtube"]
    response = _post(GATE, data={"action": "save", "category": "marketing", "service": kept})
    consent = _decision(GATE, response)
    assert consent.allows("marketing")
    assert consent.services == {"youtube": False}


def test_services_switched_on_under_a_switched_off_category_are_granted() -> None:
    response = _post(GATE, json={"action": "save", "categories": [], "services": ["youtube"]})
    assert response.json()["choices"]["marketing"] is False
    assert response.json()["services"] == {"youtube": True}


def test_accept_all_and_reject_all_clear_service_choices() -> None:
    current = GATE.codec.dumps(GATE.codec.decide(set(), services={"youtube": True}))
    for action in ("accept_all", "reject_all", "withdraw"):
        response = _post(GATE, current, json={"action": action})
        assert response.json()["services"] == {}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"action": "allow", "services": ["nope"]}, "unknown services: nope"),
        ({"action": "save", "services": "youtube"}, '"services" must be a list'),
        ({"action": "allow"}, "at least one category or service"),
    ],
)
def test_bad_service_choices_get_a_400(body: dict[str, Any], message: str) -> None:
    response = _post(GATE, json=body)
    assert response.status_code == 400
    assert message in response.text


def test_choices_too_big_for_the_cookie_get_a_400() -> None:
    every = [s.id for s in POLICY.services if s.category != "necessary"][:400]
    response = _post(GATE, json={"action": "allow", "services": every})
    assert response.status_code == 400
    assert "do not fit" in response.text


def test_the_consent_log_keeps_service_choices() -> None:
    consent = CODEC.decide({"analytics"}, services={"youtube": True, "hotjar": False})
    assert consent.recorded == {
        "necessary": True,
        "preferences": False,
        "analytics": True,
        "marketing": False,
        "marketing/youtube": True,
        "analytics/hotjar": False,
    }


def test_a_service_of_a_necessary_category_is_always_allowed() -> None:
    necessary = Policy(
        services=(*POLICY.services[:3], _service("shop-session", "necessary")),
    )
    codec = ConsentCodec(SECRET, necessary)
    consent = codec.decide(set(), services={"shop-session": False})
    assert consent.allows_service("shop-session")
    assert consent.services == {}  # never refused apart: necessary is always on


def _get(gate: ConsentGate, path: str, cookie: str = "") -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=gate)
        async with httpx.AsyncClient(transport=transport, base_url=SITE) as client:
            headers = {"cookie": f"consent_gate={cookie}"} if cookie else {}
            return await client.get(path, headers=headers)

    return asyncio.run(go())


def test_the_preferences_page_has_a_switch_per_service_in_its_state() -> None:
    cookie = GATE.codec.dumps(GATE.codec.decide(set(), services={"youtube": True}))
    page = _get(GATE, "/consent-gate/preferences", cookie).text
    youtube = re.search(r'<input [^>]*name="service" value="youtube"[^>]*>', page)
    pixel = re.search(r'<input [^>]*name="service" value="meta-pixel"[^>]*>', page)
    assert youtube is not None
    assert pixel is not None
    assert 'role="switch"' in youtube.group()
    assert " checked" in youtube.group()
    assert " checked" not in pixel.group()
    assert '<label for="cg-svc-youtube-page">YouTube</label>' in page
    marketing = page[page.index('id="cg-cat-marketing-page"') :]
    assert '<span class="cg-always" data-cg-mixed>(partly on)</span>' in marketing[:600]


def test_the_in_page_dialog_leaves_its_service_switches_to_banner_js() -> None:
    page = GATE.banner.snippet(GATE.codec.undecided, next_url="/", prompt=True)
    assert 'name="service"' not in page  # pages do not carry them
    assert '<details class="cg-services" data-cg-of="marketing">' in page
    cookie = GATE.codec.dumps(GATE.codec.decide(set()))
    dialog = GATE.banner.dialog(GATE.codec.loads(cookie), next_url="/")  # fetched once decided
    assert 'name="service"' not in dialog
    assert '<details class="cg-services" data-cg-of="marketing">' in dialog
    script = GATE.banner.static_files["banner.js"].decode()
    assert '["youtube","YouTube"]' in script.replace(", ", ",")


def test_saving_the_dialog_keeps_choices_of_services_it_does_not_show() -> None:
    marketing = [s.id for s in POLICY.services if s.category == "marketing"]
    unlisted = next(s for s in marketing if not _listed(s))
    current = GATE.codec.dumps(GATE.codec.decide(set(), services={unlisted: True}))
    response = _post(GATE, current, json={"action": "save", "categories": ["analytics"]})
    assert response.json()["services"] == {unlisted: True}


def _listed(service_id: str) -> bool:
    return any(s.id == service_id for s in POLICY.listed_services)
