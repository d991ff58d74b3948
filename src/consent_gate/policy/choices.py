"""Every setting that takes one of a few words, stated once: the model's types, the reader's
options and the validator's messages all come from these."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

__all__ = [
    "CSP_DIRECTIVES",
    "GOOGLE_SIGNALS",
    "HANDLER_DIRECTIVE",
    "POSITIONS",
    "CspMode",
    "Dnt",
    "GcmMode",
    "GpcStance",
    "IpLogging",
    "Layout",
    "Party",
    "Theme",
    "ThirdParties",
    "one_of",
    "options",
]

Party = Literal["first", "third"]
Dnt = Literal["ignore", "honour"]
GpcStance = Literal["honour", "ignore"]
IpLogging = Literal["off", "truncated"]
GcmMode = Literal["basic", "advanced"]
CspMode = Literal["off", "report-only", "enforce"]
ThirdParties = Literal["allow", "hold"]
Layout = Literal["bar", "box", "modal"]
Theme = Literal["auto", "light", "dark"]

# Where each layout may sit. Box corners are logical ("start" is the left in English, the right
# in Arabic), so a box follows the reading direction of the banner's language.
POSITIONS: Mapping[str, tuple[str, ...]] = {
    "bar": ("bottom", "top"),
    "box": ("bottom-end", "bottom-start", "top-end", "top-start"),
    "modal": ("center",),
}

# Google Consent Mode v2's signals, and the categories that grant each by default.
GOOGLE_SIGNALS: Mapping[str, tuple[str, ...]] = {
    "ad_storage": ("marketing",),
    "analytics_storage": ("analytics",),
    "ad_user_data": ("marketing",),
    "ad_personalization": ("marketing",),
    "functionality_storage": ("preferences",),
    "personalization_storage": ("preferences",),
    "security_storage": (),
}

CSP_DIRECTIVES = ("script-src", "img-src", "connect-src", "frame-src")
# Inline event handlers are refused ('none') unless the site lists its own by hash, with
# 'unsafe-hashes': an injected `onfocus=` must not run, whoever wrote the markup.
HANDLER_DIRECTIVE = "script-src-attr"


def options(choice: object) -> tuple[Any, ...]:
    """The words a `Literal` choice allows, in the order it states them (typed `Any`, so the
    reader's `choice` returns the setting's own `Literal`)."""
    return get_args(choice)


def one_of(choice: object) -> str:
    """The words for a message: 'a', 'b' or 'c'."""
    words = [repr(word) for word in options(choice)]
    return f"{', '.join(words[:-1])} or {words[-1]}"
