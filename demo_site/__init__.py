"""Acme Widgets: a small corporate demo site behind consent_gate, with its own fake tracker.

`python -m demo_site` (or `make demo`) serves the site on http://127.0.0.1:8000 and the
"third-party" tracker on http://127.0.0.1:8001. The site embeds real vendor snippets (GA4, GTM,
Meta Pixel, Hotjar, YouTube, Google Maps) that cannot load offline, and the demo tracker's own
script, pixel, embed and fingerprinting script, which can: its dashboard shows exactly what a
tracker learns, and that it learns nothing before the visitor consents.
"""

from demo_site.site import DEFAULT_TRACKER_ORIGIN, create_site, load_policy
from demo_site.tracker import Hit, HitLog, create_tracker

__all__ = [
    "DEFAULT_TRACKER_ORIGIN",
    "Hit",
    "HitLog",
    "create_site",
    "create_tracker",
    "load_policy",
]
