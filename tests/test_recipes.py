"""The README's framework recipes, run as they stand: a copy-paste that fails is a bug."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def recipe(name: str) -> str:
    """The Python block that follows `<!-- recipe: name -->` in the README."""
    found = re.search(
        rf"<!-- recipe: {name} -->\n```python\n(.*?)```", README.read_text(), flags=re.S
    )
    assert found is not None, f"no recipe {name!r} in the README"
    return found.group(1)


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENT_GATE_SECRET", "recipe-secret-0123456789abcdefghij")


@pytest.mark.usefixtures("secret")
def test_the_fastapi_recipe_gates_its_page_until_the_visitor_accepts() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(recipe("fastapi"), "app.py", "exec"), namespace)
    transport = httpx.ASGITransport(app=namespace["app"])

    async def visit() -> tuple[httpx.Response, httpx.Response]:
        async with httpx.AsyncClient(transport=transport, base_url="https://shop.example") as c:
            before = await c.get("/", headers={"accept": "text/html"})
            choice = await c.post(
                "/consent-gate/consent",
                json={"action": "accept_all"},
                headers={"origin": "https://shop.example"},
            )
            assert choice.status_code == 200
            return before, await c.get("/", headers={"accept": "text/html"})

    before, after = asyncio.run(visit())

    assert 'id="cg-banner"' in before.text
    assert ' src="https://www.googletagmanager.com/gtag/js' not in before.text
    assert "Analytics: off" in before.text
    assert 'id="cg-banner"' not in after.text
    assert ' src="https://www.googletagmanager.com/gtag/js' in after.text
    assert "Analytics: on" in after.text
