"""Run an ASGI app on a real socket so a real browser can load it.

Browser tests need a genuine HTTP origin (cookies, same-origin rules, script
loading), which in-process test clients cannot give Chromium.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, Literal

import uvicorn

from consent_gate._types import ASGIApp

__all__ = ["serve"]


def _base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _wait_until_accepting(
    host: str, port: int, thread: threading.Thread, server: uvicorn.Server, timeout: float
) -> None:
    """Block until uvicorn finished startup and the socket accepts a connection."""
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"uvicorn failed to start on {_base_url(host, port)}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"uvicorn did not start within {timeout}s")
        time.sleep(0.01)
    with socket.create_connection((host, port), timeout=timeout):
        pass


@contextlib.contextmanager
def serve(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    lifespan: Literal["auto", "on", "off"] = "off",
    startup_timeout: float = 10.0,
    **config: Any,
) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread; yield its base URL.

    ``port=0`` picks a free port. We bind the socket ourselves and hand it to
    uvicorn, so there is no window in which another server could grab the port
    and any number of servers can run side by side. Extra keyword arguments go to
    ``uvicorn.Config`` (e.g. ``ws="none"``). The server is stopped on exit.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        bound_port: int = sock.getsockname()[1]
        config.setdefault("log_level", "warning")
        config.setdefault("log_config", None)  # leave global logging setup alone
        config.setdefault("access_log", False)
        config.setdefault("timeout_graceful_shutdown", 5)
        server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=bound_port, lifespan=lifespan, **config)
        )
        thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            name=f"uvicorn-{host}:{bound_port}",
            daemon=True,
        )
        thread.start()
        try:
            _wait_until_accepting(host, bound_port, thread, server, startup_timeout)
            yield _base_url(host, bound_port)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            if thread.is_alive():
                server.force_exit = True
                thread.join(timeout=5)
    finally:
        sock.close()
