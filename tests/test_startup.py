"""Building the gate: arguments that fail naming themselves, a warning for a guessable key, one
line saying what the gate does, and a consent log that cannot be written failing at once."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from consent_gate import ConsentGate, Policy
from consent_gate._types import Receive, Scope, Send
from consent_gate.storage.location import LogLocationError

KEY = "Xq3v9LrT0bN6sWf2JhK8pYzC4mDaE1gU7iO5"  # 36 characters, random
ADVICE = (
    "whoever guesses it can forge any visitor's consent. Use a random one: "
    "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
)


async def _site(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _policy_file(tmp_path: Path, text: str = "revision = 7\n") -> Path:
    path = tmp_path / "consent.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("secret_key", "error", "message"),
    [
        (None, TypeError, r"^secret_key: expected a string, .*; got NoneType$"),
        (42, TypeError, r"^secret_key: .*; got int$"),
        ([KEY, None], TypeError, r"^secret_key\[1\]: .*; got NoneType$"),
        ("", ValueError, r"^secret_key: give a non-empty key"),
        ([], ValueError, r"^secret_key: give at least one key"),
    ],
)
def test_a_missing_or_mistyped_key_fails_naming_secret_key(
    secret_key: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        ConsentGate(_site, secret_key=secret_key)


def test_policy_may_be_the_path_of_its_file(tmp_path: Path) -> None:
    path = _policy_file(tmp_path)
    assert ConsentGate(_site, KEY, policy=path).policy.revision == 7
    assert ConsentGate(_site, KEY, policy=str(path)).policy.revision == 7


@pytest.mark.parametrize("policy", [{"revision": 2}, b"consent.toml", 3])
def test_any_other_policy_fails_naming_policy(policy: Any) -> None:
    with pytest.raises(TypeError, match=r"^policy: expected a Policy or the path of a TOML file"):
        ConsentGate(_site, KEY, policy=policy)


def test_a_policy_file_with_mistakes_fails_with_all_of_them(tmp_path: Path) -> None:
    path = _policy_file(tmp_path, '[consent]\ndnt = "maybe"\n[csp]\nmode = "strict"\n')
    with pytest.raises(ValueError, match=r"^consent\.dnt: .*\ncsp\.mode: "):
        ConsentGate(_site, KEY, policy=path)


@pytest.mark.parametrize(
    ("store", "error", "message"),
    [
        (42, TypeError, r"^store: expected a DSN .*, got int$"),
        (Path("log.sqlite3"), TypeError, r"^store: .*, got PosixPath$"),
        ("log.sqlite3", ValueError, r"^store: 'log.sqlite3' is not 'sqlite:///path'"),
        ("mysql://u:hunter2@db/x", ValueError, r"^store: 'mysql://u:\*\*\*@db/x' is not"),
    ],
)
def test_a_wrong_store_fails_naming_store(store: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        ConsentGate(_site, KEY, store=store)


@pytest.mark.parametrize(
    ("secret_key", "reasons"),
    [
        ("change-me", ["9 characters, fewer than 32", "a well-known placeholder"]),
        (b"secret", ["6 bytes, fewer than 32", "a well-known placeholder"]),
        ("please-change-me-to-something-long-1", ["a well-known placeholder"]),
        ("django-insecure-" + KEY, ["a well-known placeholder"]),
        ("ab" * 20, ["only 2 distinct characters"]),
        (b"\x00" * 32, ["only 1 distinct bytes"]),
        ("0123456789abcdefghij" * 2, []),
        (KEY, []),
    ],
)
def test_a_guessable_key_is_warned_about_without_showing_it(
    secret_key: str | bytes, reasons: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="consent_gate"):
        ConsentGate(_site, secret_key=secret_key)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    if not reasons:
        assert warnings == []
        return
    # The whole line, so the key is not in it.
    assert warnings == [f"consent_gate: secret_key is weak ({'; '.join(reasons)}): {ADVICE}"]


def test_each_weak_key_of_a_rotation_is_named_by_position(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="consent_gate"):
        ConsentGate(_site, secret_key=[KEY, "old-key"])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"consent_gate: secret_key[1] is weak (7 characters, fewer than 32): {ADVICE}"
    ]


def test_one_line_says_what_the_gate_does(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _policy_file(tmp_path, '[csp]\nmode = "enforce"\n[consent]\ndnt = "honour"\n')
    with caplog.at_level(logging.INFO, logger="consent_gate"):
        ConsentGate(_site, KEY, policy=path, store="postgresql://app:hunter2@db.internal/site")
    lines = [r.getMessage() for r in caplog.records if r.name == "consent_gate"]
    assert [r.levelno for r in caplog.records if r.name == "consent_gate"] == [logging.INFO]
    assert lines[0].startswith(
        "consent_gate: active, endpoints under /consent-gate; policy revision 1; CSP enforce; "
        "Do Not Track honoured; Global Privacy Control honoured for marketing; consent log to "
        "postgresql://app:***@db.internal/site, journal in "
    )
    assert "hunter2" not in lines[0]
    caplog.clear()
    off = _policy_file(tmp_path, "revision = 3\n[log]\nenabled = false\n")
    with caplog.at_level(logging.INFO, logger="consent_gate"):
        ConsentGate(_site, KEY, policy=off)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "consent_gate"]
    assert "; policy revision 3; CSP report-only; " in line
    assert line.endswith("; consent log off")


def _log_policy(**log: str) -> Policy:
    return Policy.from_dict({"log": log})


def test_a_sqlite_file_that_cannot_be_made_fails_at_once_naming_the_setting(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where a directory should be")
    dsn = f"sqlite:///{blocker}/consent.sqlite3"
    with pytest.raises(LogLocationError, match=rf"^\[log\] dsn: .*: {re.escape(str(blocker))} is"):
        ConsentGate(_site, KEY, policy=_log_policy(dsn=dsn))
    with pytest.raises(LogLocationError, match=r"^store: "):
        ConsentGate(_site, KEY, store=dsn)
    journal = tmp_path / "journal"
    with pytest.raises(LogLocationError, match=r"^\[log\] dsn: cannot write .* file "):
        ConsentGate(_site, KEY, policy=_log_policy(dsn=dsn, journal=str(journal)))
    assert not journal.exists()  # checking creates nothing
    with pytest.raises(LogLocationError, match=r"^store: .*: it is a directory$"):
        ConsentGate(_site, KEY, store=f"sqlite:///{tmp_path}")


def test_a_journal_directory_that_cannot_be_made_fails_at_once_naming_the_setting(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "journal"
    blocker.write_text("")
    policy = _log_policy(dsn=f"sqlite:///{tmp_path}/log.sqlite3", journal=str(blocker))
    with pytest.raises(LogLocationError, match=r"^\[log\] journal: .*: it is not a directory$"):
        ConsentGate(_site, KEY, policy=policy)
    policy = _log_policy(dsn="postgresql://db/site", journal=f"{blocker}/deeper")
    with pytest.raises(LogLocationError, match=r"^\[log\] journal: .* is a file, not a directory"):
        ConsentGate(_site, KEY, policy=policy)
    usable = _log_policy(dsn=f"sqlite:///{tmp_path}/new/log.sqlite3", journal=f"{tmp_path}/j/k")
    assert ConsentGate(_site, KEY, policy=usable).log is not None
    assert not (tmp_path / "new").exists()


def test_a_consent_log_that_cannot_start_stops_uvicorn_from_serving(tmp_path: Path) -> None:
    """uvicorn's default lifespan mode takes an exception at start-up for an app without
    lifespan support and serves anyway; the gate says the start-up failed instead."""
    server = f"""
import pathlib, uvicorn
from starlette.applications import Starlette
from consent_gate import ConsentGate

gate = ConsentGate(Starlette(), secret_key={KEY!r}, store="sqlite:///{tmp_path}/log.sqlite3")
pathlib.Path("{tmp_path}/log.sqlite3.journal").write_text("a file where the journal goes")
uvicorn.run(gate, port=0, lifespan="auto")
"""
    try:
        done = subprocess.run(
            [sys.executable, "-c", server], capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        pytest.fail("uvicorn started serving with a consent log that cannot start")

    assert done.returncode == 3  # uvicorn's start-up failure
    assert "the consent log cannot start" in done.stderr
    assert "appears unsupported" not in done.stderr
