"""The demo's "third-party tracker": a second origin that records everything it is sent.

It plays an analytics vendor (t.js and its /collect beacon), an ad network (pixel.gif and a
"partner video" at /embed, both setting a cookie of their own) and a fingerprinting service
(fp.js). It is deliberately NOT behind the gate: it is the other side, and its dashboard at `/`
shows what a tracker learns about a visitor of the site, and that it learns nothing before the
visitor consents.

Hits are kept in memory (the last 1000); `/hits.json` serves them newest first.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

__all__ = ["KINDS", "MAX_HITS", "PIXEL_GIF", "Hit", "HitLog", "create_tracker"]

HERE = Path(__file__).resolve().parent
MAX_HITS = 1000
MAX_BODY = 16 * 1024
MAX_FIELD = 300
MAX_DETAILS = 24
PARTNER_COOKIE = "_partner_uid"
PARTNER_COOKIE_MAX_AGE = 365 * 86400
# Kinds of hit, in the order the dashboard shows their counters.
KINDS = ("pageview", "event", "fingerprint", "pixel", "embed", "script")
_BEACON_KINDS = frozenset({"pageview", "event", "fingerprint"})
_NO_STORE = {"cache-control": "no-store"}

PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
"""A real 1x1 transparent GIF."""


@dataclass(frozen=True)
class Hit:
    """One request the tracker received, and what it learned from it."""

    id: int
    time: float
    kind: str
    page: str
    """The page the hit is about: the URL a script reported, else the Referer header."""
    referrer: str
    """Where the visitor came from before that page (document.referrer, from scripts)."""
    cookies: str
    """The Cookie header of the request: what the browser handed this origin by itself."""
    fingerprint: str
    user_agent: str
    first_party: Mapping[str, str] = field(default_factory=dict)
    """First-party cookie values a script read on the site and sent along (like GA's cid)."""
    details: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": self.time,
            "at": datetime.fromtimestamp(self.time, UTC).isoformat(timespec="milliseconds"),
            "kind": self.kind,
            "page": self.page,
            "referrer": self.referrer,
            "cookies": self.cookies,
            "fingerprint": self.fingerprint,
            "user_agent": self.user_agent,
            "first_party": dict(self.first_party),
            "details": dict(self.details),
        }


class HitLog:
    """The last `limit` hits, with counters per kind since the last clear; thread-safe."""

    def __init__(self, limit: int = MAX_HITS) -> None:
        self._hits: deque[Hit] = deque(maxlen=limit)
        self._counts: Counter[str] = Counter()
        self._next_id = 1
        self._lock = threading.Lock()

    def record(
        self,
        kind: str,
        *,
        page: str = "",
        referrer: str = "",
        cookies: str = "",
        fingerprint: str = "",
        user_agent: str = "",
        first_party: Mapping[str, str] | None = None,
        details: Mapping[str, str] | None = None,
    ) -> Hit:
        with self._lock:
            hit = Hit(
                id=self._next_id,
                time=time.time(),
                kind=kind,
                page=page,
                referrer=referrer,
                cookies=cookies,
                fingerprint=fingerprint,
                user_agent=user_agent,
                first_party=dict(first_party or {}),
                details=dict(details or {}),
            )
            self._next_id += 1
            self._hits.append(hit)
            self._counts[kind] += 1
        return hit

    @property
    def hits(self) -> list[Hit]:
        """The kept hits, oldest first."""
        with self._lock:
            return list(self._hits)

    def of_kind(self, kind: str) -> list[Hit]:
        return [hit for hit in self.hits if hit.kind == kind]

    @property
    def counts(self) -> dict[str, int]:
        """Hits per kind since the last clear (also those no longer kept)."""
        with self._lock:
            return dict(self._counts)

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()
            self._counts.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._hits)

    def snapshot(self) -> dict[str, Any]:
        """What /hits.json serves: counters and the kept hits, newest first."""
        with self._lock:
            hits = list(self._hits)
            counts = dict(self._counts)
        return {
            "total": sum(counts.values()),
            "counts": {kind: counts.get(kind, 0) for kind in KINDS}
            | {k: v for k, v in counts.items() if k not in KINDS},
            "kept": len(hits),
            "limit": self._hits.maxlen,
            "hits": [hit.to_json() for hit in reversed(hits)],
        }


