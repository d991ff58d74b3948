"""Module attributes that import on first use (PEP 562).

Installing the package registers a pytest plugin, so any import of it happens in projects that
may never use the gate: a package `__init__` names what it offers and loads none of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` taking each name from its module in `homes` (relative to
    `package`), and keeping it in the package's namespace once loaded."""

    def get(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = import_module(package)
        try:
            value = getattr(import_module(home, package), name)
        except AttributeError as error:
            # Raised while importing, it would read as "no such attribute" and hide its cause.
            raise ImportError(f"importing {package}.{name} failed: {error}") from error
        setattr(module, name, value)
        return value

    return get
