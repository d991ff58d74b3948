"""The wheel, installed as a user installs it: a fresh virtualenv, nothing from this checkout.

Installing consent-gate registers a pytest plugin in every project of that environment, so it
must not disturb them: an unrelated project's tests run as before, and the plugin imports
nothing of the gate (nor uvicorn, nor Playwright) until one of its fixtures is used. The core
install alone gates a page; and the plugin works next to pytest-playwright.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CONSENT_GATE_CHROMIUM") or shutil.which("chromium")

pytestmark = pytest.mark.timeout(600)


def run(*command: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    ok(run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, ROOT))
    (found,) = out.glob("consent_gate-*.whl")
    return found


def venv(path: Path, *requirements: str | Path) -> Path:
    ok(run(sys.executable, "-m", "venv", path))
    python = path / "bin" / "python"
    ok(run(python, "-m", "pip", "install", "-q", *requirements))
    return python


def test_the_wheel_ships_the_catalogue_data_with_its_licences(wheel: Path) -> None:
    """The generated catalogue carries Apache-2.0 and MIT data: its notices go with it, and
    the metadata names both licences; the build tooling stays out."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata,) = (n for n in names if n.endswith(".dist-info/METADATA"))
        fields = archive.read(metadata).decode()
    assert {
        "consent_gate/catalogue.toml",
        "consent_gate/catalogue-extended.json",
        "consent_gate/LICENSES/Apache-2.0.txt",
        "consent_gate/LICENSES/third-party-web.MIT.txt",
        "consent_gate/LICENSES/tarteaucitron.MIT.txt",
        "consent_gate/LICENSES/THIRD_PARTY_DATA.md",
    } <= names
    assert not any(n.startswith("tools/") for n in names)
    assert "License-Expression: MIT AND Apache-2.0" in fields


@pytest.fixture(scope="module")
def core(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with the wheel (no extras) and pytest, as an unrelated project has."""
    return venv(tmp_path_factory.mktemp("core") / "venv", wheel, "pytest")


UNRELATED = {
    "test_unrelated.py": """
        import sys

        def test_arithmetic():
            assert 1 + 1 == 2

        def test_the_plugin_loaded_nothing_heavy():
            assert "consent_gate.qa.plugin" in sys.modules
            heavy = ["consent_gate.middleware", "consent_gate.policy", "uvicorn", "playwright"]
            assert [name for name in heavy if name in sys.modules] == []
    """,
}


def write(project: Path, files: dict[str, str]) -> Path:
    project.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (project / name).write_text(textwrap.dedent(text))
    return project


def test_an_unrelated_project_runs_unharmed(core: Path, tmp_path: Path) -> None:
    project = write(tmp_path / "unrelated", UNRELATED)
    out = ok(run(core, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project))
    assert "2 passed" in out


def test_the_core_install_gates_a_page(core: Path, tmp_path: Path) -> None:
    script = """
        import asyncio
        from consent_gate import ConsentGate, __version__

        async def app(scope, receive, send):
            body = b'<html><body><script src="https://www.googletagmanager.com/gtag/js"></script></body></html>'
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/html")]})
            await send({"type": "http.response.body", "body": body})

        gate = ConsentGate(app, secret_key="a-long-random-secret-for-the-test")
        sent = []

        async def receive():
            return {"type": "http.request", "body": b""}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": "/", "query_string": b"",
                 "headers": [(b"host", b"shop.example")], "scheme": "https"}
        asyncio.run(gate(scope, receive, send))
        page = b"".join(m.get("body", b"") for m in sent)
        assert b'id="cg-banner"' in page, page
        assert b' src="https://www.googletagmanager.com' not in page
        print(__version__)
    """
    # psycopg is the postgres extra's: without it, a PostgreSQL log says what to install.
    no_psycopg = """
        from consent_gate.storage import open_store
        try:
            open_store("postgresql://127.0.0.1:9/log")
        except ValueError as exc:
            print(exc)
    """
    write(tmp_path, {"gate.py": script, "pg.py": no_psycopg})
    assert "consent-gate[postgres]" in ok(run(core, tmp_path / "pg.py"))
    path = tmp_path / "gate.py"
    version = ok(run(core, path, cwd=tmp_path)).strip()
    metadata = "import importlib.metadata as m; print(m.version('consent-gate'))"
    assert version == ok(run(core, "-c", metadata)).strip()


@pytest.mark.skipif(CHROMIUM is None, reason="needs a Chromium (make chromium installs one)")
def test_the_plugin_works_next_to_pytest_playwright(
    wheel: Path, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    python = venv(
        tmp_path_factory.mktemp("pwt") / "venv", f"{wheel}[qa]", "pytest", "pytest-playwright"
    )
    project = write(
        tmp_path / "qa",
        {
            "test_site.py": """
                def test_a_page_with_a_tracker_is_recorded(tracking_context, page):
                    context, recorder = tracking_context("http://127.0.0.1:9/")
                    tab = context.new_page()
                    tab.set_content(
                        '<img src="https://www.facebook.com/tr?id=1&ev=PageView">'
                    )
                    recorder.wait_for("facebook.com")
                    assert recorder.hosts() == {"www.facebook.com"}
            """,
            "conftest.py": """
                import pytest
                from consent_gate.qa import launch_chromium

                @pytest.fixture(scope="session")
                def browser(playwright):  # pytest-playwright's own, on the same Chromium
                    browser = launch_chromium(playwright)
                    yield browser
                    browser.close()
            """,
        },
    )
    out = ok(run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project))
    assert "1 passed" in out


def test_the_wheel_ships_the_audit_report_template(wheel: Path) -> None:
    """`consent-gate audit --html` renders a template from the package, not from a checkout."""
    assert "consent_gate/templates/audit.html" in zipfile.ZipFile(wheel).namelist()
