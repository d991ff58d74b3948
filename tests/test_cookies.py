"""CookieRules (name -> category, the Set-Cookie firewall), expiry lines and the consent cookie."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from consent_gate import CookieSpec, Policy, Service
from consent_gate.cookies import (
    MAX_EXPIRY_BYTES,
    MAX_EXPIRY_LINES,
    CookieRules,
    cookie_domains,
    expire_headers,
    set_cookie_header,
)
from consent_gate.refusal import Refusal

POLICY = Policy(
    services=(
        Service(
            "stats",
            "Stats",
            "analytics",
            hosts=("stats.example",),
            cookies=(
                CookieSpec("_st", "Distinguishes visitors.", "2 years"),
                CookieSpec("_st_*", "One per property.", "1 day"),
                CookieSpec("a.b*", "A pattern with a regex metacharacter."),
            ),
        ),
        Service(
            "ads",
            "Ads",
            "marketing",
            hosts=("ads.example",),
            cookies=(
                CookieSpec("_ad", "Ad targeting.", "1 year", "third"),
                CookieSpec("_st_special", "An exact name that also fits a pattern."),
            ),
        ),
        Service(
            "chat",
            "Chat",
            "preferences",
            hosts=("chat.example",),
            cookies=(CookieSpec("chat_*", "Chat session."),),
        ),
    )
)
RULES = CookieRules(POLICY)
ANALYTICS = frozenset({"analytics"})
ALL_OPTIONAL = frozenset({"preferences", "analytics", "marketing"})


def _http_date(delta: timedelta) -> str:
    return format_datetime(datetime.now(UTC) + delta, usegmt=True)


# --- categories ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("_st", "analytics"),
        ("_st_UA123", "analytics"),
        ("_st_", "analytics"),
        ("_ad", "marketing"),
        ("chat_session", "preferences"),
        ("a.b", "analytics"),
        ("a.bcd", "analytics"),
    ],
)
def test_category_of_exact_and_glob_names(name: str, category: str) -> None:
    assert RULES.category(name) == category


@pytest.mark.parametrize("name", ["session", "x_st_1", "_st2", "_ad_", "axb", "chat", "", "_ST"])
def test_unknown_cookie_names_have_no_category(name: str) -> None:
    assert RULES.category(name) is None


def test_an_exact_name_wins_over_a_matching_pattern() -> None:
    assert RULES.category("_st_special") == "marketing"


def test_a_name_two_services_claim_is_held_only_while_both_are_refused() -> None:
    """The catalogue names `_ga` under Universal Analytics and GA4: a visitor who allows GA4
    alone keeps its cookie (the first owner alone decided, and the cookie was dropped and
    expired on every page, though runtime.js let the page write it)."""
    default = Policy.default()
    rules = CookieRules(default)
    owners = [s.id for s in default.services if any(c.name == "_ga" for c in s.cookies)]
    assert len(owners) >= 2
    everything = Refusal.of(ALL_OPTIONAL)
    assert rules.refused(["_ga"], everything) == ["_ga"]
    assert not rules.allows_set_cookie(b"_ga=GA1.1.1; Path=/", everything)
    for allowed in owners:
        refusal = Refusal(ALL_OPTIONAL, granted=frozenset({allowed}), touched=ALL_OPTIONAL)
        assert rules.refused(["_ga"], refusal) == []
        assert rules.allows_set_cookie(b"_ga=GA1.1.1; Path=/", refusal)


def test_a_name_a_necessary_service_claims_is_never_held_though_a_tracker_glob_fits() -> None:
    """The catalogue's services come first: Amplitude's AMP_* is the first glob that fits."""
    site = Service(
        "site", "Site", "necessary", cookies=(CookieSpec("AMP_csrf_*", "Protects forms."),)
    )
    default = Policy.default()
    rules = CookieRules(dataclasses.replace(default, services=(*default.services, site)))
    assert rules.allows_set_cookie(b"AMP_csrf_1=x; Path=/", ALL_OPTIONAL)
    assert rules.refused(["AMP_csrf_1", "AMP_0123456789"], ALL_OPTIONAL) == ["AMP_0123456789"]


def test_the_consent_cookie_itself_never_belongs_to_a_category() -> None:
    policy = Policy(
        services=(
            Service("odd", "Odd", "marketing", cookies=(CookieSpec("consent_*", "Catch-all."),)),
        )
    )
    rules = CookieRules(policy)
    assert rules.category("consent_gate") is None
    assert rules.category("consent_other") == "marketing"


def test_cookie_names_are_listed_by_service_with_its_category() -> None:
    assert RULES.by_service == {
        "stats": ("analytics", ["_st", "_st_*", "a.b*"]),
        "ads": ("marketing", ["_ad", "_st_special"]),
        "chat": ("preferences", ["chat_*"]),
    }


def test_refused_picks_only_cookies_of_refused_categories_in_order() -> None:
    names = ["session", "_ad", "_st", "chat_x", "_st_1", "theme"]
    assert RULES.refused(names, ANALYTICS) == ["_st", "_st_1"]
    assert RULES.refused(names, ALL_OPTIONAL) == ["_ad", "_st", "chat_x", "_st_1"]
    assert RULES.refused(names, frozenset()) == []


def test_refused_names_each_once() -> None:
    assert RULES.refused(["_st", "_st", "_ad", "_st"], ALL_OPTIONAL) == ["_st", "_ad"]


def test_many_globs_decide_in_policy_order() -> None:
    services = tuple(
        Service(f"s{n}", f"S{n}", "analytics", cookies=(CookieSpec(f"g{n}_*", "x"),))
        for n in range(200)
    )
    first = Service("first", "First", "marketing", cookies=(CookieSpec("g1*", "x"),))
    rules = CookieRules(Policy(services=(first, *services)))
    assert rules.category("g42_x") == "analytics"
    assert rules.category("g199_x") == "marketing"  # "g1*" comes first and fits too
    assert rules.category("g1_x") == "marketing"
    assert rules.category("h1_x") is None


# --- the Set-Cookie firewall --------------------------------------------------------------------


def test_everything_passes_when_nothing_is_refused() -> None:
    assert RULES.allows_set_cookie(b"_st=1; Path=/; Max-Age=100", frozenset())


@pytest.mark.parametrize(
    "line",
    [
        b"_st=GA1.2.3; Path=/; Max-Age=63072000",
        b"_st_UA1=1; Path=/; Domain=.example.com",
        b"_st=1",
        b" _st =1; Path=/",
        b"_st=1; Max-Age=3600; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    ],
)
def test_a_cookie_of_a_refused_category_is_dropped(line: bytes) -> None:
    assert not RULES.allows_set_cookie(line, ANALYTICS)


@pytest.mark.parametrize(
    "line",
    [b"session=abc; HttpOnly; Path=/", b"theme=dark", b"_ad=1; Path=/", b"chat_x=1"],
)
def test_unknown_cookies_and_accepted_categories_are_kept(line: bytes) -> None:
    assert RULES.allows_set_cookie(line, ANALYTICS)


@pytest.mark.parametrize(
    "line",
    [
        b"_st=; Path=/; Max-Age=0",
        b"_st=x; Max-Age=-1; Path=/",
        b"_st=; max-age=0",
        b"_st=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        b"_st=; EXPIRES=Thu, 01 Jan 1970 00:00:00 GMT",
        b"_st_1=; Path=/; Expires=Thu, 01-Jan-1970 00:00:01 GMT",
        # PHP's setcookie() deletion: an Expires it cannot parse the same way, then Max-Age=0.
        b"_st=deleted; expires=Thu, 01-Jan-1970 00:00:01 GMT; Max-Age=0; path=/",
        # RFC 6265 5.3: Max-Age has precedence over Expires.
        b"_st=1; Expires=Fri, 31 Dec 9999 23:59:59 GMT; Max-Age=0",
        # A numeric-zone date parses to a naive datetime; it is still in the past.
        b"_st=; Expires=Thu, 01 Jan 1970 00:00:00 -0000",
    ],
)
def test_deleting_a_refused_cookie_is_always_allowed(line: bytes) -> None:
    assert RULES.allows_set_cookie(line, ANALYTICS)


def test_an_expiry_just_past_deletes_and_one_in_the_future_does_not() -> None:
    past = f"_st=; Expires={_http_date(-timedelta(minutes=5))}".encode()
    future = f"_st=1; Expires={_http_date(timedelta(days=30))}".encode()
    assert RULES.allows_set_cookie(past, ANALYTICS)
    assert not RULES.allows_set_cookie(future, ANALYTICS)


def test_max_age_takes_precedence_over_a_past_expires() -> None:
    line = f"_st=1; Expires={_http_date(-timedelta(days=1))}; Max-Age=3600".encode()
    assert not RULES.allows_set_cookie(line, ANALYTICS)


@pytest.mark.parametrize(
    "line",
    [
        b"_st=1; Max-Age=soon",
        b"_st=1; Expires=not a date",
        b"_st=1; Expires=",
        b"_st=1; Max-Age=",
        # Python's int() reads these as 0 and -10; Chromium ignores them and sets the cookie.
        b"_st=1; Max-Age=0_0",
        b"_st=1; Max-Age=-1_0",
        # A time without seconds: Python's parsedate reads it, Chromium ignores the Expires.
        b"_st=1; Expires=Thu, 01 Jan 1970 00:00 GMT",
    ],
)
def test_an_unparseable_lifetime_is_not_a_deletion(line: bytes) -> None:
    assert not RULES.allows_set_cookie(line, ANALYTICS)


def test_an_invalid_max_age_is_ignored_and_a_past_expires_still_deletes() -> None:
    # RFC 6265 5.2.2: a Max-Age that is not a number is ignored, not fatal.
    line = b"_st=; Max-Age=never; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
    assert RULES.allows_set_cookie(line, ANALYTICS)


# --- set_cookie_header --------------------------------------------------------------------------


def test_set_cookie_header_on_plain_http() -> None:
    line = set_cookie_header("consent_gate", "abc.def", max_age=3600, secure=False)
    assert line == b"consent_gate=abc.def; Path=/; Max-Age=3600; SameSite=Lax; HttpOnly"


def test_set_cookie_header_on_https_is_secure() -> None:
    line = set_cookie_header("c", "v", max_age=10, secure=True)
    assert line == b"c=v; Path=/; Max-Age=10; SameSite=Lax; Secure; HttpOnly"


def test_set_cookie_header_can_leave_out_httponly() -> None:
    line = set_cookie_header("c", "v", max_age=10, secure=False, http_only=False)
    assert b"HttpOnly" not in line
    assert line == b"c=v; Path=/; Max-Age=10; SameSite=Lax"


# --- expire_headers -----------------------------------------------------------------------------

_EXPIRE = b"=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"


def test_expiry_covers_host_only_the_registrable_domain_and_the_host() -> None:
    assert expire_headers(["_st"], "www.shop.example.com") == [
        b"_st" + _EXPIRE,
        b"_st" + _EXPIRE + b"; Domain=example.com",
        b"_st" + _EXPIRE + b"; Domain=shop.example.com",
        b"_st" + _EXPIRE + b"; Domain=www.shop.example.com",
    ]


def test_expiry_ignores_the_port_and_case_of_the_host() -> None:
    assert expire_headers(["_ad"], "WWW.Example.COM:8443") == [
        b"_ad" + _EXPIRE,
        b"_ad" + _EXPIRE + b"; Domain=example.com",
        b"_ad" + _EXPIRE + b"; Domain=www.example.com",
    ]


def test_expiry_lines_for_several_cookies_host_only_first() -> None:
    lines = expire_headers(["_st", "_ad"], "example.com")
    assert lines == [
        b"_st" + _EXPIRE,
        b"_ad" + _EXPIRE,
        b"_st" + _EXPIRE + b"; Domain=example.com",
        b"_ad" + _EXPIRE + b"; Domain=example.com",
    ]


def test_a_repeated_name_is_expired_once_per_domain() -> None:
    assert expire_headers(["_st", "_st", "_st"], "example.com") == expire_headers(
        ["_st"], "example.com"
    )


@pytest.mark.parametrize("name", ["", "a b", "a;b", "a,b", "a=b", "\x00", "é", "x" * 129, "a\tb"])
def test_names_a_browser_could_not_have_stored_are_not_echoed(name: str) -> None:
    assert expire_headers([name], "example.com") == []


@pytest.mark.parametrize(
    "host",
    [
        "a." * 200 + "com",  # longer than a DNS name may be
        "x" * 64 + ".example.com",  # a label longer than 63
        "-bad-.example.com",
        "exa_mple.com",
        "example..com",
        "example.com\r\nx: y",
        "évil.example",
    ],
)
def test_a_host_that_is_no_dns_name_gives_host_only_lines(host: str) -> None:
    assert expire_headers(["_st"], host) == [b"_st" + _EXPIRE]


def test_a_deep_host_gives_no_more_than_three_domains() -> None:
    host = "a." * 100 + "example.com"
    assert cookie_domains(host) == ["example.com", "a.example.com", host]


def test_with_site_domains_the_host_within_them_gives_the_domain_and_itself() -> None:
    assert cookie_domains("www.shop.example.com", ("example.com",)) == [
        "example.com",
        "www.shop.example.com",
    ]
    assert cookie_domains("example.com:8000", ("example.com", "example.de")) == ["example.com"]


@pytest.mark.parametrize("host", ["evil.example", "notexample.com", "127.0.0.1", "", "a" * 5000])
def test_with_site_domains_another_host_gives_only_the_configured_domains(host: str) -> None:
    assert cookie_domains(host, ("example.com", "example.de")) == ["example.com", "example.de"]


def test_expiry_is_capped_in_lines_and_bytes() -> None:
    names = [f"_st_{n}" for n in range(10_000)]
    lines = expire_headers(names, "www.shop.example.com")
    assert len(lines) == MAX_EXPIRY_LINES
    assert lines[0] == b"_st_0" + _EXPIRE  # host-only lines come first
    long_names = [f"_st_{n:0>120}" for n in range(60)]
    capped = expire_headers(long_names, "www.shop.example.com")
    assert sum(map(len, capped)) <= MAX_EXPIRY_BYTES
    assert len(capped) < len(long_names)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.0.0.1:8000",
        "[::1]",
        "[::1]:8000",
        "[2001:db8::1]:443",
        "localhost",
        "localhost:8000",
        "",
    ],
)
def test_ip_and_single_label_hosts_get_no_domain_attribute(host: str) -> None:
    assert expire_headers(["_st"], host) == [b"_st" + _EXPIRE]


def test_no_names_no_lines() -> None:
    assert expire_headers([], "www.example.com") == []
