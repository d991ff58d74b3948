"""Find and launch a Chromium that Playwright can drive.

Playwright's own browser download is not always possible (offline CI, distro
machines), so we prefer an explicit override, then Playwright's bundled build,
then a system Chromium such as Debian's ``/usr/bin/chromium``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

__all__ = ["CHROMIUM_ARGS", "ENV_VAR", "chromium_executable", "launch_chromium"]

ENV_VAR = "CONSENT_GATE_CHROMIUM"
"""Environment variable naming a Chromium executable; it overrides every other choice."""

CHROMIUM_ARGS: list[str] = [
    "--no-sandbox",  # CI runs as root, where the sandbox refuses to start
    "--disable-gpu",
    "--disable-background-networking",  # no stray requests to muddy the tracker log
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
"""Flags for a quiet, deterministic headless Chromium in containers."""

_SYSTEM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
_PATH_NAMES = ("chromium", "chromium-browser", "google-chrome")

_INSTALL_HINT = (
    "No Chromium found for Playwright. Install one with `make chromium` "
    "(or `apt-get install chromium` on Debian/Ubuntu), or set "
    f"{ENV_VAR}=/path/to/chromium."
)


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _browsers_dir() -> Path:
    """Mirror Playwright's registry directory lookup (PLAYWRIGHT_BROWSERS_PATH, cache dir)."""
    override = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
    if override == "0":
        import playwright

        return Path(playwright.__file__).parent / "driver" / "package" / ".local-browsers"
    if override:
        return Path(override)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "ms-playwright"


def _bundled_chromium_installed(*, headless: bool = True) -> bool:
    """True if the Chromium build pinned by the installed Playwright was downloaded.

    Headless launches use the separate ``chromium-headless-shell`` download, so
    that is what we look for unless a headed browser is wanted.
    """
    try:
        import playwright
    except ImportError:
        return False
    browsers_json = Path(playwright.__file__).parent / "driver" / "package" / "browsers.json"
    try:
        browsers = json.loads(browsers_json.read_text())["browsers"]
    except (OSError, ValueError, KeyError):
        return False
    wanted = "chromium-headless-shell" if headless else "chromium"
    for browser in browsers:
        if browser.get("name") == wanted:
            directory = f"{wanted.replace('-', '_')}-{browser['revision']}"
            return (_browsers_dir() / directory / "INSTALLATION_COMPLETE").is_file()
    return False


def chromium_executable(*, headless: bool = True) -> str | None:
    """Return the Chromium executable to launch, or None to use Playwright's bundled one.

    Order: ``$CONSENT_GATE_CHROMIUM``, Playwright's bundled build, then a system
    Chromium. Raises RuntimeError with install instructions when nothing is found.
    """
    override = os.environ.get(ENV_VAR)
    if override:
        if not _is_executable(override):
            raise RuntimeError(
                f"{ENV_VAR}={override!r} is not an existing executable file; "
                "point it at a Chromium binary or unset it."
            )
        return override
    if _bundled_chromium_installed(headless=headless):
        return None
    for path in _SYSTEM_PATHS:
        if _is_executable(path):
            return path
    for name in _PATH_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError(_INSTALL_HINT)


def launch_chromium(playwright: Playwright, **kwargs: Any) -> Browser:
    """Launch Chromium (sync API) with CHROMIUM_ARGS plus any extra ``args``.

    Other keyword arguments go to ``BrowserType.launch``; an explicit
    ``executable_path`` skips the lookup.
    """
    kwargs["args"] = [*CHROMIUM_ARGS, *kwargs.get("args", ())]
    if "executable_path" not in kwargs:
        executable = chromium_executable(headless=bool(kwargs.get("headless", True)))
        if executable is not None:
            kwargs["executable_path"] = executable
    return playwright.chromium.launch(**kwargs)
