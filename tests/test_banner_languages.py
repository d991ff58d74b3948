"""The banner in the visitor's language: chosen per request, overridable, right-to-left for Arabic,
and hidden from bots."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from asgi_client import Client
from consent_gate import ConsentGate, Policy, i18n
from consent_gate.consent import ConsentCodec
from consent_gate.policy import PolicyError

SECRET = "languages-test-secret"
TRACKER = '<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


def site(policy: Policy | None = None, html_lang: str = "en") -> ConsentGate:
    async def page(request: Request) -> Response:
        return HTMLResponse(
            f'<!doctype html><html lang="{html_lang}"><head>{TRACKER}</head>'
            "<body><h1>Hi</h1></body></html>"
        )

    return ConsentGate(
        Starlette(routes=[Route("/", page)]), secret_key=SECRET, policy=policy or Policy.default()
    )


def get(app: Any, url: str = "/", **headers: str) -> str:
    """The page as text (the banner's non-ASCII letters arrive as character references)."""

    response = Client(app).get(url, headers=headers)
    assert response.status_code == 200
    return html.unescape(response.text)


def root(body: str) -> str:
    found = re.search(r'<div id="cg-root"[^>]*>', body)
    assert found is not None, body
    return found.group(0)


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_every_language_renders_the_banner_and_the_pages(lang: str) -> None:
    app = site()
    texts = i18n.keys(lang)
    body = get(app, "/", **{"accept-language": lang})
    assert f'lang="{lang}"' in root(body)
    for key in ("banner.title", "banner.accept_all", "banner.reject_all", "banner.customize"):
        assert texts[key] in body, key
    assert texts["categories.analytics.title"] in body
    assert ('dir="rtl"' in root(body)) is (lang == "ar")
    preferences = get(app, f"/consent-gate/preferences?lang={lang}")
    assert f'<html lang="{lang}" dir="{i18n.direction(lang)}">' in preferences
    assert texts["banner.save"] in preferences
    assert texts["categories.marketing.description"] in preferences
    policy = get(app, "/consent-gate/policy", **{"accept-language": lang})
    assert texts["policy.title"] in policy
    assert texts["policy.dnt_ignore"] in policy
    assert texts["banner.refuse"] in policy


def test_q_values_decide_and_each_language_has_its_own_cached_banner() -> None:
    app = site()
    german = get(app, **{"accept-language": "en;q=0.3, de-DE;q=0.9"})
    french = get(app, **{"accept-language": "fr-CH, de;q=0.5"})
    assert "Alle ablehnen" in german
    assert "Tout refuser" in french
    assert "Alle ablehnen" not in french
    swedish = get(app, **{"accept-language": "sv"})  # not offered: the default, English
    assert "Reject all" in swedish
    assert "Alle ablehnen" not in swedish


def test_the_pages_own_language_is_a_hint_when_the_header_is_absent() -> None:
    assert "모두 거부" in get(site(html_lang="ko-KR"))
    assert "Rifiuta tutti" in get(site(html_lang="ko"), **{"accept-language": "it"})
    assert "Reject all" in get(site(html_lang="sv"))


def test_korean_texts_state_purpose_items_retention_and_refusal() -> None:
    """PIPA: the first layer names the purposes and the right to refuse; the preferences layer
    and the policy page add the items collected, the retention period and what refusing costs."""
    texts = i18n.keys("ko")
    body = get(site(), **{"accept-language": "ko"})
    banner = body[body.index('id="cg-banner"') : body.index('id="cg-preferences"')]
    assert texts["banner.purposes"] in banner
    assert "거부할 권리" in banner
    for page in (
        body[body.index('id="cg-preferences"') :],
        get(site(), "/consent-gate/policy?lang=ko"),
    ):
        for key in ("banner.collected", "banner.refuse"):
            assert texts[key] in page, key
        assert "6개월간 보관" in page  # the retention period, from the policy's max age


def test_lang_parameter_overrides_the_header_on_the_gates_pages() -> None:
    page = get(site(), "/consent-gate/preferences?lang=ja", **{"accept-language": "de"})
    assert "選択を保存" in page
    unknown = get(site(), "/consent-gate/preferences?lang=xx", **{"accept-language": "de"})
    assert "Auswahl speichern" in unknown


def test_site_texts_override_per_language_and_category_defaults_fall_back() -> None:
    policy = Policy.from_dict(
        {
            "banner": {"languages": ["en", "de"], "default_language": "de"},
            "texts": {
                "de": {"banner.title": "Cookies bei Acme", "categories.analytics.title": "Zahlen"},
                "en": {"banner.accept_all": "Yes to all"},
            },
            "categories": {
                "marketing": {"translations": {"de": {"title": "Werbung"}}},
                "analytics": {"title": "Statistics"},
                "newsletter": {"title": "Newsletter"},
            },
            "services": {
                "mailer": {"name": "Mailer", "category": "newsletter", "hosts": ["mail.example"]}
            },
        }
    )
    app = site(policy)
    german = get(app, **{"accept-language": "de"})
    assert "Cookies bei Acme" in german
    assert "Zahlen" in german  # [texts.de] beats the site's own (English) title
    assert "Werbung" in german  # the category's translation
    assert "Präferenzen" in german  # locale default for an untouched built-in category
    assert "Newsletter" in german  # the site's own category keeps its title
    english = get(app, **{"accept-language": "en"})
    assert "Yes to all" in english
    assert "Statistics" in english  # reworded by the site: its own title, not the locale's
    assert "Marketing" in english
    assert "Alle ablehnen" in get(app, **{"accept-language": "ko"})  # not offered: default


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"texts": {"de": {"banner.titel": "x"}}}, "texts.de.banner.titel"),
        ({"texts": {"de": {"banner.title": 3}}}, "texts.de.banner.title"),
        ({"texts": {"xx": {"banner.title": "x"}}}, "texts.xx"),
        ({"banner": {"languages": ["en", "tlh"]}}, "banner.languages[1]"),
        ({"banner": {"languages": ["de"]}}, "banner.default_language"),
        ({"banner": {"hide_from_bots": "yes"}}, "banner.hide_from_bots"),
        ({"banner": {"colour": "red"}}, "banner.colour"),
    ],
)
def test_text_and_language_mistakes_fail_at_start_up(data: dict[str, Any], key: str) -> None:
    with pytest.raises(PolicyError) as caught:
        Policy.from_dict(data)
    assert caught.value.key == key


