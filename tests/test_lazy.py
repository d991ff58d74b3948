"""Lazy package attributes: a failure inside the import names its cause."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from consent_gate._lazy import lazy_attributes


def test_an_attribute_error_while_importing_is_reported_as_the_import_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "lazypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "broken.py").write_text("import os\nos.no_such_function\nThing = 1\n")
    (package / "fine.py").write_text("Thing = 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    get = lazy_attributes("lazypkg", {"Thing": ".broken", "Other": ".fine"})
    try:
        with pytest.raises(ImportError, match="no_such_function"):
            get("Thing")
        with pytest.raises(AttributeError, match="no attribute 'Missing'"):
            get("Missing")
    finally:
        for name in [n for n in sys.modules if n.startswith("lazypkg")]:
            del sys.modules[name]
