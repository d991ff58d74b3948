"""Reflected script injection through the gate's own markup, tried in a real Chromium.

A request path once reached the banner's hidden `next` input and the "Cookie settings" link as
attributes (`autofocus onfocus=alert(1)`), and the script ran with no click, on every page and
on the app's 404, under both CSP modes. Here the page must run nothing of the attacker's, and
the gate's policy must refuse inline handlers whatever the markup says.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from consent_gate import ConsentGate, Policy
from consent_gate.policy import CspSettings

if TYPE_CHECKING:
    from conftest import LiveServer, VisitorFactory

PAGE = '<!doctype html><html lang="en"><head><title>Shop</title></head><body><h1>Shop</h1>'
PAYLOADS = [
    "/x__cg_next__%20__cg_nonce__%20autofocus%20onfocus=window.__pwned=1%20y",
    "/x__cg_next_q__%22%20autofocus%20onfocus=window.__pwned=1%20x=",
    "/%22%3E%3Cimg%20src=x%20onerror=window.__pwned=1%3E",
    "/?q=__cg_next__%22%3E%3Csvg%20onload=window.__pwned=1%3E",
]


def shop_app(mode: str) -> ConsentGate:
    async def home(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE + "</body></html>")

    async def missing(request: Request, exc: Exception) -> HTMLResponse:
        return HTMLResponse(PAGE + "<p>Not found</p></body></html>", status_code=404)

    app = Starlette(routes=[Route("/", home)], exception_handlers={404: missing})
    policy = dataclasses.replace(Policy.default(), csp=CspSettings(mode=mode))  # type: ignore[arg-type]
    return ConsentGate(app, secret_key="injection-browser-secret", policy=policy)


@pytest.mark.browser
@pytest.mark.parametrize("mode", ["report-only", "enforce"])
@pytest.mark.parametrize("path", PAYLOADS)
def test_a_crafted_address_runs_nothing(
    live: LiveServer, visit: VisitorFactory, mode: str, path: str
) -> None:
    base_url = live(shop_app(mode))
    visitor = visit(base_url)
    dialogs: list[str] = []
    visitor.page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    visitor.page.goto(path)
    visitor.wait_for_banner_script()
    visitor.page.keyboard.press("Tab")  # focus moves through the banner: no handler fires
    visitor.page.wait_for_timeout(300)

    assert visitor.page.evaluate("() => window.__pwned") is None
    assert dialogs == []
    handlers = visitor.page.evaluate(
        """() => [...document.querySelectorAll('*')].flatMap(
            (el) => [...el.attributes].map((a) => a.name).filter((n) => n.startsWith('on')))"""
    )
    assert handlers == []
    assert visitor.banner.is_visible()
