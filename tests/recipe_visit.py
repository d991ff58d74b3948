"""Serve one app module from the working directory in-process and visit it as a new visitor.

Run as `python recipe_visit.py module:attr out.json`, in a fresh interpreter per app, because
some frameworks (Django's settings, its URL resolver) are configured once per process. Writes the
three responses — the first page, the "Accept all" decision, the page again — as JSON to a file
(frameworks may log to stdout), for the test to judge.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys
from typing import Any

import httpx

ORIGIN = "https://localhost"


async def visit(app: Any) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
        before = await client.get("/", headers={"accept": "text/html"})
        choice = await client.post(
            "/consent-gate/consent", json={"action": "accept_all"}, headers={"origin": ORIGIN}
        )
        return [before, choice, await client.get("/", headers={"accept": "text/html"})]


def main(target: str, out: str) -> None:
    module, _, name = target.partition(":")
    sys.path[0] = os.getcwd()  # the app's file, as `uvicorn module:name` would find it
    if module in sys.modules:  # `site`, `json`...: the name would not reach the file
        raise SystemExit(f"{module!r} is already imported: name the app's file otherwise")
    app = getattr(importlib.import_module(module), name)
    responses = asyncio.run(visit(app))
    seen = [
        {"status": r.status_code, "headers": r.headers.multi_items(), "text": r.text}
        for r in responses
    ]
    with open(out, "w", encoding="utf-8") as file:
        json.dump(seen, file)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
