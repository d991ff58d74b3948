"""Partial page updates (htmx swaps, Turbo frames) in Chromium: the fragments are neutralised,
and the page keeps one banner however many times a part of it is swapped.

The page swaps `/cart` into itself as htmx does: a fetch with `HX-Request: true`, its HTML set
as the inner HTML of the target.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from consent_gate import ConsentGate, Policy

if TYPE_CHECKING:
    from conftest import LiveServer, VisitorFactory

PAGE = """<!doctype html><html lang="en"><head><title>Shop</title></head><body>
<h1>Shop</h1><div id="cart">empty</div>
<button id="load" type="button">Load cart</button>
<script>
document.getElementById("load").addEventListener("click", async () => {
  const response = await fetch("/cart", {headers: {"HX-Request": "true"}});
  document.getElementById("cart").innerHTML = await response.text();
  window.__swaps = (window.__swaps || 0) + 1;
});
</script>
</body></html>"""
CART = (
    '<p class="items">2 items</p>'
    '<img src="https://www.facebook.com/tr?id=1&ev=AddToCart" width="1" height="1">'
)


def shop() -> ConsentGate:
    async def home(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE)

    async def cart(request: Request) -> HTMLResponse:
        return HTMLResponse(CART)

    app = Starlette(routes=[Route("/", home), Route("/cart", cart)])
    return ConsentGate(app, secret_key="fragments-secret", policy=Policy.default())


@pytest.mark.browser
def test_swapped_fragments_add_no_banner_and_load_no_tracker(
    live: LiveServer, visit: VisitorFactory
) -> None:
    visitor = visit(live(shop()))
    served = visitor.served()
    visitor.load("/")

    for swaps in (1, 2, 3):
        visitor.page.click("#load")
        visitor.page.wait_for_function(f"() => window.__swaps === {swaps}")

    assert visitor.page.locator("#cart .items").inner_text() == "2 items"
    assert visitor.page.locator("#cg-root").count() == 1
    assert visitor.page.locator("#cg-banner").count() == 1
    assert visitor.page.evaluate("() => document.querySelectorAll('[id]').length") == len(
        set(visitor.page.evaluate("() => [...document.querySelectorAll('[id]')].map(e => e.id)"))
    )
    assert served == []
