"""Rows: what the request's thread captures becomes the same decision the endpoint used to make."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from types import MappingProxyType

import pytest
from test_writer import _row

from consent_gate import Policy
from consent_gate.banner import Banner
from consent_gate.cookies import CookieRules
from consent_gate.storage.log import shown_version
from consent_gate.storage.rows import Rows, dump_row, load_row

POLICY = Policy.default()
BANNER = Banner(POLICY, CookieRules(POLICY))
SHOWN = {lang: shown_version(lang, {}) for lang in [BANNER.default_lang, *BANNER.languages]}
ROWS = Rows(SHOWN, BANNER.languages, BANNER.default_lang, POLICY.max_age)


@pytest.mark.parametrize(
    "accept_language", [None, b"", b"de-AT,de;q=0.9", b"fr-CH, en;q=0.5", b"*", b"xx, zz;q=0.1"]
)
def test_the_language_is_negotiated_as_the_banner_does(accept_language: bytes | None) -> None:
    row = (*_row(1)[:5], accept_language, *_row(1)[6:])
    expected = SHOWN[BANNER.language(accept_language)].hash
    assert ROWS.decision(row).shown == expected
    assert ROWS.decision(row).shown == expected  # cached


def test_a_known_language_is_taken_as_it_is() -> None:
    row = (*_row(1)[:5], "de", *_row(1)[6:])
    assert ROWS.decision(row).shown == SHOWN["de"].hash


def test_the_time_is_the_clock_s_to_the_microsecond() -> None:
    ns = time.time_ns()
    row = (_row(1)[0], ns, *_row(1)[2:])
    decided = ROWS.decision(row).decided_at
    assert decided.tzinfo is UTC
    assert decided == datetime.fromtimestamp(ns // 1000 // 10**6, UTC).replace(
        microsecond=ns // 1000 % 10**6
    )


def test_the_raw_inputs_become_the_decision_s_fields() -> None:
    row = (
        "c1", 0, "save", {"analytics": True}, 3, "en", {"gpc": "honoured"}, "/shop", "banner",
        b"Mozilla/5.0 \xe9", "192.0.2.7", "c0",
    )  # fmt: skip
    decision = ROWS.decision(row)
    assert (decision.consent_id, decision.action, decision.revision) == ("c1", "save", 3)
    assert (decision.page, decision.method, decision.replaces) == ("/shop", "banner", "c0")
    assert decision.choices == {"analytics": True}
    assert decision.signals == {"gpc": "honoured"}
    assert decision.user_agent == "Mozilla/5.0 \xe9"  # latin-1, as headers are decoded
    assert decision.client == "192.0.2.7"
    assert decision.max_age == POLICY.max_age


def test_a_row_survives_the_journal_even_with_mappings_that_are_not_dicts() -> None:
    plain = _row(1)
    odd = (*plain[:3], MappingProxyType({"analytics": False}), *plain[4:])
    assert load_row(dump_row(plain)) == plain
    assert load_row(dump_row(odd)) == (*odd[:3], {"analytics": False}, *odd[4:])


@pytest.mark.parametrize(
    "payload",
    [b"", b"\x00garbage", dump_row(_row(1))[:-3]],
    ids=["empty", "garbage", "cut-short"],  # a row holds the time: ids must not
)
def test_what_is_no_row_is_an_error_not_a_crash(payload: bytes) -> None:
    with pytest.raises((ValueError, EOFError, TypeError)):
        load_row(payload)


def test_a_value_of_the_wrong_shape_is_no_row() -> None:
    import marshal

    with pytest.raises(ValueError, match="not a decision row"):
        load_row(marshal.dumps(("c1", 0)))
