"""QA toolkit for gated sites: serve an ASGI app, drive Chromium, record trackers, assert.

Browser tests of a consent gate need the site on a real HTTP origin (:func:`serve`), a
Chromium that works offline (:func:`launch_chromium`), a log of every third-party request the
page attempted, answered by local stubs instead of the real internet (:class:`TrackerRecorder`),
and assertions that read like the rule they check (:func:`assert_no_tracking`). The pytest
plugin (`consent_gate.qa.plugin`) wires these into fixtures; `consent-gate audit` uses them
from the command line.
"""

from consent_gate.qa.assertions import assert_no_tracking, assert_tracked, tracking_hits
from consent_gate.qa.browser import CHROMIUM_ARGS, chromium_executable, launch_chromium
from consent_gate.qa.recorder import TRANSPARENT_GIF, Hit, TrackerRecorder, recorder_of
from consent_gate.qa.server import serve

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
