"""Languages: the locale files, Accept-Language parsing and the choice of a language."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from consent_gate import i18n
from consent_gate.bots import is_bot

LOCALES = Path(__file__).resolve().parents[1] / "src" / "consent_gate" / "locales"
REQUIRED = {"en", "de", "fr", "es", "it", "nl", "pt", "pl", "ko", "ja", "ar"}


def test_every_required_language_is_shipped() -> None:
    assert set(i18n.LANGUAGES) >= REQUIRED


@pytest.mark.parametrize("lang", sorted(p.stem for p in LOCALES.glob("*.toml")))
def test_every_locale_has_exactly_the_keys_of_english(lang: str) -> None:
    english = i18n.flatten(tomllib.loads((LOCALES / "en.toml").read_text("utf-8")))
    texts = i18n.flatten(tomllib.loads((LOCALES / f"{lang}.toml").read_text("utf-8")))
    assert sorted(set(english) - set(texts)) == [], "missing"
    assert sorted(set(texts) - set(english)) == [], "extra"
    assert all(value.strip() for value in texts.values()), "empty text"
    for key, value in english.items():  # the same placeholders, so .format() never fails
        names = {part.split("}")[0] for part in value.split("{")[1:]}
        assert {part.split("}")[0] for part in texts[key].split("{")[1:]} == names, key


def test_korean_first_layer_states_what_pipa_asks() -> None:
    banner = i18n.keys("ko")
    assert "목적" in banner["banner.purposes"]  # purpose
    assert "수집 항목" in banner["banner.collected"]  # items collected
    assert "보유" in banner["banner.retention"]  # retention period
    assert "거부할 권리" in banner["banner.refuse"]  # the right to refuse ...
    assert "제한" in banner["banner.refuse"]  # ... and what refusing costs


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de", ("de",)),
        ("de-AT,de;q=0.9,en;q=0.8", ("de-at", "de", "en")),
        ("en;q=0.5, fr;q=0.9, ko", ("ko", "fr", "en")),
        ("fr;q=0, it", ("it",)),  # q=0: not acceptable
        ("es;q=0.7, pt;q=0.7", ("es", "pt")),  # ties keep the header's order
        ("*;q=0.1, ja", ("ja", "*")),
        ("nl;q=2, pl;q=abc, ar", ("ar",)),  # malformed q-values drop their range
        ("en-US ; q = 0.8 ,  de", ("de", "en-us")),
        ("", ()),
        (",,;;, 12, <script>", ()),
        ("zh-Hant-TW;q=0.300", ("zh-hant-tw",)),
    ],
)
def test_accept_language_parsing(header: str, expected: tuple[str, ...]) -> None:
    assert i18n.parse_accept_language(header) == expected


@pytest.mark.parametrize(
    ("ranges", "hint", "expected"),
    [
        (("de-ch", "en"), None, "de"),
        (("sv", "fr"), None, "fr"),
        (("sv",), None, "en"),
        (("*",), "ja", "en"),
        (("sv",), "ja", "en"),  # the page's language is a hint only without a header
        ((), "ja-JP", "ja"),
        ((), "sv", "en"),
        ((), None, "en"),
        (("pt-br",), None, "pt"),
    ],
)
def test_negotiation(ranges: tuple[str, ...], hint: str | None, expected: str) -> None:
    assert i18n.negotiate(ranges, i18n.LANGUAGES, "en", hint) == expected


def test_negotiation_offers_only_the_sites_languages() -> None:
    assert i18n.negotiate(("ko", "de"), ("en", "de"), "en") == "de"
    assert i18n.negotiate(("ko",), ("en", "de"), "de") == "de"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b'<!doctype html><html lang="fr-CA"><head>', "fr-CA"),
        (b"<!DOCTYPE html>\n<HTML class=x LANG=ko>", "ko"),
        (b"<html data-lang='x' lang='de'>", "de"),
        (b"<html><body lang=de>", None),
        (b"<!doctype html><html>", None),
    ],
)
def test_html_lang_hint(head: bytes, expected: str | None) -> None:
    assert i18n.html_lang(head) == expected


def test_direction() -> None:
    assert i18n.direction("ar") == "rtl"
    assert i18n.direction("he-IL") == "rtl"
    assert i18n.direction("en") == "ltr"


@pytest.mark.parametrize(
    ("agent", "bot"),
    [
        (b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", True),
        (b"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", True),
        (
            b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            b"Chrome/120.0.0.0 Safari/537.36",
            False,
        ),
        (
            b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
            b"(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
            False,
        ),
        (b"", False),
        (None, False),
    ],
)
def test_bots_are_recognised(agent: bytes | None, bot: bool) -> None:
    assert is_bot(agent) is bot
