"""Planting a choice: a sibling subdomain, a parent-domain cookie or a second copy of the cookie
must not decide for the visitor.

On https the consent cookie is `__Host-` prefixed, which browsers accept only host-only, Secure
and on Path=/; a plain-named cookie (all a sibling subdomain or a network attacker can set) is
not read there. When a request carries several copies, none wins for being first.
"""

from __future__ import annotations

import pytest

from consent_gate import ConsentGate, Policy
from consent_gate._types import Receive, Scope, Send
from consent_gate.consent import ConsentCodec
from consent_gate.cookies import CookieRules

SECRET = "planting-secret"
POLICY = Policy.default()
CODEC = ConsentCodec(SECRET, POLICY)
EVERYTHING = CODEC.dumps(CODEC.decide(set(POLICY.optional_categories)))
ANALYTICS = CODEC.dumps(CODEC.decide({"analytics"}))
MARKETING = CODEC.dumps(CODEC.decide({"marketing"}))
NOTHING = CODEC.dumps(CODEC.decide(set()))


async def _empty(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


GATE = ConsentGate(_empty, secret_key=SECRET, policy=POLICY)


def allowed(cookie: str, *, secure: bool = True) -> set[str]:
    consent = GATE.read([(b"cookie", cookie.encode())], secure=secure)
    return {c for c in POLICY.optional_categories if consent.allows(c)}


def test_https_reads_only_the_host_prefixed_cookie() -> None:
    assert allowed(f"__Host-consent_gate={EVERYTHING}") == set(POLICY.optional_categories)
    assert allowed(f"consent_gate={EVERYTHING}") == set()  # a sibling could have planted it


def test_plain_http_reads_the_plain_cookie() -> None:
    assert allowed(f"consent_gate={ANALYTICS}", secure=False) == {"analytics"}
    assert allowed(f"__Host-consent_gate={ANALYTICS}", secure=False) == set()


def test_the_set_cookie_on_https_meets_the_host_prefix_rules() -> None:
    line = CODEC.set_cookie(CODEC.decide(set()), secure=True).decode()
    name, attributes = line.split("=", 1)[0], [a.strip() for a in line.split(";")[1:]]
    assert name == "__Host-consent_gate"
    assert "Secure" in attributes
    assert "Path=/" in attributes
    assert not [a for a in attributes if a.lower().startswith("domain")]


@pytest.mark.parametrize(
    ("cookies", "expected"),
    [
        # An invalid first copy does not hide a valid one behind it.
        ([f"{EVERYTHING}x", ANALYTICS], {"analytics"}),
        (["garbage", "", ANALYTICS], {"analytics"}),
        # Of two valid copies, the one that allows least wins when it allows no more.
        ([EVERYTHING, ANALYTICS], {"analytics"}),
        ([ANALYTICS, EVERYTHING], {"analytics"}),
        ([NOTHING, EVERYTHING], set()),
        # Copies that disagree either way decide nothing: the visitor is asked again.
        ([ANALYTICS, MARKETING], set()),
    ],
)
def test_several_copies_of_the_cookie_never_let_the_first_win(
    cookies: list[str], expected: set[str]
) -> None:
    header = "; ".join(f"__Host-consent_gate={value}" for value in cookies)
    assert allowed(header) == expected


def test_disagreeing_copies_read_as_undecided() -> None:
    header = f"__Host-consent_gate={ANALYTICS}; __Host-consent_gate={MARKETING}"
    assert not GATE.read([(b"cookie", header.encode())], secure=True).decided


def test_only_a_few_copies_are_verified() -> None:
    """Thousands of copies cost a handful of signature checks, and a valid one past them
    is not read."""
    header = "; ".join(["__Host-consent_gate=x.y.z"] * 5000 + [f"__Host-consent_gate={EVERYTHING}"])
    assert allowed(header) == set()


def test_the_prefixed_consent_cookie_is_never_a_refused_cookie() -> None:
    assert CookieRules(POLICY).category("__Host-consent_gate") is None
