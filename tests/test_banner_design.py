"""The banner's design settings: layout, position, theme, brand colour, the settings pill, the
page's language, and the generated pages' stylesheet, templates and "last updated" date."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from asgi_client import Client
from consent_gate import ConsentGate, Policy, PolicyError
from consent_gate.theme import brand_css, contrast

SECRET = "design-tests-" + "x7Qp2" * 8


def gate(policy: dict[str, Any] | None = None, html_lang: str = "en") -> ConsentGate:
    async def page(request: Request) -> Response:
        return HTMLResponse(
            f'<!doctype html><html lang="{html_lang}"><head><meta charset="utf-8"></head>'
            "<body><h1>Hi</h1></body></html>"
        )

    return ConsentGate(
        Starlette(routes=[Route("/", page)]),
        secret_key=SECRET,
        policy=Policy.from_dict(policy or {}),
    )


def get(app: Any, url: str = "/", **headers: str) -> httpx.Response:
    response = Client(app).get(url, headers=headers)
    assert response.status_code == 200
    return response


def root_attributes(body: str) -> dict[str, str]:
    found = re.search(r'<div id="cg-root"([^>]*)>', body)
    assert found is not None, body
    return dict(re.findall(r'([\w-]+)="([^"]*)"', found.group(1)))


# ---- layout, position, theme ---------------------------------------------------------------


def test_defaults_are_a_bottom_bar_following_the_system_theme() -> None:
    attributes = root_attributes(get(gate()).text)
    assert attributes["data-cg-layout"] == "bar"
    assert attributes["data-cg-position"] == "bottom"
    assert attributes["data-cg-theme"] == "auto"


@pytest.mark.parametrize(
    ("banner", "layout", "position"),
    [
        ({"layout": "bar", "position": "top"}, "bar", "top"),
        ({"layout": "box"}, "box", "bottom-end"),
        ({"layout": "box", "position": "top-start"}, "box", "top-start"),
        ({"layout": "modal"}, "modal", "center"),
    ],
)
def test_layout_and_position_reach_the_banner(
    banner: dict[str, str], layout: str, position: str
) -> None:
    body = get(gate({"banner": banner})).text
    attributes = root_attributes(body)
    assert (attributes["data-cg-layout"], attributes["data-cg-position"]) == (layout, position)
    section = re.search(r'<section id="cg-banner"[^>]*>', body)
    assert section is not None
    # Only a modal is a dialog: a bar or a box leaves the page usable around it.
    assert ('aria-modal="true"' in section.group(0)) == (layout == "modal")


@pytest.mark.parametrize("theme", ["light", "dark", "auto"])
def test_theme_reaches_the_banner_and_the_generated_pages(theme: str) -> None:
    app = gate({"banner": {"theme": theme}})
    assert root_attributes(get(app).text)["data-cg-theme"] == theme
    for path in ("/consent-gate/policy", "/consent-gate/preferences"):
        assert f'<body class="cg-page" data-cg-theme="{theme}">' in get(app, path).text


@pytest.mark.parametrize(
    ("banner", "key"),
    [
        ({"layout": "sidebar"}, "banner.layout"),
        ({"layout": "bar", "position": "bottom-end"}, "banner.position"),
        ({"layout": "box", "position": "bottom"}, "banner.position"),
        ({"layout": "modal", "position": "top"}, "banner.position"),
        ({"theme": "sepia"}, "banner.theme"),
        ({"brand": "blue"}, "banner.brand"),
        ({"brand": "#12345"}, "banner.brand"),
        ({"settings_button": "no"}, "banner.settings_button"),
        ({"page_language": 1}, "banner.page_language"),
    ],
)
def test_bad_design_settings_fail_at_start_up_naming_the_key(
    banner: dict[str, Any], key: str
) -> None:
    with pytest.raises(PolicyError) as excinfo:
        Policy.from_dict({"banner": banner})
    assert excinfo.value.key == key


# ---- brand colour ------------------------------------------------------------------------------


def test_contrast_matches_wcag_reference_values() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#fff", "#fff") == pytest.approx(1.0)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)


@pytest.mark.parametrize("brand", ["#0b6e4f", "#ffcc00", "#777777", "#e11d48", "#1e1e1e", "#fff"])
def test_brand_text_and_links_stay_readable(brand: str) -> None:
    css = brand_css(brand)
    rules = re.findall(r"\{(--cg-btn-bg:[^}]*)\}", css)
    assert len(rules) == 3  # light, forced dark, dark by system setting
    for rule in rules:
        values = dict(part.split(":", 1) for part in rule.strip(";").split(";"))
        assert values["--cg-btn-bg"] == brand
        # The better of the two text colours: at least what either would reach.
        best = max(contrast(brand, "#ffffff"), contrast(brand, "#111827"))
        assert contrast(values["--cg-btn-fg"], brand) == pytest.approx(best)
    light_accent = re.search(r"--cg-accent:(#[0-9a-f]+)", rules[0])
    dark_accent = re.search(r"--cg-accent:(#[0-9a-f]+)", rules[1])
    assert light_accent is not None
    assert dark_accent is not None
    assert contrast(light_accent.group(1), "#ffffff") >= 4.5
    assert contrast(dark_accent.group(1), "#111827") >= 4.5


def test_brand_colour_is_served_in_the_stylesheet_and_changes_its_version() -> None:
    plain, branded = gate(), gate({"banner": {"brand": "#0B6E4F"}})
    css = get(branded, "/consent-gate/static/banner.css").text
    assert "--cg-btn-bg:#0b6e4f" in css
    assert "--cg-btn-bg:#0b6e4f" not in get(plain, "/consent-gate/static/banner.css").text
    version = re.compile(r"banner\.css\?v=(\w+)")
    before, after = version.search(get(plain).text), version.search(get(branded).text)
    assert before is not None
    assert after is not None
    assert before.group(1) != after.group(1)  # no browser keeps the old colours cached


# ---- the settings pill -------------------------------------------------------------------------


def test_the_settings_pill_can_be_left_out() -> None:
    app = gate({"banner": {"settings_button": False}})
    assert 'id="cg-settings"' not in get(app).text
    assert 'id="cg-settings"' in get(gate()).text


# ---- language ----------------------------------------------------------------------------------


def test_the_page_language_wins_over_the_header_only_when_the_site_says_so() -> None:
    german_page = {"accept-language": "fr"}
    assert root_attributes(get(gate(html_lang="de"), **german_page).text)["lang"] == "fr"
    body = get(gate({"banner": {"page_language": True}}, html_lang="de-AT"), **german_page).text
    assert root_attributes(body)["lang"] == "de"
    assert "Alle ablehnen" in body
    # A page language the banner does not speak leaves the visitor's choice in charge.
    body = get(gate({"banner": {"page_language": True}}, html_lang="sv"), **german_page).text
    assert root_attributes(body)["lang"] == "fr"


def test_lists_use_each_languages_punctuation() -> None:
    app = gate()
    banner = get(app, **{"accept-language": "ja"}).text
    label = "利用目的\uff1a"  # with a full-width colon
    assert label in banner
    assert "、" in banner.split(label)[1].split("。")[0]
    arabic = get(app, **{"accept-language": "ar"}).text
    assert "، " in arabic
    english = get(app).text
    assert re.search(r"Purposes:</strong>\s*Strictly necessary, \w+", english)


# ---- generated pages ---------------------------------------------------------------------------


def test_pages_link_the_sites_stylesheet_after_the_gates() -> None:
    body = get(gate({"pages": {"stylesheet": "/static/site.css"}}), "/consent-gate/policy").text
    assert body.index("banner.css") < body.index('href="/static/site.css"')
    assert "site.css" not in get(gate(), "/consent-gate/policy").text


def test_pages_stylesheet_must_be_a_path_or_http_url() -> None:
    with pytest.raises(PolicyError) as excinfo:
        Policy.from_dict({"pages": {"stylesheet": "javascript:alert(1)"}})
    assert excinfo.value.key == "pages.stylesheet"


def test_site_templates_override_the_gates(tmp_path: Path) -> None:
    (tmp_path / "_page.html").write_text(
        '<!doctype html><html lang="{{ lang }}"><body class="acme-shell">'
        "<header>Acme</header>{% block main %}{% endblock %}</body></html>"
    )
    app = gate({"pages": {"templates": str(tmp_path)}})
    for path in ("/consent-gate/policy", "/consent-gate/preferences"):
        body = get(app, path).text
        assert '<body class="acme-shell"><header>Acme</header>' in body
        assert "cg-choices" in body or "cg-policy-category" in body
    with pytest.raises(PolicyError) as excinfo:
        Policy.from_dict({"pages": {"templates": str(tmp_path / "missing")}})
    assert excinfo.value.key == "pages.templates"


def test_the_policy_page_says_when_it_was_last_updated() -> None:
    body = get(gate({"updated": datetime.date(2026, 11, 30)}), "/consent-gate/policy").text
    assert 'Last updated: <time datetime="2026-11-30">2026-11-30</time>' in body
    assert "Last updated" not in get(gate(), "/consent-gate/policy").text
    for wrong in ("2026-11-30", datetime.datetime(2026, 11, 30, 12, 0)):
        with pytest.raises(PolicyError) as excinfo:
            Policy.from_dict({"updated": wrong})
        assert excinfo.value.key == "updated"


def test_long_cookie_tables_are_collapsed_short_ones_open() -> None:
    body = get(gate(), "/consent-gate/policy").text
    lists = re.findall(
        r"<details class=\"cg-cookie-list\"( open)?>\s*<summary>Cookies \((\d+)\)", body
    )
    assert lists
    for opened, count in lists:
        assert bool(opened) == (int(count) <= 3)
    assert any(not opened for opened, _ in lists)
