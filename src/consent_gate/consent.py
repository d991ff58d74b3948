"""The visitor's decision and its signed-cookie codec.

The cookie carries everything needed to gate a response, so no request waits on storage. Anything
that fails to verify - tampered, expired, signed by an unknown key, made for another policy
revision, malformed or oversized - reads as "no decision", never as an error.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from typing import Literal, Protocol

from itsdangerous import BadData, URLSafeTimedSerializer

from ._types import Headers
from .cookies import HOST_PREFIX, set_cookie_header
from .errors import ConsentGateError
from .policy import Policy
from .refusal import Refusal
from .secret import signing_keys

__all__ = [
    "ACTIONS",
    "HOST_PREFIX",
    "Action",
    "Consent",
    "ConsentCodec",
    "ReadConsent",
    "TooManyServicesError",
]

Action = Literal["accept_all", "reject_all", "save", "withdraw"]
ACTIONS: tuple[Action, ...] = ("accept_all", "reject_all", "save", "withdraw")
_MAX_COOKIE = 2048
_VERIFIED = 1024  # cookie values whose verification is kept (at most _MAX_COOKIE bytes each)
_MAX_COPIES = 4  # consent cookies of one name verified per request; more are ignored


class TooManyServicesError(ConsentGateError, ValueError):
    """Per-service choices that would not fit in the consent cookie."""


@dataclass(frozen=True)
class Consent:
    """Which categories a visitor allows, and the services they decided apart from their
    category; `id` is None until they decide."""

    choices: Mapping[str, bool]
    revision: int
    id: str | None = None
    decided_at: datetime | None = None
    signals: Mapping[str, str] = field(default_factory=dict)
    # Categories an honoured opt-out signal (GPC) refuses: the visitor cannot allow them.
    locked: frozenset[str] = frozenset()
    # The cookie records a GPC opt-out only: the visitor has not decided the other categories.
    opt_out_only: bool = False
    # This request carries an opt-out no record holds yet: the gate records it once.
    unrecorded: bool = False
    # Services allowed (True) or refused (False) apart from their category's choice.
    services: Mapping[str, bool] = field(default_factory=dict)
    # Service id -> its category, the policy's: shared by every consent, never copied.
    catalogue: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def decided(self) -> bool:
        return self.id is not None and not self.opt_out_only

    def allows(self, category: str) -> bool:
        """Whether the visitor allows the category as a whole (services apart aside)."""
        return self.choices.get(category, False)

    def allows_service(self, service: str) -> bool:
        """Whether the visitor allows one service: their choice for it, else its category's.
        A service the policy does not know is not allowed."""
        category = self.catalogue.get(service)
        if category is None or category in self.locked:
            return False
        return self.services.get(service, self.allows(category))

    @property
    def recorded(self) -> dict[str, bool]:
        """What the consent log keeps: each category's choice, then each service decided apart
        from its category as "category/service"."""
        apart = {f"{self.catalogue.get(s, '')}/{s}": ok for s, ok in self.services.items()}
        return {**self.choices, **apart}

    @cached_property
    def state(self) -> tuple[object, ...]:
        """What a visitor's pages show and hold of this consent, without who decided when: the
        key of what the gate makes once per consent state (banner markup, CSP)."""
        return (
            self.decided,
            tuple(self.choices.items()),
            tuple(self.services.items()),
            self.locked,
            tuple(sorted(self.signals.items())),
        )

    @cached_property
    def refused(self) -> frozenset[str]:
        """The categories refused as a whole (some of their services may be allowed)."""
        return frozenset(c for c, allowed in self.choices.items() if not allowed)

    @cached_property
    def held(self) -> Refusal:
        """What the gate holds back for this visitor; an opt-out signal's lock beats a grant."""
        granted = frozenset(
            s for s, ok in self.services.items() if ok and self.catalogue.get(s) not in self.locked
        )
        denied = frozenset(s for s, ok in self.services.items() if not ok)
        return Refusal(
            self.refused,
            granted,
            denied,
            self.refused | {self.catalogue[s] for s in denied if s in self.catalogue},
        )


