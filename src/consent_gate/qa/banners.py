"""Whose consent banner a page shows: this package's, another consent manager's, or none.

The audit can only make a choice through this package's banner; on a page showing another
manager's, it says which one and that the accept and reject passes could not be made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

__all__ = ["OURS", "detect_banner"]

OURS = "#cg-banner"

# The markers each manager's banner carries in the page (its root element's id or class, or the
# script it loads from), first match wins.
FOREIGN: tuple[tuple[str, str], ...] = (
    ("OneTrust", "#onetrust-banner-sdk, #onetrust-consent-sdk, script[src*='cookielaw.org']"),
    ("Cookiebot", "#CybotCookiebotDialog, script[src*='consent.cookiebot.com']"),
    ("Usercentrics", "#usercentrics-root, #usercentrics-cmp-ui, script[src*='usercentrics.eu']"),
    ("Didomi", "#didomi-host, #didomi-notice, script[src*='sdk.privacy-center.org']"),
    ("Quantcast Choice", ".qc-cmp2-container, .qc-cmp2-summary-info, script[src*='quantcast']"),
    ("TrustArc", "#truste-consent-track, #consent_blackbar, script[src*='trustarc.com']"),
    ("Osano", ".osano-cm-window, .osano-cm-dialog, script[src*='osano.com']"),
    ("Complianz", "#cmplz-cookiebanner-container, .cmplz-cookiebanner"),
    ("Klaro", ".klaro .cookie-notice, .klaro .cookie-modal, .klaro"),
    ("cookieconsent", ".cc-window, #cc-main, .cc-banner"),
    ("Iubenda", "#iubenda-cs-banner"),
    ("CookieYes", ".cky-consent-container, #cookie-law-info-bar"),
)


def detect_banner(page: Page) -> str | None:
    """ "consent_gate" for this package's banner, another manager's name, or None."""
    if page.locator(OURS).count():
        return "consent_gate"
    for name, selector in FOREIGN:
        if page.locator(selector).count():
            return name
    return None
