"""Record and stub every third-party request a page makes.

The point of a consent gate is that trackers do not load before consent, so
browser tests need to see exactly which third-party requests the browser
*attempted*. The recorder logs each one and answers it with a local stub, so
tests never touch the real network and tracker scripts still "run" visibly
(they push their URL onto ``window.__cgTrackerRuns`` and may set cookies).
"""

from __future__ import annotations

import contextlib
import json
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from playwright import sync_api
    from playwright.sync_api import BrowserContext, Request, Route, WebSocketRoute

__all__ = ["TRANSPARENT_GIF", "Hit", "TrackerRecorder", "origin_of", "recorder_of"]

_T = TypeVar("_T")

TRANSPARENT_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
"""A valid 1x1 transparent GIF, so tracking pixels fire ``onload`` like the real thing."""

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_NETWORK_SCHEMES = frozenset(_DEFAULT_PORTS)
_SCRIPT_SUFFIXES = (".js", ".mjs")
_IMAGE_SUFFIXES = (".gif", ".png", ".jpg", ".jpeg", ".webp", ".ico", ".svg")


def origin_of(url: str) -> str | None:
    """Normalised ``scheme://host:port`` of a network URL, None for data:, blob: etc."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _NETWORK_SCHEMES or not parts.hostname:
        return None
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:  # malformed port: no origin a browser could reach
        return None
    # Treat ws(s) like http(s): a first-party websocket shares the page's origin.
    scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    return f"{scheme}://{parts.hostname.lower()}:{port}"


def _host_matches(host: str, suffix: str) -> bool:
    suffix = suffix.lower().lstrip(".")
    return host == suffix or host.endswith("." + suffix)


@dataclass(frozen=True)
class Hit:
    """One third-party request the browser attempted."""

    url: str
    host: str
    method: str
    resource_type: str
    page_url: str
    post_data: str | None
    time: float
    """Wall-clock seconds (``time.time()``) when the recorder saw the request."""


class TrackerRecorder:
    """Stub and log all non-first-party requests of a Playwright (sync) context.

    ``origins`` are the site's own origins, e.g. ``["http://127.0.0.1:8123"]``;
    everything else is third-party. ``scripts`` and ``cookies`` map a host suffix
    (``"googletagmanager.com"`` matches ``www.googletagmanager.com``) to extra
    JavaScript for stubbed scripts from that host and to ``document.cookie``
    strings those scripts set; the longest matching suffix wins.
    """

    def __init__(
        self,
        origins: Iterable[str],
        *,
        scripts: Mapping[str, str] | None = None,
        cookies: Mapping[str, Sequence[str]] | None = None,
        stub: bool = True,
        passthrough: Iterable[str] = (),
    ) -> None:
        self.origins: frozenset[str] = frozenset(
            o for o in (origin_of(url) for url in origins) if o is not None
        )
        if not self.origins:
            raise ValueError("TrackerRecorder needs at least one http(s) first-party origin")
        self.scripts: dict[str, str] = dict(scripts or {})
        self.cookies: dict[str, list[str]] = {k: list(v) for k, v in (cookies or {}).items()}
        self.stub = stub  # False: record only, let requests reach the network (audits)
        # Third-party origins recorded but never stubbed, e.g. a local stand-in for a tracker.
        self.passthrough: frozenset[str] = frozenset(
            o for o in (origin_of(url) for url in passthrough) if o is not None
        )
        self.hits: list[Hit] = []
        self._contexts: list[BrowserContext] = []

    # -- wiring ---------------------------------------------------------------

    def attach(self, context: BrowserContext) -> None:
        """Start stubbing and recording third-party traffic of ``context``.

        Hits come from the ``request`` event, which fires as soon as the browser
        issues a request, so requests later aborted or failed still count.
        """
        context.on("request", self._on_request)
        if self.stub:
            context.route(self._stubbed, self._fulfill)
            context.route_web_socket(self._stubbed, self._on_websocket)
        self._contexts.append(context)
        _ATTACHED[context] = self

    def is_third_party(self, url: str) -> bool:
        """True for network URLs whose origin is not one of the site's own."""
        origin = origin_of(url)
        return origin is not None and origin not in self.origins

    def _stubbed(self, url: str) -> bool:
        return self.is_third_party(url) and origin_of(url) not in self.passthrough

    # -- queries --------------------------------------------------------------

    def hosts(self) -> set[str]:
        """Every third-party host the browser tried to reach."""
        return {hit.host for hit in self.hits}

    def hits_to(self, host_suffix: str) -> list[Hit]:
        """Hits whose host is ``host_suffix`` or a subdomain of it."""
        return [hit for hit in self.hits if _host_matches(hit.host, host_suffix)]

    def clear(self) -> None:
        """Forget recorded hits, e.g. between page loads of one test."""
        self.hits.clear()

    def wait_for(self, host_suffix: str, *, timeout: float = 5.0) -> Hit:
        """Return the first hit to ``host_suffix``, waiting for it if needed.

        Useful for requests made after ``load`` (timers, beacons, clicks). The
        sync API only delivers events while it is blocked in a call, so we poll
        by waiting briefly on the context. Raises TimeoutError after ``timeout``.
        """
        from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

        deadline = time.monotonic() + timeout
        while True:
            existing = self.hits_to(host_suffix)
            if existing:
                return existing[0]
            if not self._contexts:
                raise RuntimeError("TrackerRecorder.wait_for() needs an attached context")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no request to {host_suffix!r} within {timeout}s")
            with contextlib.suppress(PlaywrightTimeoutError):
                self._contexts[-1].wait_for_event("request", timeout=min(remaining, 0.05) * 1000)

    # -- callbacks ------------------------------------------------------------

    def _on_request(self, request: Request) -> None:
        if not self.is_third_party(request.url):
            return
        self._record(
            url=request.url,
            method=request.method,
            resource_type=request.resource_type,
            page_url=_page_url(request),
            post_data=_post_data(request),
        )

    def _on_websocket(self, ws: WebSocketRoute) -> None:
        # WebSockets do not emit ``request`` events, so record them here. Not
        # connecting to the server leaves the page with a silent mock socket.
        self._record(url=ws.url, method="GET", resource_type="websocket", page_url="")

    def _record(
        self,
        *,
        url: str,
        method: str,
        resource_type: str,
        page_url: str,
        post_data: str | None = None,
    ) -> None:
        self.hits.append(
            Hit(
                url=url,
                host=(urlsplit(url).hostname or "").lower(),
                method=method,
                resource_type=resource_type,
                page_url=page_url,
                post_data=post_data,
                time=time.time(),
            )
        )

    def _fulfill(self, route: Route) -> None:
        request = route.request
        host = (urlsplit(request.url).hostname or "").lower()
        headers = _cors_headers(request)
        if request.method == "OPTIONS":
            headers["access-control-allow-methods"] = "GET, POST, PUT, DELETE, OPTIONS"
            headers["access-control-allow-headers"] = (
                request.headers.get("access-control-request-headers") or "*"
            )
            route.fulfill(status=204, headers=headers)
            return
        kind = _stub_kind(request.resource_type, urlsplit(request.url).path.lower())
        if kind == "script":
            route.fulfill(
                status=200,
                headers=headers,
                content_type="application/javascript; charset=utf-8",
                body=self._script_for(request.url, host),
            )
        elif kind == "image":
            route.fulfill(
                status=200, headers=headers, content_type="image/gif", body=TRANSPARENT_GIF
            )
        elif kind == "document":
            route.fulfill(
                status=200,
                headers=headers,
                content_type="text/html; charset=utf-8",
                body=_stub_page(host),
            )
        else:
            route.fulfill(status=204, headers=headers)

    def _script_for(self, url: str, host: str) -> str:
        lines = [
            f"(window.__cgTrackerRuns = window.__cgTrackerRuns || []).push({json.dumps(url)});"
        ]
        for cookie in _longest_match(self.cookies, host) or []:
            lines.append(f"document.cookie = {json.dumps(cookie)};")
        extra = _longest_match(self.scripts, host)
        if extra:
            lines.append(extra)
        return "\n".join(lines) + "\n"


