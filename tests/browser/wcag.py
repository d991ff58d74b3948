"""WCAG 2.x contrast of what the browser paints (computed colours), as axe-core measures it."""

from __future__ import annotations

from playwright.sync_api import Locator


def relative_luminance(rgb: tuple[float, ...]) -> float:
    def channel(value: float) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(foreground: tuple[float, ...], background: tuple[float, ...]) -> float:
    light, dark = sorted(
        (relative_luminance(foreground), relative_luminance(background)), reverse=True
    )
    return (light + 0.05) / (dark + 0.05)


def colours(element: Locator) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """An element's text colour and the first opaque background behind it."""
    fg, bg = element.evaluate(
        """(el) => {
            const parse = (c) => c.match(/[\\d.]+/g).map(Number);
            const fg = parse(getComputedStyle(el).color);
            for (let node = el; node; node = node.parentElement) {
                const bg = parse(getComputedStyle(node).backgroundColor);
                if (bg.length < 4 || bg[3] === 1) return [fg, bg];
            }
            return [fg, [255, 255, 255]];
        }"""
    )
    return tuple(fg), tuple(bg)
