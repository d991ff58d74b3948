"""Screenshots of the banner and the dialog in each layout, reading direction and theme, compared
with references a person has looked at.

A new or changed look fails until someone reviews it: the test writes what it saw under
`screenshots/new/`; after looking, move the file to `screenshots/` (see its README). Fonts and
rasterisation change between Chromium releases, so references hold for the Chromium major
version named in `screenshots/chromium.txt`; another version skips, saying why.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from banner_pages import LAPTOP, PHONE
from PIL import Image, ImageChops
from playwright.sync_api import Browser

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import OpenPage

REFERENCES = Path(__file__).parent / "screenshots"
# A pixel differs when a channel moves by more than this; a shot differs when more than this
# share of its pixels do (anti-aliasing jitter stays below both).
CHANNEL_TOLERANCE = 40
PIXEL_SHARE = 0.002

BRAND = {"brand": "#0b6e4f"}
CASES: dict[str, dict[str, Any]] = {
    "bar-en-light": {"policy": {}, "lang": "en", "scheme": "light", "viewport": LAPTOP},
    "bar-ar-dark-phone": {"policy": {}, "lang": "ar", "scheme": "dark", "viewport": PHONE},
    "bar-top-de-light": {
        "policy": {"banner": {"position": "top"}},
        "lang": "de",
        "scheme": "light",
        "viewport": LAPTOP,
    },
    "box-en-dark": {
        "policy": {"banner": {"layout": "box"}},
        "lang": "en",
        "scheme": "dark",
        "viewport": LAPTOP,
    },
    "box-ar-light": {
        "policy": {"banner": {"layout": "box"}},
        "lang": "ar",
        "scheme": "light",
        "viewport": LAPTOP,
    },
    "modal-en-light-brand": {
        "policy": {"banner": {"layout": "modal", **BRAND}},
        "lang": "en",
        "scheme": "light",
        "viewport": LAPTOP,
    },
    "modal-fr-dark-phone": {
        "policy": {"banner": {"layout": "modal", "theme": "dark"}},
        "lang": "fr",
        "scheme": "light",
        "viewport": PHONE,
    },
    "dialog-en-light-phone": {
        "policy": {},
        "lang": "en",
        "scheme": "light",
        "viewport": PHONE,
        "dialog": True,
    },
    "dialog-de-dark": {
        "policy": {"banner": BRAND},
        "lang": "de",
        "scheme": "dark",
        "viewport": LAPTOP,
        "dialog": True,
    },
    "dialog-ar-light-phone": {
        "policy": {},
        "lang": "ar",
        "scheme": "light",
        "viewport": PHONE,
        "dialog": True,
    },
}


@pytest.fixture(scope="module")
def reference_chromium(browser: Browser) -> None:
    expected = (REFERENCES / "chromium.txt").read_text().strip()
    running = browser.version.split(".")[0]
    if running != expected:
        pytest.skip(
            f"the references were rendered by Chromium {expected}, this is Chromium {running}: "
            "re-render and review them (screenshots/README.md)"
        )


def differing_share(actual: Path, reference: Path) -> float:
    with Image.open(actual) as shot, Image.open(reference) as expected:
        if shot.size != expected.size:
            return 1.0
        difference = ImageChops.difference(shot.convert("RGB"), expected.convert("RGB"))
        channels = difference.split()
        moved = [
            channel.point(lambda v: 255 if v > CHANNEL_TOLERANCE else 0) for channel in channels
        ]
        mask = ImageChops.lighter(ImageChops.lighter(moved[0], moved[1]), moved[2])
        histogram = mask.histogram()
        return histogram[255] / (shot.size[0] * shot.size[1])


@pytest.mark.usefixtures("reference_chromium")
@pytest.mark.parametrize("name", list(CASES))
def test_looks_as_reviewed(open_banner_page: OpenPage, name: str) -> None:
    case = CASES[name]
    page = open_banner_page(
        case["policy"], viewport=case["viewport"], lang=case["lang"], color_scheme=case["scheme"]
    )
    if case.get("dialog"):
        page.locator("#cg-banner [data-cg-open]").click()
        page.locator("#cg-preferences .cg-dialog").wait_for()
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    new = REFERENCES / "new" / f"{name}.png"
    new.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(new), animations="disabled", caret="hide")
    reference = REFERENCES / f"{name}.png"
    if not reference.exists():
        pytest.fail(f"no reviewed screenshot {reference.name}: look at {new}, then move it there")
    share = differing_share(new, reference)
    assert share <= PIXEL_SHARE, (
        f"{name} looks different ({share:.2%} of pixels): compare {new} with {reference}; "
        "if the change is intended and reviewed, move the new one over the reference"
    )
    new.unlink()
