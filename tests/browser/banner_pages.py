"""A plain page behind a gate with any policy: the banner's design tests look at it."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consent_gate import ConsentGate, Policy

SECRET = "layout-tests-" + "Zq81x" * 8
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
TEXT = "<p>" + "Acme makes widgets for every purpose. " * 40 + "</p>"


def design_site(policy: dict[str, Any], lang: str = "en", extra_body: str = "") -> ConsentGate:
    """A page with a link before its text and a tracker after it, in `lang`."""

    async def page(request: Request) -> Response:
        return HTMLResponse(
            f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<title>Acme</title></head><body><nav><a id="home" href="/">Acme</a></nav>'
            f"<h1>Widgets</h1>{extra_body}{TEXT * 3}"
            '<script src="https://www.googletagmanager.com/gtag/js?id=G-LAYOUT"></script>'
            "</body></html>"
        )

    return ConsentGate(
        Starlette(routes=[Route("/", page)]), secret_key=SECRET, policy=Policy.from_dict(policy)
    )
