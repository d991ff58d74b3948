"""The consent record and its signed cookie: anything untrustworthy reads as "undecided"."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous import URLSafeTimedSerializer

from consent_gate import Policy
from consent_gate.consent import ConsentCodec

POLICY = Policy(revision=2)


def codec(key: str | list[str] = "secret", policy: Policy = POLICY) -> ConsentCodec:
    return ConsentCodec(key, policy)


def test_round_trip_keeps_id_choices_revision_time_and_signals() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    consent = codec().decide({"analytics"}, signals={"dnt": "ignored"}, now=now)
    read = codec().loads(codec().dumps(consent))
    assert read.id == consent.id
    assert read.decided
    assert read.choices == {
        "necessary": True,
        "preferences": False,
        "analytics": True,
        "marketing": False,
    }
    assert read.revision == 2
    assert read.signals == {"dnt": "ignored"}
    assert read.decided_at is not None
    assert abs((read.decided_at - datetime.now(UTC)).total_seconds()) < 5  # signing time


def test_ids_are_random_per_decision() -> None:
    ids = {codec().decide(set()).id for _ in range(100)}
    assert len(ids) == 100


def test_cookie_is_compact() -> None:
    value = codec().dumps(codec().decide({"analytics", "marketing", "preferences"}))
    assert len(value) < 200


def test_undecided_allows_only_required_categories() -> None:
    undecided = codec().undecided
    assert not undecided.decided
    assert undecided.allows("necessary")
    assert undecided.refused == {"preferences", "analytics", "marketing"}


def _tampered(value: str) -> str:
    payload, rest = value.split(".", 1)
    return payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + rest


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "garbage",
        "a.b.c",
        "x" * 5000,
        "\u00ff\u00fe",
        "eyJhIjoxfQ.AAAAAA.signature",
    ],
)
def test_garbage_is_undecided(value: str | None) -> None:
    assert not codec().loads(value).decided


def test_tampered_cookie_is_undecided() -> None:
    value = codec().dumps(codec().decide({"analytics"}))
    assert not codec().loads(_tampered(value)).decided


def test_unknown_key_is_undecided() -> None:
    value = codec("other").dumps(codec("other").decide({"analytics"}))
    assert not codec().loads(value).decided


def test_rotated_keys_first_signs_all_verify() -> None:
    old_value = codec("old").dumps(codec("old").decide({"analytics"}))
    rotated = codec(["new", "old"])
    assert rotated.loads(old_value).allows("analytics")
    new_value = rotated.dumps(rotated.decide({"marketing"}))
    assert codec("new").loads(new_value).allows("marketing")
    assert not codec("old").loads(new_value).decided


def test_old_revision_is_undecided() -> None:
    value = codec(policy=Policy(revision=1)).dumps(codec(policy=Policy(revision=1)).decide(set()))
    assert not codec().loads(value).decided


def test_expired_cookie_is_undecided(monkeypatch: pytest.MonkeyPatch) -> None:
    value = codec().dumps(codec().decide({"analytics"}))
    later = datetime.now(UTC) + timedelta(seconds=POLICY.max_age + 60)
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later.timestamp())
    assert not codec().loads(value).decided


def test_a_cookie_read_before_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    reader = codec()  # one codec, as a gate keeps: it remembers the cookies it verified
    value = reader.dumps(reader.decide({"analytics"}))
    assert reader.loads(value).allows("analytics")
    for seconds in (POLICY.max_age + 60, -60):  # expired; signed in the future
        moved = (datetime.now(UTC) + timedelta(seconds=seconds)).timestamp()
        monkeypatch.setattr("time.time", lambda moved=moved: moved)
        assert not reader.loads(value).decided, seconds
    monkeypatch.undo()
    assert reader.loads(value).allows("analytics")


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"r": 2},
        {"i": 1, "r": 2, "a": []},
        {"i": "x", "r": 2, "a": "analytics"},
        {"i": "x", "r": 2, "a": [], "s": {"dnt": 1}},
        {"i": "x", "r": 2, "a": [], "s": []},
        {"i": "x", "r": 2, "a": [], "o": 2},
        {"i": "x", "r": 2, "a": [], "o": True},
        {"i": "x", "r": 2, "a": [], "o": "1"},
    ],
)
def test_well_signed_but_malformed_payload_is_undecided(payload: object) -> None:
    serializer = URLSafeTimedSerializer(
        b"secret", salt="consent-gate.consent", signer_kwargs={"digest_method": hashlib.sha256}
    )
    assert codec().loads(serializer.dumps({"i": "x", "r": 2, "a": []})).decided  # the control
    assert not codec().loads(serializer.dumps(payload)).decided


def test_unknown_categories_in_a_cookie_are_ignored() -> None:
    consent = codec().decide({"analytics"})
    value = codec().dumps(consent)
    fewer = Policy.from_dict({"revision": 2, "catalogue": False})
    assert codec(policy=fewer).loads(value).allows("analytics")


def test_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="secret_key"):
        ConsentCodec("", POLICY)
    with pytest.raises(ValueError, match="secret_key"):
        ConsentCodec([], POLICY)


def test_undecided_has_no_cookie() -> None:
    with pytest.raises(ValueError, match="undecided"):
        codec().dumps(codec().undecided)


def test_a_gpc_opt_out_of_an_undecided_visitor_is_kept_but_is_no_decision() -> None:
    opt_out = codec().opt_out(codec().undecided, frozenset({"marketing"}), {"gpc": "honoured"})
    assert opt_out.id is not None
    assert (opt_out.opt_out_only, opt_out.decided) == (True, False)
    assert opt_out.locked == {"marketing"}
    read = codec().loads(codec().dumps(opt_out))
    assert (read.id, read.opt_out_only, read.decided) == (opt_out.id, True, False)
    assert read.signals == {"gpc": "honoured"}
    assert read.refused == {"preferences", "analytics", "marketing"}


def test_a_gpc_opt_out_keeps_a_decided_visitors_other_choices_under_a_new_id() -> None:
    before = codec().decide({"analytics", "marketing"})
    opt_out = codec().opt_out(before, frozenset({"marketing"}), {"gpc": "honoured"})
    assert opt_out.id != before.id
    read = codec().loads(codec().dumps(opt_out))
    assert read.decided
    assert not read.opt_out_only
    assert {c for c in POLICY.optional_categories if read.allows(c)} == {"analytics"}


def test_cookies_made_before_opt_outs_existed_read_the_same() -> None:
    serializer = URLSafeTimedSerializer(
        b"secret", salt="consent-gate.consent", signer_kwargs={"digest_method": hashlib.sha256}
    )
    read = codec().loads(serializer.dumps({"i": "old", "r": 2, "a": ["analytics"]}))
    assert (read.id, read.decided, read.opt_out_only) == ("old", True, False)
    assert read.allows("analytics")
    assert "o" not in serializer.loads(codec().dumps(codec().decide({"analytics"})))
