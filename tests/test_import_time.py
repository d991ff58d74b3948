"""Importing the gate is cheap: its heavy dependencies load when a gate is built, not before.

A site imports the gate in every worker, every CLI run and every test process, most of which
never build one; the budget (issue 11) is 150 ms for `from consent_gate import ConsentGate`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

IMPORT = "from consent_gate import ConsentGate"
BUDGET = 0.150
# A fixed piece of pure-Python work, timed in the same interpreter just before the import, and
# its CPU time on this project's 2-core reference machine when quiet. Under a long full-suite
# run the machine's CPUs slow down (the import took 82 ms quiet and 152 ms late in `make
# test`, the workload 55 ms and about 100 ms): the import's time is scaled by how much slower
# the workload ran, never sped up on a faster machine.
CALIBRATION = "sum(i * i for i in range(1_000_000))"
REFERENCE = 0.055

# Loaded only once a gate is built (or never, for the optional ones): each costs 10-80 ms.
HEAVY = (
    "asyncio",  # the server has it already; the gate's import must not pay for it
    "jinja2",
    "starlette",
    "anyio",
    "ua_parser",
    "yaml",
    "user_agents",
    "email.utils",
    "subprocess",
    "sqlite3",
    "psycopg",
    "click",
    "playwright",
    "consent_gate.endpoints",
    "consent_gate.routing",
    "consent_gate.storage.log",
    "consent_gate.storage.sql",
)


def _run(code: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return done.stdout


def test_importing_the_gate_loads_nothing_heavy() -> None:
    code = f"import json, sys; {IMPORT}; print(json.dumps(sorted(sys.modules)))"
    loaded = set(json.loads(_run(code)))
    assert [name for name in HEAVY if name in loaded] == []


def test_building_a_gate_loads_what_it_needs() -> None:
    """The other side of the lazy imports: they do happen, when the gate is built."""
    code = (
        f"import json, sys; {IMPORT}; "
        "ConsentGate(None, secret_key='k' * 40, store='sqlite:///:memory:'); "
        "print(json.dumps(sorted(sys.modules)))"
    )
    loaded = set(json.loads(_run(code)))
    assert {"jinja2", "consent_gate.endpoints", "consent_gate.storage.log"} <= loaded


def test_importing_the_gate_takes_at_most_150_ms(tmp_path: Path) -> None:
    """CPU time of the import in a fresh interpreter, best of up to seven: CPU rather than wall
    time, so other processes on a busy machine do not count; scaled to the reference machine's
    speed (see CALIBRATION); and the best run, so a stray slow one does not count. Bytecode is
    cached (in `tmp_path`) as an installed package has it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(tmp_path)
    code = (
        f"import time; start = time.process_time(); {CALIBRATION}; "
        "work = time.process_time() - start; "
        f"start = time.process_time(); {IMPORT}; print(time.process_time() - start, work)"
    )
    _run(code, env)  # writes the bytecode
    runs = []
    for _ in range(7):
        taken, work = map(float, _run(code, env).split())
        runs.append(taken * min(1.0, REFERENCE / work))
        if min(runs) <= BUDGET:
            break
    assert min(runs) <= BUDGET, f"{min(runs) * 1000:.0f} ms (scaled), best of {len(runs)}"
