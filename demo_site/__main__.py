"""`python -m demo_site` (`make demo`): the Acme Widgets site and its tracker, side by side.

Both run with uvicorn in one asyncio loop on 127.0.0.1: the site (behind ConsentGate) on port
8000 and the "third-party" tracker on port 8001. `DEMO_PORT` / `DEMO_TRACKER_PORT`, or
`--port` / `--tracker-port`, choose other ports (0 picks a free one). The sockets are bound
before anything starts, so a taken port fails at once with a message saying what to do.
Ctrl+C (or SIGTERM) stops both servers gracefully; a second Ctrl+C stops them at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import os
import signal
import socket
import sys
import textwrap
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TextIO

import uvicorn
from starlette.applications import Starlette

from consent_gate import ConsentGate
from demo_site.site import create_site
from demo_site.tracker import HitLog, create_tracker

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_TRACKER_PORT",
    "HOST",
    "Demo",
    "DemoError",
    "Settings",
    "announce",
    "bind",
    "main",
    "parse_settings",
]

HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_TRACKER_PORT = 8001
PORT_ENV = "DEMO_PORT"
TRACKER_PORT_ENV = "DEMO_TRACKER_PORT"
EXIT_USAGE = 2


class DemoError(Exception):
    """A problem the user can fix, reported as one line and exit status 2."""


@dataclass(frozen=True)
class Settings:
    port: int = DEFAULT_PORT
    tracker_port: int = DEFAULT_TRACKER_PORT
    host: str = HOST
    verbose: bool = False


def parse_settings(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Settings from the command line, then the environment, then the defaults.

    Bad arguments exit through argparse (status 2); bad environment values raise DemoError.
    """
    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(
        prog="python -m demo_site",
        description="Serve the Acme Widgets consent_gate demo and its third-party tracker.",
    )
    parser.add_argument(
        "--port",
        type=_port_argument,
        help=f"port of the site (default: ${PORT_ENV} or {DEFAULT_PORT}; 0 = any free port)",
    )
    parser.add_argument(
        "--tracker-port",
        type=_port_argument,
        help=(
            f"port of the tracker (default: ${TRACKER_PORT_ENV} or {DEFAULT_TRACKER_PORT}; "
            "0 = any free port)"
        ),
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log every request of both servers"
    )
    args = parser.parse_args(argv)
    port: int = args.port if args.port is not None else _env_port(env, PORT_ENV, DEFAULT_PORT)
    tracker_port: int = (
        args.tracker_port
        if args.tracker_port is not None
        else _env_port(env, TRACKER_PORT_ENV, DEFAULT_TRACKER_PORT)
    )
    if port == tracker_port and port != 0:
        raise DemoError(
            f"the site and the tracker cannot share port {port}: "
            f"set {PORT_ENV} and {TRACKER_PORT_ENV} to different ports"
        )
    return Settings(port=port, tracker_port=tracker_port, verbose=args.verbose)


def _parse_port(text: str) -> int:
    value = int(text.strip())
    if not 0 <= value <= 65535:
        raise ValueError(text)
    return value


def _port_argument(text: str) -> int:
    try:
        return _parse_port(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)") from None


def _env_port(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, "")
    if not text.strip():
        return default
    try:
        return _parse_port(text)
    except ValueError:
        raise DemoError(f"{name}={text!r} is not a port number (0-65535)") from None


