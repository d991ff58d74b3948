"""The package's own errors, one tree (as itsdangerous's `BadData`): `except ConsentGateError`
catches whatever the gate raises about itself. Each also keeps the built-in type it was before
the tree existed (a `PolicyError` is a `ValueError`, a `LogLocationError` an `OSError`), so
handlers written for those still catch it."""

from __future__ import annotations

__all__ = ["ConfigError", "ConfigTypeError", "ConsentGateError", "NotGatedError", "StorageError"]


class ConsentGateError(Exception):
    """Base of every error the gate raises about itself."""


class ConfigError(ConsentGateError, ValueError):
    """A setting or argument the gate cannot work with; the message starts with its name."""


class ConfigTypeError(ConsentGateError, TypeError):
    """An argument of the wrong type (`secret_key: expected a string, ... got NoneType`)."""


class StorageError(ConsentGateError):
    """The consent log cannot keep a decision, or cannot be kept where it was told."""


class NotGatedError(ConsentGateError, LookupError):
    """No consent where one was asked for: the app is not behind the gate (or runs as WSGI)."""
