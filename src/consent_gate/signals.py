"""Browser privacy signals: Global Privacy Control (honoured by default) and Do Not Track.

`Sec-GPC: 1` is an opt-out of sale/sharing: the policy's sale/sharing categories are refused at
the first byte whatever the cookie says, and the visitor cannot allow them while the signal is
on. It never counts as consent to anything. The first page view that carries it writes one
"gpc_opt_out" record and a cookie that remembers it, so later page views are not recorded again;
a client that drops the cookie spends a budget of records per minute, then records nothing.
DNT changes nothing unless the policy honours it; every decision records which signals were
present and how each was treated.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from . import evidence
from ._types import Headers, Receive, Scope, Send
from .consent import Consent, ConsentCodec
from .http import header, whole_path
from .policy import Policy
from .storage.journal import JournalError

if TYPE_CHECKING:
    from .storage.log import ConsentLog

__all__ = ["WELL_KNOWN", "PrivacySignals"]

WELL_KNOWN = "/.well-known/gpc.json"


class PrivacySignals:
    """Reads DNT and GPC off a request and applies the policy's stance on each."""

    def __init__(self, policy: Policy, codec: ConsentCodec, log: ConsentLog | None) -> None:
        self.policy = policy
        self.codec = codec
        self.log = log
        self.gpc_honoured = policy.gpc.stance == "honour"
        self.dnt_honoured = policy.dnt == "honour"
        self.sale_sharing = frozenset(policy.gpc.sale_sharing)
        document: dict[str, object] = {"gpc": self.gpc_honoured}
        if policy.gpc.last_update:
            document["lastUpdate"] = policy.gpc.last_update
        self._well_known = json.dumps(document).encode()
        self._budget = evidence.Budget(policy.log.per_minute, "GPC opt-outs")

    def present(self, headers: Headers, gpc_reported: bool = False) -> dict[str, str]:
        """The signals present on a request, and how each was treated: what a record keeps.
        `gpc_reported`: banner.js saw `navigator.globalPrivacyControl` (a proxy may strip
        the header)."""
        found: dict[str, str] = {}
        if header(headers, b"dnt") == b"1":
            found["dnt"] = "honoured" if self.policy.dnt == "honour" else "ignored"
        if gpc_reported or _gpc(header(headers, b"sec-gpc")):
            found["gpc"] = "honoured" if self.gpc_honoured else "ignored"
        return found

    def apply(self, consent: Consent, first: Mapping[bytes, bytes]) -> Consent:
        """The consent that gates this request: the cookie's, with honoured signals applied.
        `first`: the first value of each of the request's header names."""
        if self.dnt_honoured and not consent.decided and first.get(b"dnt") == b"1":
            consent = replace(consent, signals={**consent.signals, "dnt": "honoured"})
        if not self.gpc_honoured:
            return consent
        if not _gpc(first.get(b"sec-gpc")):
            return consent
        refused = self.sale_sharing
        return replace(
            consent,
            choices={c: allowed and c not in refused for c, allowed in consent.choices.items()},
            signals={**consent.signals, "gpc": "honoured"},
            locked=refused,
            unrecorded=consent.signals.get("gpc") != "honoured",
        )

    def record_opt_out(self, consent: Consent, scope: Scope, lang: str | None) -> bytes | None:
        """Record the opt-out a page request carried; the Set-Cookie line that remembers it.

        None when the client's budget of records is spent, or the log cannot take the record
        (a full disk): a script that never keeps the cookie would otherwise write a record per
        request. Nothing is lost by waiting - the header refuses the sale/sharing categories on
        every request it is sent with - and the visitor's opt-out is recorded on a later page
        view.
        """
        headers: Headers = scope["headers"]
        opt_out = self.codec.opt_out(consent, self.sale_sharing, self.present(headers))
        if self.log is not None:
            if not self._budget.allow(scope):
                return None
            client = scope.get("client")
            try:
                self.log.record(
                    opt_out,
                    action="gpc_opt_out",
                    method="gpc-header",
                    page=evidence.page(whole_path(scope)),
                    previous=consent,
                    headers=evidence.headers(headers),
                    client=client[0] if client else None,
                    lang=lang,
                )
            except JournalError:  # logged by the log; the signal still applies to this page
                return None
        return self.codec.set_cookie(opt_out, secure=scope.get("scheme") == "https")

    @property
    def served(self) -> str | None:
        """The path of the GPC support resource the gate answers, if it does."""
        return WELL_KNOWN if self.gpc_honoured else None

    async def well_known(self, scope: Scope, receive: Receive, send: Send) -> None:
        """`/.well-known/gpc.json` (GPC spec section 3.5): this site honours the signal."""
        method = scope["method"]
        if method in ("GET", "HEAD"):
            status, media, body = 200, b"application/json", self._well_known
            extra = [(b"cache-control", b"max-age=86400")]
        else:
            status, media, body = 405, b"text/plain; charset=utf-8", b"Method not allowed"
            extra = [(b"allow", b"GET, HEAD")]
        headers = [(b"content-type", media), (b"content-length", str(len(body)).encode()), *extra]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})


def _gpc(value: bytes | None) -> bool:
    return value is not None and value.strip() == b"1"
