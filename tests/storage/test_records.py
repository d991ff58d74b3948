"""Records: parsed user agents, truncated addresses, and the record id the journal gave."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from consent_gate.storage import Decision
from consent_gate.storage.records import device_of, truncate_ip

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.0 Mobile/15E148 Safari/604.1"
)


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        (FIREFOX, ("Firefox", "Linux", "pc", False)),
        (IPAD, ("Mobile Safari", "iOS", "tablet", False)),
        ("Googlebot/2.1 (+http://www.google.com/bot.html)", ("Googlebot", "Other", "bot", True)),
        ("", ("Other", "Other", "other", False)),
    ],
)
def test_device_of(agent: str, expected: tuple[str, str, str, bool]) -> None:
    assert device_of(agent) == expected


@pytest.mark.parametrize(
    ("client", "expected"),
    [
        ("198.51.100.23", "198.51.100.0"),
        ("2001:db8:1:2:3::4", "2001:db8:1::"),
        ("::ffff:198.51.100.23", "::"),
        ("not-an-ip", None),
        (None, None),
    ],
)
def test_truncate_ip(client: str | None, expected: str | None) -> None:
    assert truncate_ip(client) == expected


def test_a_decision_becomes_a_record_without_the_raw_user_agent() -> None:
    decision = Decision(
        consent_id="abc",
        decided_at=datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC),
        action="save",
        choices={"necessary": True, "analytics": False},
        revision=3,
        shown="v",
        signals={"dnt": "ignored"},
        page="/",
        method="form",
        user_agent=FIREFOX,
        client="198.51.100.23",
        max_age=86400,
        replaces="old",
    )
    record = decision.record("truncated", "0123456789abcdef01234567")
    assert record.record_id == "0123456789abcdef01234567"
    assert record.ip == "198.51.100.0"
    assert decision.record("off", "x").ip is None
    assert FIREFOX not in repr(record)
    assert record.expires_at == datetime(2026, 5, 2, 12, 0, 0, 123456, tzinfo=UTC)
    assert record.to_json()["decided_at"] == "2026-05-01T12:00:00.123456+00:00"