def create_tracker(log: HitLog | None = None) -> Starlette:
    """The tracker app; its hits go to `log` (also available as `app.state.log`)."""
    hits = log if log is not None else HitLog()
    dashboard = (HERE / "tracker_static" / "dashboard.html").read_text("utf-8")
    scripts = {
        name: (HERE / "tracker_static" / name).read_text("utf-8") for name in ("t.js", "fp.js")
    }

    def seen(request: Request, kind: str, **extra: Any) -> Hit:
        extra.setdefault("page", request.headers.get("referer", ""))
        return hits.record(
            kind,
            cookies=request.headers.get("cookie", ""),
            user_agent=request.headers.get("user-agent", ""),
            **extra,
        )

    async def index(request: Request) -> Response:
        return HTMLResponse(dashboard, headers=_NO_STORE)

    async def hits_json(request: Request) -> Response:
        return JSONResponse(hits.snapshot(), headers=_NO_STORE)

    async def clear(request: Request) -> Response:
        hits.clear()
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse({"cleared": True}, headers=_NO_STORE)
        return RedirectResponse("/", status_code=303)

    async def script(request: Request) -> Response:
        name = request.url.path.lstrip("/")
        seen(request, "script", details={"script": name})
        origin = str(request.base_url).rstrip("/")
        body = scripts[name].replace("__TRACKER_ORIGIN__", json.dumps(origin))
        return Response(body, media_type="application/javascript", headers=_NO_STORE)

    async def pixel(request: Request) -> Response:
        details = _clean(dict(request.query_params))
        seen(request, "pixel", details=details)
        response = Response(PIXEL_GIF, media_type="image/gif", headers=_NO_STORE)
        _partner_cookie(request, response)
        return response

    async def embed(request: Request) -> Response:
        seen(request, "embed", details=_clean(dict(request.query_params)))
        response = HTMLResponse(_EMBED_PAGE, headers=_NO_STORE)
        _partner_cookie(request, response)
        return response

    async def collect(request: Request) -> Response:
        if request.method == "POST":
            body = await request.body()
            if len(body) > MAX_BODY:
                return JSONResponse({"error": "body too large"}, status_code=413)
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                return JSONResponse({"error": "send a JSON object"}, status_code=400)
            if not isinstance(data, dict):
                return JSONResponse({"error": "send a JSON object"}, status_code=400)
        else:
            query = request.query_params
            data = {
                "kind": query.get("kind", "pageview"),
                "url": query.get("dl", ""),
                "referrer": query.get("dr", ""),
                "fp": query.get("fp", ""),
                "cookies": {"_demo_id": query["cid"]} if "cid" in query else {},
                "details": {k: v for k, v in query.items() if k not in ("dl", "dr", "fp", "cid")},
            }
        kind = data.get("kind")
        seen(
            request,
            kind if kind in _BEACON_KINDS else "event",
            page=_text(data.get("url")) or request.headers.get("referer", ""),
            referrer=_text(data.get("referrer")),
            fingerprint=_text(data.get("fp")),
            first_party=_clean(data.get("cookies")),
            details=_clean(data.get("details")),
        )
        return Response(status_code=204, headers=_NO_STORE)

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/hits.json", hits_json),
            Route("/clear", clear, methods=["POST"]),
            Route("/t.js", script),
            Route("/fp.js", script),
            Route("/pixel.gif", pixel),
            Route("/embed", embed),
            Route("/collect", collect, methods=["GET", "POST"]),
        ],
        middleware=[
            # Real collection endpoints answer any site, credentials included.
            Middleware(
                CORSMiddleware,
                allow_origin_regex=r"https?://.*",
                allow_credentials=True,
                allow_methods=["GET", "POST"],
                allow_headers=["content-type"],
                max_age=600,
            )
        ],
    )
    app.state.log = hits
    return app


def _partner_cookie(request: Request, response: Response) -> None:
    """The ad network's own id cookie, like Meta's `fr`, set from the pixel and the embed."""
    uid = request.cookies.get(PARTNER_COOKIE) or "P1." + secrets.token_hex(6)
    response.set_cookie(
        PARTNER_COOKIE, uid, max_age=PARTNER_COOKIE_MAX_AGE, path="/", samesite="lax"
    )


def _text(value: object) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value)
    return text[:MAX_FIELD]


def _clean(value: object) -> dict[str, str]:
    """A small str -> str mapping from untrusted input; anything else becomes empty."""
    if not isinstance(value, dict):
        return {}
    return {str(k)[:64]: _text(v) for k, v in list(value.items())[:MAX_DETAILS]}


_EMBED_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Partner video</title>
<style>
html,body{margin:0;height:100%;font:15px/1.4 system-ui,sans-serif}
body{display:flex;flex-direction:column;align-items:center;justify-content:center;
background:linear-gradient(135deg,#1e3a8a,#7c3aed);color:#fff;text-align:center}
.play{width:72px;height:72px;border-radius:50%;background:rgba(255,255,255,.9);color:#7c3aed;
font-size:34px;line-height:72px;margin-bottom:12px}
small{opacity:.8}
</style></head>
<body><div class="play" aria-hidden="true">&#9654;</div>
<strong>Widget Pro in action</strong>
<small>Partner video, presented by Demo Ads. This player just set a tracking cookie.</small>
</body></html>
"""
