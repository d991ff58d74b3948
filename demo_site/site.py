"""The "Acme Widgets" site: a few Starlette pages full of trackers, wrapped in ConsentGate.

Serve it with `python -m demo_site`, or alone with
`uvicorn --factory demo_site.site:create_site`. Every page carries the tracking code a typical
marketing team pastes into a site template, exactly as the vendors ship it; the gate holds all
of it back until the visitor consents.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from consent_gate import ConsentGate, Policy, consent_of

__all__ = [
    "DEFAULT_TRACKER_ORIGIN",
    "DEV_SECRET",
    "POLICY_PATH",
    "PRODUCTS",
    "Product",
    "create_site",
    "load_policy",
]

HERE = Path(__file__).resolve().parent
POLICY_PATH = HERE / "consent.toml"
DEFAULT_TRACKER_ORIGIN = "http://127.0.0.1:8001"
DEV_SECRET = "acme-widgets-demo-dev-key--not-a-secret"
SERVER_COOKIE = "_demo_srv"
SERVER_COOKIE_MAX_AGE = 30 * 86400
MAX_FORM = 16 * 1024
_TRACKER_HOST = urlsplit(DEFAULT_TRACKER_ORIGIN).netloc


@dataclass(frozen=True)
class Product:
    slug: str
    name: str
    price: str
    tagline: str
    description: str
    youtube_id: str = ""
    partner_video: bool = False


PRODUCTS: tuple[Product, ...] = (
    Product(
        slug="widget-classic",
        name="Widget Classic",
        price="€19",
        tagline="The widget that started it all.",
        description=(
            "Machined from a single block of recycled aluminium, the Classic has been on "
            "desks since 1987. It does one thing, and it does it beautifully."
        ),
        youtube_id="aqz-KE-bpKQ",
    ),
    Product(
        slug="widget-pro",
        name="Widget Pro",
        price="€49",
        tagline="More widget for professionals.",
        description=(
            "Twice the torque, half the noise, and a matte finish that hides fingerprints "
            "(the other kind of fingerprint is our tracker's job, see below)."
        ),
        partner_video=True,
    ),
    Product(
        slug="widget-mini",
        name="Widget Mini",
        price="€9",
        tagline="Pocket-sized. Still a widget.",
        description=(
            "Everything you love about the Classic in a size that fits on your key ring. "
            "Available in five colours."
        ),
    ),
)
_BY_SLUG = {p.slug: p for p in PRODUCTS}


def load_policy(tracker_origin: str = DEFAULT_TRACKER_ORIGIN) -> Policy:
    """The demo's policy, with the tracker's address in it replaced when it runs elsewhere."""
    origin = _origin(tracker_origin)
    if origin == DEFAULT_TRACKER_ORIGIN:
        return Policy.from_toml(POLICY_PATH)
    text = POLICY_PATH.read_text("utf-8").replace(_TRACKER_HOST, urlsplit(origin).netloc)
    return Policy.from_dict(tomllib.loads(text))


def create_site(
    *,
    tracker_origin: str = DEFAULT_TRACKER_ORIGIN,
    secret_key: str | None = None,
) -> ConsentGate:
    """The demo site behind the gate; `tracker_origin` is where demo_site.tracker runs."""
    origin = _origin(tracker_origin)
    policy = load_policy(origin)
    secret = secret_key or os.environ.get("DEMO_SECRET") or DEV_SECRET

    def context(request: Request) -> dict[str, Any]:
        consent = consent_of(request)
        return {
            "tracker": origin,
            "consent": consent,
            "choices": {c: consent.allows(c) for c in policy.optional_categories},
            "gate": policy.prefix,
            "site_name": policy.site_name,
            "contact_email": policy.contact,
            "path": request.url.path,
            "products": PRODUCTS,
        }

    templates = Jinja2Templates(directory=HERE / "templates", context_processors=[context])

    async def home(request: Request) -> Response:
        response = templates.TemplateResponse(request, "home.html")
        # The site's own server-side analytics cookie: the gate strips it until consent.
        visit = request.cookies.get(SERVER_COOKIE) or secrets.token_hex(8)
        response.set_cookie(
            SERVER_COOKIE,
            visit,
            max_age=SERVER_COOKIE_MAX_AGE,
            path="/",
            httponly=True,
            samesite="lax",
        )
        return response

    async def products(request: Request) -> Response:
        return templates.TemplateResponse(request, "products.html")

    async def product(request: Request) -> Response:
        found = _BY_SLUG.get(request.path_params["slug"])
        if found is None:
            raise HTTPException(404)
        return templates.TemplateResponse(request, "product.html", {"product": found})

    async def about(request: Request) -> Response:
        return templates.TemplateResponse(request, "about.html")

    async def contact(request: Request) -> Response:
        if request.method == "GET":
            return templates.TemplateResponse(request, "contact.html", {"form": {}})
        form = await _read_form(request)
        missing = [key for key in ("name", "email", "message") if not form.get(key)]
        if missing:
            return templates.TemplateResponse(
                request,
                "contact.html",
                {"form": form, "missing": missing},
                status_code=400,
            )
        return templates.TemplateResponse(request, "contact.html", {"form": {}, "thanks": form})

    async def not_found(request: Request, exc: Exception) -> Response:
        return templates.TemplateResponse(request, "404.html", status_code=404)

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/products", products),
            Route("/products/{slug}", product),
            Route("/about", about),
            Route("/contact", contact, methods=["GET", "POST"]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        exception_handlers={404: not_found},
    )
    return ConsentGate(app, secret_key=secret, policy=policy)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"tracker_origin must look like 'http://127.0.0.1:8001', got {url!r}")
    return f"{parts.scheme}://{parts.netloc}".lower()


async def _read_form(request: Request) -> Mapping[str, str]:
    """The posted urlencoded form, first value per field, stripped; oversized bodies are cut."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise HTTPException(413, "The message is too long.")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[0].strip() for key, values in fields.items() if values}
