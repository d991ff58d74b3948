"""tests/data/sdks: each bundled SDK says where it comes from, under which licence, and how to
rebuild it, and the files are the ones described."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

SDKS = Path(__file__).resolve().parent / "data" / "sdks"
SOURCES: dict[str, Any] = tomllib.loads((SDKS / "SOURCES.toml").read_text("utf-8"))
# Licences under which the bundles may sit in this MIT repository.
REDISTRIBUTABLE = {"MIT", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "ISC", "0BSD"}


@pytest.mark.parametrize("name", sorted(SOURCES["sdks"]))
def test_each_bundle_is_described_and_redistributable(name: str) -> None:
    sdk = SOURCES["sdks"][name]
    assert set(re.split(r" AND | OR ", sdk["licence"].strip("()"))) <= REDISTRIBUTABLE
    assert (SDKS / sdk["entry"]).is_file()
    output = SDKS / sdk["output"]
    assert output.stat().st_size == sdk["bytes"]
    assert "window.__sdkRan" in output.read_text("utf-8")  # built from its entry


@pytest.mark.parametrize("name", sorted(SOURCES["sdks"]))
def test_each_package_is_pinned_for_the_rebuild(name: str) -> None:
    sdk = SOURCES["sdks"][name]
    manifest = json.loads((SDKS / "entries" / "package.json").read_text("utf-8"))
    lock = json.loads((SDKS / SOURCES["build"]["lock"]).read_text("utf-8"))
    assert manifest["dependencies"][sdk["package"]] == sdk["version"]
    assert lock["packages"][f"node_modules/{sdk['package']}"]["version"] == sdk["version"]


def test_no_file_is_left_undescribed() -> None:
    outputs = {sdk["output"] for sdk in SOURCES["sdks"].values()}
    entries = {sdk["entry"] for sdk in SOURCES["sdks"].values()}
    assert {p.name for p in SDKS.glob("*.js")} == outputs
    assert {f"entries/{p.name}" for p in (SDKS / "entries").glob("*.js")} == entries
