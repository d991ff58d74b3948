"""`consent-gate audit` exit codes when it cannot run: 2 and one line naming what is missing.

1 and 0 (the site failed or passed) need a browser: tests/browser/test_qa_toolkit.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

_SCRIPT = str(Path(sys.executable).with_name("consent-gate"))
# The command run in a Python where the qa extra (Playwright) cannot be imported.
_WITHOUT_PLAYWRIGHT = (
    "import sys; sys.modules['playwright'] = None; sys.argv[0] = 'consent-gate'; "
    "from consent_gate.cli import main; main()"
)


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}
    )


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("url", ["example.com", "ftp://example.com/", "http://", "javascript:1"])
def test_a_bad_url_exits_2(url: str) -> None:
    line = _one_line_error(_run(_SCRIPT, "audit", url))
    assert line == f"Error: {url!r} is not an http(s) URL"


def test_without_the_qa_extra_it_exits_2_naming_it() -> None:
    result = _run(sys.executable, "-c", _WITHOUT_PLAYWRIGHT, "audit", "http://127.0.0.1:1/")
    line = _one_line_error(result)
    assert "qa extra (playwright is missing)" in line
    assert "pip install 'consent-gate[qa]'" in line


def test_the_qa_extra_holds_what_audit_imports() -> None:
    """What audit needs beyond the core dependencies is Playwright, and the qa extra has it."""
    import tomllib

    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    qa = pyproject["project"]["optional-dependencies"]["qa"]
    assert [requirement.split(">")[0] for requirement in qa] == ["playwright"]
    core = " ".join(pyproject["project"]["dependencies"])
    assert "jinja2" in core  # the HTML report's templates


def test_a_missing_chromium_exits_2_naming_it() -> None:
    result = _run(
        _SCRIPT, "audit", "http://127.0.0.1:1/", env={"CONSENT_GATE_CHROMIUM": "/nonexistent"}
    )
    line = _one_line_error(result)
    assert line.startswith("Error: cannot start Chromium: CONSENT_GATE_CHROMIUM='/nonexistent'")


def test_a_chromium_that_will_not_start_exits_2() -> None:
    result = _run(
        _SCRIPT, "audit", "http://127.0.0.1:1/", env={"CONSENT_GATE_CHROMIUM": "/bin/false"}
    )
    assert _one_line_error(result).startswith("Error: cannot start Chromium: ")
