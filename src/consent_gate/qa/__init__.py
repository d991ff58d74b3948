"""QA toolkit for gated sites: serve an ASGI app, drive Chromium, record trackers, assert.

Browser tests of a consent gate need the site on a real HTTP origin (:func:`serve`), a
Chromium that works offline (:func:`launch_chromium`), a log of every third-party request the
page attempted, answered by local stubs instead of the real internet (:class:`TrackerRecorder`),
and assertions that read like the rule they check (:func:`assert_no_tracking`). The pytest
plugin (`consent_gate.qa.plugin`) wires these into fixtures; `consent-gate audit` uses them
from the command line. Names load on first use (`serve` needs uvicorn, the rest Playwright).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes

if TYPE_CHECKING:
    from .assertions import assert_no_tracking, assert_tracked, tracking_hits
    from .browser import CHROMIUM_ARGS, chromium_executable, launch_chromium
    from .recorder import TRANSPARENT_GIF, Hit, TrackerRecorder, recorder_of
    from .server import serve

_HOMES = {
    "CHROMIUM_ARGS": ".browser",
    "TRANSPARENT_GIF": ".recorder",
    "Hit": ".recorder",
    "TrackerRecorder": ".recorder",
    "assert_no_tracking": ".assertions",
    "assert_tracked": ".assertions",
    "chromium_executable": ".browser",
    "launch_chromium": ".browser",
    "recorder_of": ".recorder",
    "serve": ".server",
    "tracking_hits": ".assertions",
}

__all__ = [
    "CHROMIUM_ARGS",
    "TRANSPARENT_GIF",
    "Hit",
    "TrackerRecorder",
    "assert_no_tracking",
    "assert_tracked",
    "chromium_executable",
    "launch_chromium",
    "recorder_of",
    "serve",
    "tracking_hits",
]


__getattr__ = lazy_attributes(__name__, _HOMES)
