"""The README's framework recipes, run as they stand: a copy-paste that fails is a bug."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
VISIT = Path(__file__).resolve().with_name("recipe_visit.py")
FRAMEWORKS = ["fastapi", "starlette", "django", "litestar", "quart"]
# <!-- recipe: NAME MODULE:APP --> and the python block after it: the file MODULE.py, served
# as `uvicorn MODULE:APP` would serve it.
MARKER = re.compile(r"<!-- recipe: (\S+) (\w+):(\w+) -->\n```python\n(.*?)```", flags=re.S)
TAG = 'src="https://www.googletagmanager.com/gtag/js'


@dataclass(frozen=True)
class Recipe:
    module: str
    app: str
    code: str


@dataclass(frozen=True)
class Seen:
    """One response as the visitor got it (decoded)."""

    status: int
    headers: list[tuple[str, str]]
    text: str

    def header(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name]


def recipes() -> dict[str, Recipe]:
    return {m[1]: Recipe(m[2], m[3], m[4]) for m in MARKER.finditer(README.read_text())}


def visit(tmp_path: Path, module: str, app: str, code: str) -> list[Seen]:
    """Serve `code` as `module.py` in a fresh interpreter: before, the decision, after."""
    (tmp_path / f"{module}.py").write_text(code)
    out = tmp_path / "seen.json"
    done = subprocess.run(
        [sys.executable, "-W", "error", str(VISIT), f"{module}:{app}", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    return [
        Seen(r["status"], [tuple(h) for h in r["headers"]], r["text"])
        for r in json.loads(out.read_text())
    ]


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENT_GATE_SECRET", "recipe-secret-0123456789abcdefghij")


def test_the_readme_has_one_recipe_per_framework() -> None:
    assert list(recipes()) == FRAMEWORKS


@pytest.mark.usefixtures("secret")
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_each_recipe_gates_its_page_until_the_visitor_accepts(
    framework: str, tmp_path: Path
) -> None:
    recipe = recipes()[framework]

    before, choice, after = visit(tmp_path, recipe.module, recipe.app, recipe.code)

    assert before.status == 200
    assert 'id="cg-banner"' in before.text
    assert f"data-cg-{TAG}" in before.text  # held back, not missing
    assert f" {TAG}" not in before.text
    assert "Analytics: off" in before.text
    assert choice.status == 200
    assert json.loads(choice.text)["choices"]["analytics"] is True
    assert any(c.startswith("__Host-consent_gate=") for c in choice.header("set-cookie"))
    assert after.status == 200
    assert 'id="cg-banner"' not in after.text
    assert f" {TAG}" in after.text
    assert "Analytics: on" in after.text  # the view read the choice


# What the recipes' notes say of compression: each framework's gzip, where it sits, still gets
# a gated page out (a gzip body the gate could not undo would fail closed: no page, no banner).
PAGE = (
    '<!doctype html><html lang="en"><head><title>Shop</title>'
    f'<script async {TAG}?id=G-1"></script></head><body>'
    + "<p>Widgets, gadgets and gizmos, shipped the same day.</p>" * 40
    + "</body></html>"
)
GATE = 'ConsentGate({}, secret_key="recipe-secret-0123456789abcdefghij")'
COMPRESSED = {
    "django-gzip-middleware-inside": f"""
from django.conf import settings
from django.core.asgi import get_asgi_application
from django.http import HttpResponse
from django.urls import path

from consent_gate import ConsentGate

settings.configure(
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["localhost"],
    MIDDLEWARE=["django.middleware.gzip.GZipMiddleware"],
)
urlpatterns = [path("", lambda request: HttpResponse({PAGE!r}))]
app = {GATE.format("get_asgi_application()")}
""",
    "litestar-compression-config-inside": f"""
from litestar import Litestar, MediaType, get
from litestar.config.compression import CompressionConfig

from consent_gate import ConsentGate


@get("/", media_type=MediaType.HTML)
async def home() -> str:
    return {PAGE!r}


app = {GATE.format('Litestar([home], compression_config=CompressionConfig(backend="gzip"))')}
""",
    "starlette-gzip-listed-first-outside": f"""
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import HTMLResponse
from starlette.routing import Route

from consent_gate import ConsentGate


async def home(request):
    return HTMLResponse({PAGE!r})


app = Starlette(
    routes=[Route("/", home)],
    middleware=[
        Middleware(GZipMiddleware),
        Middleware(ConsentGate, secret_key="recipe-secret-0123456789abcdefghij"),
    ],
)
""",
}


@pytest.mark.parametrize("setup", list(COMPRESSED))
def test_compressed_pages_come_out_gated(setup: str, tmp_path: Path) -> None:
    before, _, after = visit(tmp_path, "shop", "app", COMPRESSED[setup])

    assert before.header("content-encoding") == ["gzip"]  # the app's (or the outer) gzip
    assert 'id="cg-banner"' in before.text
    assert f"data-cg-{TAG}" in before.text
    assert f" {TAG}" not in before.text
    assert after.header("content-encoding") == ["gzip"]
    assert f" {TAG}" in after.text