class ReadConsent(Protocol):
    """Reads a request's consent from its headers: the gate's `read`."""

    def __call__(self, headers: Headers, *, secure: bool) -> Consent: ...


class ConsentCodec:
    """Signs and verifies the consent cookie for one policy; keys rotate (first signs)."""

    def __init__(self, secret_key: str | bytes | Sequence[str | bytes], policy: Policy) -> None:
        keys = signing_keys(secret_key)
        # itsdangerous signs with the last key and verifies with all of them.
        self._serializer = URLSafeTimedSerializer(
            list(reversed(keys)),
            salt="consent-gate.consent",
            signer_kwargs={"digest_method": hashlib.sha256},
        )
        self._policy = policy
        self._required = {c.id: True for c in policy.categories if c.required}
        self._optional = frozenset(policy.optional_categories)
        self._catalogue = {s.id: s.category for s in policy.services}
        self.undecided = Consent(
            choices={**self._required, **dict.fromkeys(policy.optional_categories, False)},
            revision=policy.revision,
            catalogue=self._catalogue,
        )
        self._verified = lru_cache(maxsize=_VERIFIED)(self._verify)

    def decide(
        self,
        accepted: set[str] | frozenset[str],
        *,
        services: Mapping[str, bool] | None = None,
        signals: Mapping[str, str] | None = None,
        now: datetime | None = None,
    ) -> Consent:
        """A fresh decision with a new random id; never derived from the device. `services`:
        choices for single services; only those that differ from their category's are kept,
        and `TooManyServicesError` if they would not fit in the cookie."""
        optional = self._policy.optional_categories
        consent = Consent(
            choices={**self._required, **{c: c in accepted for c in optional}},
            revision=self._policy.revision,
            id=secrets.token_urlsafe(12),
            decided_at=(now or datetime.now(UTC)).replace(microsecond=0),
            signals=dict(signals or {}),
            services=self._apart(accepted, services or {}),
            catalogue=self._catalogue,
        )
        if consent.services and len(self.dumps(consent)) > _MAX_COOKIE:
            raise TooManyServicesError(
                f"{len(consent.services)} choices of single services do not fit in the consent "
                "cookie; choose whole categories instead"
            )
        return consent

    def _apart(self, accepted: Collection[str], services: Mapping[str, bool]) -> dict[str, bool]:
        """The known services of optional categories whose choice differs from their
        category's, in policy order."""
        return {
            s: services[s]
            for s, category in self._catalogue.items()
            if s in services
            and category in self._optional
            and services[s] != (category in accepted)
        }

    def opt_out(
        self, current: Consent, refused: frozenset[str], signals: Mapping[str, str]
    ) -> Consent:
        """A GPC opt-out of `refused` on top of `current`, with a new random id; a visitor who
        had not decided stays undecided about the rest."""
        allowed = {c for c in self._policy.optional_categories if current.allows(c)}
        kept = {s: ok for s, ok in current.services.items() if self._catalogue[s] not in refused}
        consent = self.decide(allowed - refused, services=kept, signals=signals)
        return replace(consent, locked=refused, opt_out_only=not current.decided)

    def dumps(self, consent: Consent) -> str:
        if consent.id is None:
            raise ValueError("an undecided consent has no cookie")
        payload: dict[str, object] = {
            "i": consent.id,
            "r": consent.revision,
            "a": [c for c in self._policy.optional_categories if consent.allows(c)],
        }
        if consent.signals:
            payload["s"] = dict(consent.signals)
        # Services apart from their category, only when there are any: a cookie without them
        # is byte for byte what it was before services could be chosen.
        if granted := [s for s, ok in consent.services.items() if ok]:
            payload["g"] = granted
        if denied := [s for s, ok in consent.services.items() if not ok]:
            payload["d"] = denied
        if consent.opt_out_only:
            payload["o"] = 1
        return self._serializer.dumps(payload)

    def cookie_name(self, *, secure: bool) -> str:
        """The consent cookie's name on an https (`secure`) or plain http site."""
        name = self._policy.cookie_name
        return HOST_PREFIX + name if secure else name

    def set_cookie(self, consent: Consent, *, secure: bool) -> bytes:
        """The Set-Cookie line that stores a decision."""
        return set_cookie_header(
            self.cookie_name(secure=secure),
            self.dumps(consent),
            max_age=self._policy.max_age,
            secure=secure,
        )

    def from_cookies(self, values: Sequence[str]) -> Consent:
        """The decision among every consent cookie a request carries.

        A browser sends two cookies of one name when one was set for a parent domain or a
        deeper path; the first is not trusted for being first. Invalid ones are ignored; of
        valid ones that disagree, the one allowing least wins if it allows no more than every
        other, else none does and the visitor is asked again.
        """
        if len(values) < 2:  # what nearly every request carries: no cookie, or one
            return self.loads(values[0]) if values else self.undecided
        found = [c for c in map(self.loads, values[:_MAX_COPIES]) if c is not self.undecided]
        if len(found) < 2:
            return found[0] if found else self.undecided
        allowed = [self._allowed(consent) for consent in found]
        least = min(range(len(found)), key=lambda i: len(allowed[i]))
        if all(allowed[least] <= other for other in allowed):
            return found[least]
        return self.undecided

    def loads(self, value: str | None) -> Consent:
        """The decision in a cookie value, or `undecided` if it cannot be trusted."""
        if not value or len(value) > _MAX_COOKIE:
            return self.undecided
        verified = self._verified(value)
        if verified is None:
            return self.undecided
        consent, signed = verified
        age = int(time.time()) - signed  # as itsdangerous judges it, on every request
        return consent if 0 <= age <= self._policy.max_age else self.undecided

    def _verify(self, value: str) -> tuple[Consent, int] | None:
        """A cookie value's decision and signing time, if its signature holds (the age is
        judged per request). Cached per value: a visitor sends the same cookie with every
        request, and verifying it (HMAC, base64, JSON) is most of what a request costs."""
        try:
            payload, signed_at = self._serializer.loads(value, return_timestamp=True)
        except (BadData, json.JSONDecodeError, UnicodeDecodeError):
            return None
        consent = self._from_payload(payload, signed_at)
        return None if consent is self.undecided else (consent, int(signed_at.timestamp()))

    def _from_payload(self, payload: object, signed_at: datetime) -> Consent:
        if not isinstance(payload, dict) or payload.get("r") != self._policy.revision:
            return self.undecided
        consent_id, accepted, signals = payload.get("i"), payload.get("a"), payload.get("s", {})
        if not isinstance(consent_id, str) or not isinstance(accepted, list):
            return self.undecided
        if not isinstance(signals, dict) or not all(isinstance(v, str) for v in signals.values()):
            return self.undecided
        opt_out_only = payload.get("o", 0)
        if opt_out_only not in (0, 1) or isinstance(opt_out_only, bool):
            return self.undecided
        granted, denied = payload.get("g", []), payload.get("d", [])
        if not _strings(granted) or not _strings(denied):
            return self.undecided
        optional = self._policy.optional_categories
        # A service the policy no longer has is dropped; so is a choice its category now makes.
        services = {**dict.fromkeys(denied, False), **dict.fromkeys(granted, True)}
        return Consent(
            choices={**self._required, **{c: c in accepted for c in optional}},
            revision=self._policy.revision,
            id=consent_id,
            decided_at=signed_at,
            signals=signals,
            opt_out_only=opt_out_only == 1,
            services=self._apart(accepted, services),
            catalogue=self._catalogue,
        )

    def _allowed(self, consent: Consent) -> frozenset[str]:
        """Every category and service a consent allows, to compare two of them."""
        categories = {c for c, ok in consent.choices.items() if ok}
        return frozenset(categories | {s for s in self._catalogue if consent.allows_service(s)})


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
