"""A gated site under a real uvicorn, for the fault tests: `python fault_server.py PORT WORKERS`.

The store and the journal's directory come from CONSENT_DSN and CONSENT_JOURNAL, and
CONSENT_FSYNC=1 turns fsync on (the worker processes uvicorn spawns import `fault_server:app` and
read them too). Log lines go to stderr.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys

import uvicorn

from consent_gate import ConsentGate, Policy
from consent_gate._types import Receive, Scope, Send
from consent_gate.policy import LogSettings


async def _site(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _gate() -> ConsentGate:
    log = LogSettings(
        dsn=os.environ["CONSENT_DSN"],
        journal=os.environ["CONSENT_JOURNAL"],
        fsync=os.environ.get("CONSENT_FSYNC") == "1",
        per_minute=1_000_000,  # the load comes from one address
    )
    policy = dataclasses.replace(Policy.default(), log=log)
    return ConsentGate(_site, secret_key="faults", policy=policy)


logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(process)d %(message)s")
app = _gate()

if __name__ == "__main__":
    port, workers = int(sys.argv[1]), int(sys.argv[2])
    target = "fault_server:app" if workers > 1 else app
    uvicorn.run(
        target,
        host="127.0.0.1",
        port=port,
        workers=workers,
        lifespan="on",
        log_level="warning",
        log_config=None,
        timeout_graceful_shutdown=5,
    )
