"""The site's brand colour, turned into the banner's `--cg-*` custom properties.

A brand colour is chosen for looks; the banner must stay readable whatever it is. So the button
text is whichever of white or near-black contrasts more with it, and links and focus rings use
it only where it reaches WCAG's 4.5:1 against the theme's background (else the theme's own
accent stays). Computed once, at start-up, and served inside the banner's stylesheet, which
keeps it under the site's `style-src` (no inline style).
"""

from __future__ import annotations

__all__ = ["brand_css", "contrast"]

_WHITE = "#ffffff"
_INK = "#111827"
_TEXT = 4.5  # WCAG 2 (1.4.3): normal text, and what a link must reach to read as text
# Each theme's background and link colour as banner.css sets them, and where it applies.
_LIGHT = ("#ffffff", "#1d4ed8", ":where(.cg-root,.cg-page)")
_DARK = ("#111827", "#93c5fd", ":where(.cg-root[data-cg-theme=dark],.cg-page[data-cg-theme=dark])")
_AUTO_DARK = ":where(.cg-root[data-cg-theme=auto],.cg-page[data-cg-theme=auto])"


def _channels(colour: str) -> tuple[float, float, float]:
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    red, green, blue = (int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return red, green, blue


def _luminance(colour: str) -> float:
    linear = [
        c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in _channels(colour)
    ]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    """WCAG 2 contrast ratio of two `#rgb`/`#rrggbb` colours, 1 to 21."""
    light, dark = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def brand_css(brand: str) -> str:
    """Rules that put `brand` on buttons, links and focus rings in both themes; "" for none.
    They follow banner.css's palettes, so a later, equally specific rule of the site wins."""
    if not brand:
        return ""
    brand = brand.lower()
    on_brand = max((_WHITE, _INK), key=lambda text: contrast(text, brand))
    buttons = f"--cg-btn-bg:{brand};--cg-btn-fg:{on_brand};"

    def accent(background: str, default: str) -> str:
        return f"--cg-accent:{brand if contrast(brand, background) >= _TEXT else default};"

    light = buttons + accent(*_LIGHT[:2])
    dark = buttons + accent(*_DARK[:2])
    return (
        "\n/* [banner] brand */\n"
        f"{_LIGHT[2]}{{{light}}}\n"
        f"{_DARK[2]}{{{dark}}}\n"
        f"@media (prefers-color-scheme: dark){{{_AUTO_DARK}{{{dark}}}}}\n"
    )