def test_bots_get_no_banner_and_no_trackers() -> None:
    app = site()
    bot = get(app, **{"user-agent": GOOGLEBOT})
    assert "cg-root" not in bot
    assert "banner.js" not in bot
    assert TRACKER not in bot  # held back, as for any undecided visitor
    # Even with an "accept all" cookie a crawler is not tracked.
    codec = ConsentCodec(SECRET, Policy.default())
    accepted = codec.dumps(codec.decide(set(Policy.default().optional_categories)))
    crawled = get(app, **{"user-agent": GOOGLEBOT, "cookie": f"consent_gate={accepted}"})
    assert TRACKER not in crawled
    person = get(app, **{"user-agent": CHROME})
    assert 'id="cg-banner"' in person


def test_bots_see_the_banner_when_the_policy_says_so() -> None:
    policy = Policy.from_dict({"banner": {"hide_from_bots": False}})
    assert 'id="cg-banner"' in get(site(policy), **{"user-agent": GOOGLEBOT})


def test_a_category_no_service_uses_is_not_asked_about() -> None:
    page = get(site(Policy.from_dict({"uses": ["google-analytics", "youtube"]})))
    assert 'id="cg-cat-analytics"' in page
    assert 'id="cg-cat-marketing"' in page
    assert "cg-cat-preferences" not in page
