"""What a request may put in the consent log: the page, capped headers, the client's budget."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent_gate.evidence import (
    MAX_LANGUAGE,
    MAX_PAGE,
    MAX_USER_AGENT,
    Budget,
    client_key,
    headers,
    page,
)


@pytest.mark.parametrize(
    ("given_path", "kept"),
    [
        ("/", "/"),
        ("/shop/item?id=1&email=a@b.example#top", "/shop/item"),
        ("/a b/é", "/a%20b/%C3%A9"),  # an ASGI path comes decoded ...
        ("/a%20b/%C3%A9", "/a%20b/%C3%A9"),  # ... a URL encoded: one spelling for both
        ("/x\x00\r\n\x1b[31m", "/x%00%0D%0A%1B%5B31m"),
        ("/\ud800", "/%3F"),  # a lone surrogate cannot be stored as UTF-8
        ("/%ff", "/%EF%BF%BD"),  # not UTF-8
        ("/a:b@c;d=e,f", "/a:b@c;d=e,f"),
    ],
)
def test_a_page_is_kept_as_its_path_in_one_spelling(given_path: str, kept: str) -> None:
    assert page(given_path) == kept


def test_a_long_page_is_cut_without_splitting_a_character() -> None:
    assert page("/" + "a" * 20_000) == "/" + "a" * (MAX_PAGE - 1)
    cut = page("/" + "é" * 200)
    assert len(cut) <= MAX_PAGE
    assert cut.endswith("%C3%A9")
    for filler in range(MAX_PAGE - 8, MAX_PAGE):
        assert page("/" + "a" * filler + "é" * 3).endswith(("a", "%C3%A9"))


@given(st.text())
def test_any_path_gives_a_short_ascii_page(path: str) -> None:
    kept = page(path)
    assert len(kept) <= MAX_PAGE
    assert kept.isascii()
    assert kept.isprintable()


def test_headers_a_record_keeps_are_capped_and_the_rest_untouched() -> None:
    request = [
        (b"user-agent", b"u" * 10_000),
        (b"Accept-Language", b"l" * 10_000),
        (b"cookie", b"c" * 10_000),
    ]
    capped = headers(request)
    assert capped == [
        (b"user-agent", b"u" * MAX_USER_AGENT),
        (b"Accept-Language", b"l" * MAX_LANGUAGE),
        (b"cookie", b"c" * 10_000),
    ]


@pytest.mark.parametrize(
    ("client", "key"),
    [
        (("192.0.2.1", 1), "192.0.2.1"),
        (("2001:db8:1:2:3:4:5:6", 1), "2001:db8:1:2::/64"),
        (("2001:db8:1:2:ffff::1", 1), "2001:db8:1:2::/64"),  # the same subscriber
        (("::ffff:192.0.2.1", 1), "192.0.2.1"),
        (("unix-socket", None), "unix-socket"),
        (None, ""),
    ],
)
def test_a_budget_belongs_to_an_address_or_an_ipv6_slash_64(
    client: tuple[str, int] | None, key: str
) -> None:
    assert client_key({"client": client}) == key


def test_a_budget_refuses_beyond_its_rate_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    budget = Budget(3, "decisions")
    scope = {"client": ("192.0.2.1", 1)}
    with caplog.at_level(logging.WARNING, "consent_gate"):
        allowed = [budget.allow(scope) for _ in range(10)]
    assert allowed == [True] * 3 + [False] * 7
    assert budget.allow({"client": ("192.0.2.2", 1)})
    (warning,) = caplog.records
    assert "decisions from 192.0.2.1 beyond log.per_minute (3)" in warning.getMessage()
    assert "--proxy-headers" in warning.getMessage()
