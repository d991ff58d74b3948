"""The keys that sign the consent cookie. Anyone who knows one can forge any visitor's consent,
so a mistyped argument fails naming it and a guessable key is warned about at start-up."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .errors import ConfigError, ConfigTypeError

__all__ = ["signing_keys", "weak_key_warnings"]

_MIN_LENGTH = 32  # characters (bytes for a bytes key): secrets.token_urlsafe(32) gives 43
_MIN_VARIETY = 10  # distinct characters: "aaaa..." or "abab..." is long but guessable
# Written as examples in docs and templates; compared with the key's letters and digits only.
_PLACEHOLDERS = ("changeme", "replaceme", "insecure", "placeholder", "yoursecret", "notsecret")
_WORDS = frozenset({"secret", "secretkey", "password", "key", "test", "dev", "default"})
_GENERATE = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
_HINT = "a string, e.g. os.environ['CONSENT_GATE_SECRET'], or a list of them, newest first"


def signing_keys(secret_key: object) -> list[bytes]:
    """The `secret_key` argument as keys, the first signing; a `ConfigTypeError` or
    `ConfigError` naming it."""
    keys = []
    for name, key in _named(secret_key):
        if not isinstance(key, str | bytes):
            raise ConfigTypeError(f"{name}: expected {_HINT}; got {type(key).__name__}")
        if not key:
            raise ConfigError(f"{name}: give a non-empty key ({_GENERATE})")
        keys.append(key.encode() if isinstance(key, str) else key)
    if not keys:
        raise ConfigError(f"secret_key: give at least one key ({_GENERATE})")
    return keys


def weak_key_warnings(secret_key: str | bytes | Sequence[str | bytes]) -> list[str]:
    """One warning per guessable key, naming it by position (`secret_key[1]`), never by value."""
    warnings = []
    for name, key in _named(secret_key):
        reasons = _weaknesses(key) if isinstance(key, str | bytes) else []
        if reasons:
            warnings.append(
                f"{name} is weak ({'; '.join(reasons)}): whoever guesses it can forge any "
                f"visitor's consent. Use a random one: {_GENERATE}"
            )
    return warnings


def _weaknesses(key: str | bytes) -> list[str]:
    """Why `key` could be guessed (nothing if it looks random). Never says what the key is."""
    found = []
    unit = "characters" if isinstance(key, str) else "bytes"
    if len(key) < _MIN_LENGTH:
        found.append(f"{len(key)} {unit}, fewer than {_MIN_LENGTH}")
    text = key if isinstance(key, str) else key.decode("latin-1")
    letters = re.sub(r"[^a-z0-9]", "", text.lower())
    if letters in _WORDS or any(word in letters for word in _PLACEHOLDERS):
        found.append("a well-known placeholder")
    if len(key) >= _MIN_LENGTH and len(set(key)) < _MIN_VARIETY:  # short says it already
        found.append(f"only {len(set(key))} distinct {unit}")
    return found


def _named(secret_key: object) -> list[tuple[str, object]]:
    """Each key with the name an error gives it: `secret_key`, or `secret_key[i]` in a list."""
    if isinstance(secret_key, str | bytes):
        return [("secret_key", secret_key)]
    if not isinstance(secret_key, Sequence):
        raise ConfigTypeError(f"secret_key: expected {_HINT}; got {type(secret_key).__name__}")
    return [(f"secret_key[{index}]", key) for index, key in enumerate(secret_key)]
