"""One consent record: what was decided, when, how, and what the visitor was shown.

A `Decision` is what the endpoint knew, made from its journaled `rows.Row` by the shipper (in its
own process when the log has a DSN), which turns it into a `ConsentRecord`, parsing the user agent
there. The raw user agent is never stored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal

__all__ = ["ConsentRecord", "Decision", "Shown", "device_of", "truncate_ip"]

IpMode = Literal["off", "truncated"]


@dataclass(frozen=True)
class Shown:
    """A banner/policy version as the visitor saw it, archived once under its hash."""

    hash: str
    banner: str
    policy: str


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """An append-only entry of the consent log (GDPR art. 7(1))."""

    record_id: str
    consent_id: str
    decided_at: datetime
    action: str  # accept_all, reject_all, save, withdraw, allow, gpc_opt_out
    choices: Mapping[str, bool]
    revision: int
    shown: str  # Shown.hash
    signals: Mapping[str, str]
    page: str
    method: str  # banner, form, preferences, placeholder, script, api, gpc-header, gpc-js
    browser: str
    os: str
    device: str  # pc, mobile, tablet, bot, other
    bot: bool
    ip: str | None
    expires_at: datetime
    replaces: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["decided_at"] = self.decided_at.isoformat()
        data["expires_at"] = self.expires_at.isoformat()
        data["choices"] = dict(self.choices)
        data["signals"] = dict(self.signals)
        return data


@dataclass(slots=True)
class Decision:
    """A decision as the endpoint saw it, before the writer makes it a record."""

    consent_id: str
    decided_at: datetime
    action: str
    choices: Mapping[str, bool]
    revision: int
    shown: str
    signals: Mapping[str, str]
    page: str
    method: str
    user_agent: str
    client: str | None
    max_age: int
    replaces: str | None = None

    def record(self, ip: IpMode, record_id: str) -> ConsentRecord:
        """`record_id`: the journal's, fixed when the decision was journaled, so a replay makes
        the same record and the store keeps it once."""
        browser, os, device, bot = device_of(self.user_agent)
        decided_at = self.decided_at
        if decided_at.tzinfo is not UTC:
            decided_at = decided_at.astimezone(UTC)
        return ConsentRecord(
            record_id=record_id,
            consent_id=self.consent_id,
            decided_at=decided_at,
            action=self.action,
            choices=self.choices,  # the consent's own mappings, never changed after a decision
            revision=self.revision,
            shown=self.shown,
            signals=self.signals,
            page=self.page,
            method=self.method,
            browser=browser,
            os=os,
            device=device,
            bot=bot,
            ip=truncate_ip(self.client) if ip == "truncated" else None,
            expires_at=decided_at + timedelta(seconds=self.max_age),
            replaces=self.replaces,
        )


@lru_cache(maxsize=2048)
def device_of(user_agent: str) -> tuple[str, str, str, bool]:
    """(browser family, OS family, device class, bot) - parsing costs ~1 ms, so it is cached."""
    import user_agents  # its regexes take ~0.2 s to load: only the log's writer needs them

    parsed = user_agents.parse(user_agent[:1024])
    if parsed.is_bot:
        device = "bot"
    elif parsed.is_tablet:
        device = "tablet"
    elif parsed.is_mobile:
        device = "mobile"
    elif parsed.is_pc:
        device = "pc"
    else:
        device = "other"
    return str(parsed.browser.family), str(parsed.os.family), device, bool(parsed.is_bot)


def truncate_ip(client: str | None) -> str | None:
    """The network, not the host: IPv4 to /24, IPv6 to /48."""
    if not client:
        return None
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)
