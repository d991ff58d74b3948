"""One exception tree: `except ConsentGateError` catches whatever the gate raises about itself,
and each error is still the built-in type older handlers catch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from asgi_client import Client
from consent_gate import (
    ConfigError,
    ConsentGate,
    ConsentGateError,
    NotGatedError,
    Policy,
    PolicyError,
    StorageError,
    consent_of,
)
from consent_gate._types import Receive, Scope, Send
from consent_gate.storage import open_store
from consent_gate.storage.journal import Journal, JournalError
from consent_gate.storage.location import LogLocationError

KEY = "Xq3v9LrT0bN6sWf2JhK8pYzC4mDaE1gU7iO5"


async def _site(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


@pytest.mark.parametrize(
    ("arguments", "builtin"),
    [
        ({"secret_key": None}, TypeError),
        ({"secret_key": ""}, ValueError),
        ({"secret_key": KEY, "policy": 3}, TypeError),
        ({"secret_key": KEY, "store": 42}, TypeError),
        ({"secret_key": KEY, "store": "mysql://db/x"}, ValueError),
    ],
)
def test_a_wrong_argument_is_a_gate_error_and_its_builtin_type(
    arguments: dict[str, Any], builtin: type[Exception]
) -> None:
    with pytest.raises(ConsentGateError) as caught:
        ConsentGate(_site, **arguments)
    assert isinstance(caught.value, builtin)


def test_a_policy_with_mistakes_is_a_config_error_and_a_value_error() -> None:
    with pytest.raises(PolicyError) as caught:
        Policy.from_dict({"consent": {"dnt": "maybe"}})
    assert isinstance(caught.value, ConfigError)
    assert isinstance(caught.value, ValueError)


def test_an_unknown_dsn_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="use sqlite:///path"):
        open_store("mysql://db/x")


def test_a_log_that_cannot_be_written_is_a_storage_error_and_an_os_error(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where a directory should be")
    with pytest.raises(StorageError) as caught:
        ConsentGate(_site, KEY, store=f"sqlite:///{blocker}/consent.sqlite3")
    assert isinstance(caught.value, LogLocationError)
    assert isinstance(caught.value, OSError)


def test_a_decision_that_cannot_be_journaled_is_a_storage_error(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    journal.close()
    with pytest.raises(StorageError) as caught:
        journal.append(b"late")
    assert isinstance(caught.value, JournalError)


def test_consent_asked_of_an_ungated_request_is_a_lookup_error() -> None:
    with pytest.raises(NotGatedError) as caught:
        consent_of({"type": "http"})
    assert isinstance(caught.value, ConsentGateError)
    assert isinstance(caught.value, LookupError)


def test_a_request_that_cannot_be_acted_on_gets_its_message_not_a_500(client: Client) -> None:
    """The endpoints' own error (`RequestError`, in the tree too) reaches the client as a 400
    saying what is wrong; it never escapes to the server."""
    response = client.post("/consent-gate/consent", json={"action": "maybe"})
    assert response.status_code == 400
    assert "action" in response.text
