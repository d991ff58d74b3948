"""The gate's endpoints as Starlette routes mounted under its prefix, every miss answered here.

Starlette's own answers to a miss would not do: inside a Starlette app (`scope["app"]` set)
a wrong method or an unknown path raises `HTTPException`, a 500 where the gate is the app's
middleware (nothing between it and the server handles it) and the host app's error page where
the gate is mounted in one; its `Allow` header follows a set's order; and `redirect_slashes`
sends redirects to addresses the gate never published.
So these routes send the gate's plain 404 and 405 (`Allow` sorted, HEAD wherever GET is), and
a handler's `RequestError` becomes the 4xx that says what is wrong.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence

from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route, Router

from ._types import Receive, Scope, Send
from .errors import ConsentGateError
from .http import header

__all__ = ["NO_STORE", "GateRoute", "Handler", "RequestError", "missing", "mounted"]

Handler = Callable[[Scope, Receive], Awaitable[Response]]
NO_STORE = {"cache-control": "no-store"}
_BODY_LEFT_UNREAD = (408, 413)


class RequestError(ConsentGateError):
    """A request the endpoint cannot act on; the message is shown to the client."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class GateRoute(Route):
    """A route whose handler returns its response. `exists`: whether the one path parameter
    names something that is there (a report kind, a file); when not, the path is unknown,
    a 404 whatever the method, rather than a 405 for a resource that does not exist."""

    def __init__(
        self,
        path: str,
        handler: Handler,
        methods: Collection[str] = ("GET",),
        exists: Callable[[str], bool] | None = None,
    ) -> None:
        super().__init__(path, _Answer(handler), methods=methods)
        self.allow = ", ".join(sorted(self.methods or ()))
        self._exists = exists
        if exists is not None:
            (self._param,) = self.param_convertors  # exactly one parameter to check

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        exists = self._exists
        if match is not Match.NONE and exists and not exists(child["path_params"][self._param]):
            return Match.NONE, {}
        return match, child

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in (self.methods or ()):
            response: Response = PlainTextResponse(
                "Method not allowed", status_code=405, headers={"allow": self.allow}
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class _Answer:
    """A handler as the ASGI app of its route (a plain function would be taken for a
    Starlette request handler)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await self.handler(scope, receive)
        except RequestError as exc:
            response = _error(scope, str(exc), exc.status)
        await response(scope, receive, send)


def mounted(prefix: str, routes: Sequence[BaseRoute]) -> Router:
    """`routes` under `prefix`, built once: no slash redirects, the gate's 404 for the rest."""
    inner = Router(routes, redirect_slashes=False, default=_not_found)
    return Router([Mount(prefix, app=inner)], redirect_slashes=False, default=_not_found)


def missing() -> Response:
    """The gate's 404, for whatever it does not serve."""
    return PlainTextResponse("Not found", status_code=404)


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    await missing()(scope, receive, send)


def _error(scope: Scope, message: str, status: int) -> Response:
    accept = header(scope["headers"], b"accept") or b""
    headers = NO_STORE
    if status in _BODY_LEFT_UNREAD and scope.get("http_version", "1.1") in ("1.0", "1.1"):
        # The rest of the body may never come: the server must not wait for it to read the
        # next request (HTTP/2 streams end on their own and forbid the header).
        headers = {**NO_STORE, "connection": "close"}
    if b"application/json" in accept:
        return JSONResponse({"error": message}, status_code=status, headers=headers)
    return PlainTextResponse(message, status_code=status, headers=headers)