_ATTACHED: weakref.WeakKeyDictionary[BrowserContext, TrackerRecorder] = weakref.WeakKeyDictionary()


def recorder_of(target: sync_api.Page | BrowserContext) -> TrackerRecorder:
    """The recorder attached to a page's (or a context's) browser context."""
    from playwright import sync_api

    context = target.context if isinstance(target, sync_api.Page) else target
    try:
        return _ATTACHED[context]
    except KeyError:
        raise LookupError("no TrackerRecorder is attached to this browser context") from None


def _longest_match(table: Mapping[str, _T], host: str) -> _T | None:
    matches = [suffix for suffix in table if _host_matches(host, suffix)]
    return table[max(matches, key=len)] if matches else None


def _stub_kind(resource_type: str, path: str) -> str:
    """Pick the stub shape from Playwright's resource type, falling back to the URL."""
    if resource_type in ("script", "image", "document"):
        return resource_type
    if resource_type == "other":
        if path.endswith(_SCRIPT_SUFFIXES):
            return "script"
        if path.endswith(_IMAGE_SUFFIXES):
            return "image"
    return "empty"


def _stub_page(host: str) -> str:
    # ``host`` comes from urlsplit().hostname: no markup characters can appear.
    return (
        f"<!doctype html><html><head><title>stub for {host}</title></head>"
        f"<body><p>stub for {host}</p></body></html>"
    )


def _cors_headers(request: Request) -> dict[str, str]:
    """Let cross-origin fetch/XHR from the page succeed, as real tracker endpoints do."""
    origin = request.headers.get("origin")
    if not origin:
        return {"access-control-allow-origin": "*"}
    return {"access-control-allow-origin": origin, "access-control-allow-credentials": "true"}


def _page_url(request: Request) -> str:
    try:
        return request.frame.page.url
    except Exception:  # service-worker requests have no frame
        return ""


def _post_data(request: Request) -> str | None:
    buffer = request.post_data_buffer
    return None if buffer is None else buffer.decode("utf-8", errors="replace")
