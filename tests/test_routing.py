"""How the gate routes `{prefix}/...` (what each endpoint does: test_endpoints.py): the methods
each takes (a 405 with `Allow` otherwise), 404 for whatever it does not serve, never a redirect,
the same answers inside a Starlette app and under a mounted one, one router built at start-up."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
import starlette.routing
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount

from asgi_client import Client, call, http_scope, respond, run
from consent_gate import ConsentGate, Policy

PAGE = b"<!doctype html><html><head></head><body><p>Shop</p></body></html>"
TOKEN = "owner-token"
SAME_ORIGIN = {"origin": "https://testserver"}
PAGES = ["/dialog", "/preferences", "/policy", "/policy.json", "/static/banner.js", "/reports"]
POSTED = ["/consent", "/reports/csp", "/reports/fingerprint", "/reports/unknown"]


@pytest.fixture
def client(gate_factory: Callable[..., ConsentGate]) -> Client:
    """A gate that serves every endpoint (the report summary needs a token)."""
    return Client(gate_factory(reports_token=TOKEN))


def _answered_by_the_gate(response: Any, status: int, text: str) -> None:
    assert response.status_code == status
    assert response.text == text
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert "location" not in response.headers


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_pages_and_files_take_get_and_head_only(client: Client, path: str, method: str) -> None:
    response = client.request(method, f"/consent-gate{path}", headers=SAME_ORIGIN)
    _answered_by_the_gate(response, 405, "Method not allowed")
    assert response.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize("path", PAGES)
def test_head_is_answered_wherever_get_is(client: Client, path: str) -> None:
    auth = {"authorization": f"Bearer {TOKEN}"}
    get = client.get(f"/consent-gate{path}", headers=auth)
    head = client.request("HEAD", f"/consent-gate{path}", headers=auth)
    assert get.status_code == head.status_code == 200
    assert head.headers["content-type"] == get.headers["content-type"]


@pytest.mark.parametrize("path", POSTED)
@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_choices_and_reports_take_post_only(client: Client, path: str, method: str) -> None:
    response = client.request(method, f"/consent-gate{path}", headers=SAME_ORIGIN)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    if method != "HEAD":
        _answered_by_the_gate(response, 405, "Method not allowed")


@pytest.mark.parametrize(
    "path",
    [
        "/consent-gate",
        "/consent-gate/",
        "/consent-gate//consent",
        "/consent-gate/nope",
        "/consent-gate/Consent",
        "/consent-gate/consent/",
        "/consent-gate/consent/extra",
        "/consent-gate/consent\n",
        "/consent-gate/preferences/",
        "/consent-gate/policy\n",
        "/consent-gate/policy.json/",
        "/consent-gate/reports/",
        "/consent-gate/reports/nope",  # a kind nobody registered: no such resource
        "/consent-gate/reports/csp/",
        "/consent-gate/reports/csp\n",
        "/consent-gate/static",
        "/consent-gate/static/",
        "/consent-gate/static/nope.js",
        "/consent-gate/static/banner.js/",
        "/consent-gate/static/banner.js/x",
        "/consent-gate/static/../policy",
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_what_the_gate_does_not_serve_is_404_whatever_the_method(
    gate_factory: Callable[..., ConsentGate], path: str, method: str
) -> None:
    """Raw ASGI (httpx would normalise the path); never a redirect to a neighbouring route."""
    sent = run(gate_factory(reports_token=TOKEN), method, path, [(b"host", b"testserver")])
    assert (sent.status, sent.body) == (404, b"Not found")
    assert sent.values(b"location") == []


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_without_a_token_the_report_summary_is_not_there(
    gate_factory: Callable[..., ConsentGate], method: str
) -> None:
    response = Client(gate_factory()).request(method, "/consent-gate/reports")
    _answered_by_the_gate(response, 404, "Not found")


def test_inside_a_starlette_app_the_gate_still_answers_its_misses_itself() -> None:
    """There `scope["app"]` is set, and Starlette's router would raise HTTPException (a 500:
    nothing between the gate and the server handles it) instead of answering."""
    app = Starlette(middleware=[Middleware(ConsentGate, secret_key="k" * 40)])
    client = Client(app)
    _answered_by_the_gate(client.get("/consent-gate/consent"), 405, "Method not allowed")
    _answered_by_the_gate(client.get("/consent-gate/nope"), 404, "Not found")
    assert client.get("/consent-gate/policy.json").status_code == 200


def test_a_gate_mounted_under_a_path_serves_the_prefix_it_was_given() -> None:
    """Mounted at /shop, the gate's prefix is the path the browser asks for (the banner links
    it as it is): /shop/consent-gate, matched against the whole path, as the gate takes it."""
    policy = dataclasses.replace(Policy.default(), prefix="/shop/consent-gate")
    gate = ConsentGate(respond(PAGE), secret_key="k" * 40, policy=policy)
    client = Client(Starlette(routes=[Mount("/shop", app=gate)]))
    assert client.get("/shop/consent-gate/preferences").status_code == 200
    chose = client.post(
        "/shop/consent-gate/consent",
        data={"action": "reject_all", "next": "/shop/"},
        headers=SAME_ORIGIN,
    )
    assert (chose.status_code, chose.headers["location"]) == (303, "/shop/")
    _answered_by_the_gate(client.get("/shop/consent-gate/nope"), 404, "Not found")
    _answered_by_the_gate(client.get("/shop/consent-gate/consent"), 405, "Method not allowed")


def test_a_path_given_below_the_servers_root_path_is_routed_as_it_is(
    gate: ConsentGate,
) -> None:
    """A server that keeps root_path out of the path (the older reading of ASGI)."""
    scope = http_scope("GET", "/consent-gate/policy.json", [(b"host", b"testserver")])
    scope["root_path"] = "/shop"
    assert asyncio.run(call(gate, scope)).status == 200


def test_the_router_leaves_the_callers_scope_alone(gate: ConsentGate) -> None:
    scope = http_scope("GET", "/consent-gate/static/banner.css", [(b"host", b"testserver")])
    keys = set(scope)
    assert asyncio.run(call(gate, scope)).status == 200
    assert set(scope) == keys
    assert scope["root_path"] == ""


def test_the_router_is_built_once_at_start_up(
    gate_factory: Callable[..., ConsentGate], monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = gate_factory(reports_token=TOKEN)
    router = gate.endpoints.router
    built: list[str] = []
    compile_path = starlette.routing.compile_path
    router_init = starlette.routing.Router.__init__

    def compiling(path: str) -> Any:
        built.append(path)
        return compile_path(path)

    def new_router(self: starlette.routing.Router, *args: Any, **kwargs: Any) -> None:
        built.append("Router")
        router_init(self, *args, **kwargs)

    monkeypatch.setattr(starlette.routing, "compile_path", compiling)
    monkeypatch.setattr(starlette.routing.Router, "__init__", new_router)
    client = Client(gate)
    for path in [*PAGES, "/nope"]:
        client.get(f"/consent-gate{path}", headers={"authorization": f"Bearer {TOKEN}"})
    for path in POSTED:
        client.post(f"/consent-gate{path}", json={"action": "accept_all"}, headers=SAME_ORIGIN)
    assert built == []
    assert gate.endpoints.router is router
