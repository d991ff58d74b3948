"""Whether the consent log's files can be made where the settings put them, asked when the gate
is built: a wrong path must stop the site from starting, not leave decisions it cannot keep."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import StorageError

__all__ = ["LogLocationError", "check_writable"]


class LogLocationError(StorageError, OSError):
    """The consent log cannot be written where the settings put it; names the setting."""


def check_writable(path: Path, setting: str, *, directory: bool) -> None:
    """Raise `LogLocationError` naming `setting` unless this process could create (or write)
    `path`, a directory or a file. Creates nothing: building a gate has no side effects."""
    reason = _unwritable(path, directory=directory)
    if reason is not None:
        kind = "directory" if directory else "file"
        raise LogLocationError(f"{setting}: cannot write the consent log's {kind} {path}: {reason}")


def _unwritable(path: Path, *, directory: bool) -> str | None:
    if path.exists():
        if path.is_dir() != directory:
            return "it is a directory" if path.is_dir() else "it is not a directory"
        if not os.access(path, os.W_OK | os.X_OK if directory else os.W_OK):
            return "it is not writable"
        if directory:
            return None
    ancestor = path.parent  # the directory to create the path in: the nearest one that exists
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"{ancestor} is a file, not a directory"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"{ancestor} is not writable"
    return None
