"""QA toolkit for gated sites: serve an ASGI app, drive Chromium, record trackers.

Browser tests of a consent gate need three things: the site on a real HTTP
origin (:func:`serve`), a Chromium that works offline (:func:`launch_chromium`)
and a log of every third-party request the page attempted, answered by local
stubs instead of the real internet (:class:`TrackerRecorder`).
"""

from consent_gate.qa.browser import CHROMIUM_ARGS, chromium_executable, launch_chromium
from consent_gate.qa.recorder import TRANSPARENT_GIF, Hit, TrackerRecorder
from consent_gate.qa.server import serve

__all__ = [
    "CHROMIUM_ARGS",
    "TRANSPARENT_GIF",
    "Hit",
    "TrackerRecorder",
    "chromium_executable",
    "launch_chromium",
    "serve",
]
