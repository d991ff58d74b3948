"""Header names are case-insensitive: a framework that sends `Content-Type` must not slip past.

Django's ASGI handler sends response header names as the view wrote them; a gate comparing
bytes with lower-case names once let such pages through with no banner and live trackers.
"""

from __future__ import annotations

from typing import Any

import django
import httpx
from django.conf import settings

from asgi_client import Client
from consent_gate import ConsentGate, Policy
from consent_gate._types import Receive, Scope, Send
from consent_gate.consent import ConsentCodec

SECRET = "header-case-secret"
POLICY = Policy.default()
PAGE = (
    "<!doctype html><html><head><title>Shop</title>"
    '<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
    "</head><body><h1>Shop</h1>"
    '<img src="https://www.facebook.com/tr?id=1&ev=PageView" width="1" height="1">'
    "</body></html>"
)


def fetch(app: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    client = Client(app, base_url="https://shop.example")
    return client.get("/", headers={"accept": "text/html", **(headers or {})})


def assert_gated(response: httpx.Response) -> None:
    assert 'id="cg-banner"' in response.text
    assert ' src="https://www.googletagmanager.com/gtag/js' not in response.text
    assert ' src="https://www.facebook.com/tr' not in response.text
    assert not any(c.startswith("_ga=1") for c in response.headers.get_list("set-cookie"))
    assert response.headers["content-length"] == str(len(response.content))


async def mixed_case_app(scope: Scope, receive: Receive, send: Send) -> None:
    body = PAGE.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"Content-Type", b"text/html; charset=utf-8"),
                (b"Content-Length", str(len(body)).encode()),
                (b"Set-Cookie", b"_ga=1; Path=/"),
                (b"SET-COOKIE", b"sessionid=abc; Path=/"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def test_mixed_case_response_headers_are_gated() -> None:
    response = fetch(ConsentGate(mixed_case_app, secret_key=SECRET, policy=POLICY))

    assert_gated(response)
    assert any(c.startswith("sessionid=abc") for c in response.headers.get_list("set-cookie"))
    assert len(response.headers.get_list("content-length")) == 1


def test_mixed_case_request_headers_are_read() -> None:
    """A decision in a `Cookie` header named in capitals still counts."""
    codec = ConsentCodec(SECRET, POLICY)
    consent = codec.decide(set(POLICY.optional_categories))
    cookie = f"{codec.cookie_name(secure=True)}={codec.dumps(consent)}"
    gate = ConsentGate(mixed_case_app, secret_key=SECRET, policy=POLICY)
    seen: list[Any] = []

    async def capitalised(scope: Scope, receive: Receive, send: Send) -> None:
        scope = {**scope, "headers": [(k.title(), v) for k, v in scope["headers"]]}
        await gate(scope, receive, send)
        seen.append(scope["consent"].allows("analytics"))

    response = fetch(capitalised, {"cookie": cookie})

    assert seen == [True]
    assert ' src="https://www.googletagmanager.com/gtag/js' in response.text


def django_app() -> Any:
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="django-test",
            ALLOWED_HOSTS=["*"],
            ROOT_URLCONF=__name__,
            MIDDLEWARE=[],
            INSTALLED_APPS=[],
        )
        django.setup()
    from django.core.asgi import get_asgi_application

    return get_asgi_application()


def shop(request: Any) -> Any:
    from django.http import HttpResponse

    response = HttpResponse(PAGE)
    response.set_cookie("_ga", "1")
    response.set_cookie("sessionid", "abc")
    return response


def _urlpatterns() -> list[Any]:
    from django.urls import path

    return [path("", shop)]


def __getattr__(name: str) -> Any:  # Django reads ROOT_URLCONF's urlpatterns lazily
    if name == "urlpatterns":
        return _urlpatterns()
    raise AttributeError(name)


def test_a_real_django_site_is_gated() -> None:
    app = django_app()
    bare = fetch(app)
    assert bare.headers.get_list("set-cookie")[0].startswith("_ga=1")  # the app does set it

    response = fetch(ConsentGate(app, secret_key=SECRET, policy=POLICY))

    assert_gated(response)
    assert any(c.startswith("sessionid=abc") for c in response.headers.get_list("set-cookie"))
