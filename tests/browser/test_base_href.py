"""A page whose `<base href>` names another host (a CDN): relative URLs go there, so the gate's
banner would load its files from that host and post the visitor's choice to it. The banner's
URLs carry the page's origin on such a page, and it works as on any other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from consent_gate import ConsentGate, Policy

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import LiveServer, VisitorFactory

PAGE = (
    '<!doctype html><html lang="en"><head><base href="https://cdn.example.net/assets/">'
    "<title>Based</title></head><body><h1>Based</h1>"
    '<img src="https://www.facebook.com/tr?id=1&amp;ev=PageView" width="1" height="1">'
    "</body></html>"
)


def based_app() -> ConsentGate:
    async def home(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE)

    app = Starlette(routes=[Route("/", home)])
    return ConsentGate(app, secret_key="base-href-secret", policy=Policy.default())


@pytest.mark.browser
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_the_banner_works_on_a_page_based_on_another_host(
    live: LiveServer, visit: VisitorFactory, javascript: bool
) -> None:
    base_url = live(based_app())
    visitor = visit(base_url, javascript_enabled=javascript)
    served = visitor.served()

    visitor.page.goto("/")
    if javascript:
        visitor.wait_for_banner_script()  # banner.js came from the site, not the CDN
    position = visitor.page.evaluate(
        "() => getComputedStyle(document.getElementById('cg-banner')).position"
    )
    assert position == "fixed"  # banner.css came from the site too
    visitor.banner.get_by_role("button", name="Accept all").click()
    visitor.page.wait_for_load_state("load")

    assert "consent_gate" in visitor.wait_for_cookies({"consent_gate"})
    assert "cdn.example.net" not in " ".join(served)
