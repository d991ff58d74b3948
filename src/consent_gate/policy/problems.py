"""Mistakes in a policy, collected so that a file's are all reported in one go."""

from __future__ import annotations

from ..errors import ConfigError

__all__ = ["PolicyError", "Problems"]


class PolicyError(ConfigError):
    """A policy that cannot be used. The message starts with the first offending key; `problems`
    holds every (key, message) found, so a file's mistakes can be fixed in one go."""

    def __init__(self, key: str, message: str, *more: tuple[str, str]) -> None:
        self.key = key
        self.problems = ((key, message), *more)
        super().__init__("\n".join(f"{k}: {m}" for k, m in self.problems))


class Problems:
    """Collects a policy's problems instead of stopping at the first. One per key: a second
    problem at the same key is the first one's echo (a missing `category` is also unknown)."""

    def __init__(self) -> None:
        self._found: dict[str, str] = {}

    def add(self, key: str, message: str) -> None:
        self._found.setdefault(key, message)

    def merge(self, error: PolicyError) -> None:
        for key, message in error.problems:
            self.add(key, message)

    def raise_any(self) -> None:
        if self._found:
            first, *more = self._found.items()
            raise PolicyError(*first, *more)