def bind(host: str, port: int, *, what: str, env_name: str) -> socket.socket:
    """A listening-ready socket on host:port, or a DemoError that says how to pick another."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Like uvicorn: lets a restarted demo reuse a port in TIME_WAIT, never a port in use.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise DemoError(
                f"port {port} on {host} is already in use, so the {what} cannot start. "
                f"Stop whatever is listening there, or choose another port, e.g. "
                f"`{env_name}={port + 10} make demo`."
            ) from None
        raise DemoError(f"cannot listen on {host}:{port} for the {what}: {exc.strerror}") from None
    return sock


def _url(host: str, sock: socket.socket) -> str:
    return f"http://{host}:{sock.getsockname()[1]}"


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to the caller, so two can share one loop.

    uvicorn's own handling would have the second server replace the first one's handler, and
    Ctrl+C would then stop only one of them.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class Demo:
    """The site and the tracker, bound to their ports and ready to serve in one event loop."""

    def __init__(self, settings: Settings, *, secret_key: str | None = None) -> None:
        self.settings = settings
        self.tracker_socket = bind(
            settings.host,
            settings.tracker_port,
            what="demo tracker",
            env_name=TRACKER_PORT_ENV,
        )
        try:
            self.site_socket = bind(
                settings.host, settings.port, what="demo site", env_name=PORT_ENV
            )
        except BaseException:
            self.tracker_socket.close()
            raise
        self.tracker_url = _url(settings.host, self.tracker_socket)
        self.site_url = _url(settings.host, self.site_socket)
        self.log = HitLog()
        self.tracker_app = create_tracker(self.log)
        # The tracker's real port goes into the site's policy and pages.
        self.site_app = create_site(tracker_origin=self.tracker_url, secret_key=secret_key)
        self.servers = (
            self._server(self.site_app, self.site_socket),
            self._server(self.tracker_app, self.tracker_socket),
        )

    def _server(self, app: Starlette | ConsentGate, sock: socket.socket) -> _Server:
        verbose = self.settings.verbose
        config = uvicorn.Config(
            app,
            host=self.settings.host,
            port=sock.getsockname()[1],
            lifespan="auto",
            ws="none",
            log_level="info" if verbose else "warning",
            access_log=verbose,
            timeout_graceful_shutdown=3,
        )
        return _Server(config)

    @property
    def started(self) -> bool:
        return all(server.started for server in self.servers)

    async def serve(self, on_ready: Callable[[Demo], None] | None = None) -> None:
        """Run both servers until `stop()`, or until one of them ends (then stop the other)."""
        sockets = (self.site_socket, self.tracker_socket)
        tasks = [
            asyncio.create_task(server.serve(sockets=[sock]))
            for server, sock in zip(self.servers, sockets, strict=True)
        ]
        try:
            while not self.started and not any(task.done() for task in tasks):
                await asyncio.sleep(0.02)
            if self.started and on_ready is not None:
                on_ready(self)
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for server in self.servers:  # the other one finishes gracefully too, never forced
                server.should_exit = True
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            if not task.cancelled() and (error := task.exception()) is not None:
                raise error

    def stop(self) -> None:
        """Ask both servers to finish (safe from any thread); a second call forces it."""
        for server in self.servers:
            if server.should_exit:
                server.force_exit = True
            server.should_exit = True

    def close(self) -> None:
        self.site_socket.close()
        self.tracker_socket.close()

    def __enter__(self) -> Demo:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def announce(demo: Demo, out: TextIO | None = None) -> None:
    """Print where everything is and what to try."""
    stream = out if out is not None else sys.stdout
    site, tracker = demo.site_url, demo.tracker_url
    what_to_try = (
        f"What to try: open the tracker dashboard ({tracker}/) next to the site. Browse the "
        "site before answering the cookie banner: the dashboard stays empty and the footer "
        'says "Analytics: refused", because the gate held every tracker back on the server '
        '(view the page source: scripts are type="text/plain", the pixel and the frames have '
        "no src, and the home page's _demo_srv cookie never reaches the browser). Then click "
        '"Accept all": page views, a canvas fingerprint, the ad pixel, the partner video on '
        '/products/widget-pro and their cookies show up on the dashboard. "Cookie settings" '
        f"lets you refuse or withdraw again, and {site}/consent-gate/policy lists every service "
        "and cookie."
    )
    print(
        "\nAcme Widgets consent_gate demo is running:\n"
        f"  site     {site}/\n"
        f"  tracker  {tracker}/   (dashboard: what the third party sees)\n\n"
        + textwrap.fill(what_to_try, width=96)
        + "\n\nPress Ctrl+C to stop.\n",
        file=stream,
        flush=True,
    )


async def _run(demo: Demo) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, demo.stop)
    await demo.serve(on_ready=announce)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    try:
        demo = Demo(parse_settings(argv, environ))
    except DemoError as exc:
        print(f"demo_site: {exc}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    with demo, contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(demo))
    print("Demo stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
