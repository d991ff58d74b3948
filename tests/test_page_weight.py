"""What the gate adds to every page: the budget that keeps it from weighing on the site.

Everything that depends only on the policy (the run-time gate's rules, the fingerprinting
guard, the cookie names to clear) is in cached static files; a page carries the banner's
markup and a few hundred bytes that depend on the visitor.
"""

from __future__ import annotations

import gzip

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from asgi_client import Client
from consent_gate import ConsentGate, Policy
from test_csp import browser

PAGE = "<!doctype html><html><head><title>t</title></head><body><p>hello</p></body></html>"
UNDECIDED_BUDGET = 10 * 1024
DECIDED_BUDGET = 2 * 1024


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


def client(**policy: object) -> Client:
    app = Starlette(routes=[Route("/", page)])
    return browser(ConsentGate(app, "k3J9x!q2Lw8#zP4vR7tY1uI0oA5sD6fG", Policy.from_dict(policy)))


@pytest.mark.parametrize(
    "policy",
    [
        {},  # the built-in catalogue: well over a thousand services the run-time gate knows
        {"csp": {"mode": "enforce"}, "google_consent_mode": {"enabled": True}},
        {"unknown": {"third_parties": "hold"}},
    ],
)
def test_an_undecided_page_grows_by_at_most_10_kb(policy: dict[str, object]) -> None:
    gated = client(**policy).get("/")
    added = len(gated.content) - len(PAGE.encode())
    assert 0 < added <= UNDECIDED_BUDGET, added
    assert "Accept all" in gated.text


# Google Consent Mode, when a site turns it on, adds its defaults and signal map inline (about
# 0.9 KB: they must be set before any of Google's tags runs), on top of this budget.
@pytest.mark.parametrize("action", ["accept_all", "reject_all"])
@pytest.mark.parametrize("policy", [{}, {"csp": {"mode": "enforce"}}])
def test_a_decided_page_grows_by_at_most_2_kb(action: str, policy: dict[str, object]) -> None:
    visitor = client(**policy)
    assert visitor.post("/consent-gate/consent", json={"action": action}).status_code == 200
    decided = visitor.get("/")
    added = len(decided.content) - len(PAGE.encode())
    assert 0 < added <= DECIDED_BUDGET, added
    assert 'id="cg-settings"' in decided.text  # the way back to the choice stays
    assert 'id="cg-preferences"' not in decided.text  # the dialog comes when it is opened
    dialog = visitor.get("/consent-gate/dialog?next=/&lang=en")
    assert dialog.text.startswith('<div id="cg-preferences"')


def test_the_policy_part_is_cached_not_carried() -> None:
    visitor = client()
    undecided = visitor.get("/").text
    runtime = visitor.get(undecided.split('src="')[2].split('"')[0])  # after guard.js
    assert "google-analytics.com" in runtime.text  # the catalogue's rules are in the file
    assert "google-analytics.com" not in undecided
    assert runtime.headers["cache-control"].endswith("immutable")
    compressed = visitor.get(runtime.url.raw_path.decode(), headers={"accept-encoding": "gzip"})
    assert compressed.headers["content-encoding"] == "gzip"
    assert len(gzip.compress(runtime.content)) < len(runtime.content) / 2
