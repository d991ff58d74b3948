"""What a visitor's consent holds back, as every matcher asks it: by category, with per-service
exceptions either way ("Marketing off, but YouTube on"; "Analytics on, but not Hotjar").

It is hashable, so matchers, head scripts and CSP headers built for one refusal are cached.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Refusal"]


@dataclass(frozen=True)
class Refusal:
    """Refused categories, services granted inside them, services denied inside allowed ones."""

    categories: frozenset[str] = frozenset()
    granted: frozenset[str] = frozenset()
    denied: frozenset[str] = frozenset()
    # Categories with something held: the refused ones and those of denied services.
    touched: frozenset[str] = frozenset()

    @classmethod
    def of(cls, refused: Refusal | frozenset[str]) -> Refusal:
        """A refusal from a plain set of refused categories (no exceptions), or as it is."""
        if isinstance(refused, Refusal):
            return refused
        return cls(categories=refused, touched=refused)

    def __bool__(self) -> bool:
        return bool(self.categories or self.denied)

    def holds(self, category: str, service: str = "") -> bool:
        """Whether an element of `service` (in `category`) is held back; "" for no service."""
        if service in self.denied:
            return True
        return category in self.categories and service not in self.granted
