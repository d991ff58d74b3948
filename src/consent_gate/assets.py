"""The files the gate serves under `{prefix}/static/`, each pinned by a version and a hash.

What a page needs besides the banner's markup lives here rather than inline, so a page carries
a few hundred bytes of the gate's script instead of tens of kilobytes: a versioned URL is
cached for good, and the integrity hash lets the browser refuse a file that is not ours.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import mimetypes
from dataclasses import dataclass

__all__ = ["Asset", "Assets"]


@dataclass(frozen=True)
class Asset:
    body: bytes
    media: str
    version: str  # changes whenever the body does: the URL may be cached for good
    integrity: str  # Subresource Integrity, for the elements that load it
    gzipped: bytes  # compressed once, for the browsers that take it (all of them)


class Assets:
    """The served files by name, built once when the gate starts."""

    def __init__(self, prefix: str) -> None:
        self.base = f"{prefix}/static"
        self._files: dict[str, Asset] = {}

    def add(self, name: str, body: bytes, version: str | None = None) -> Asset:
        """`version`: one shared by files the templates link under a single version (the
        banner's); by default the file's own hash."""
        asset = Asset(
            body,
            mimetypes.guess_type(name)[0] or "application/octet-stream",
            version or hashlib.sha256(body).hexdigest()[:12],
            "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode("ascii"),
            gzip.compress(body, compresslevel=9, mtime=0),
        )
        self._files[name] = asset
        return asset

    def url(self, name: str) -> str:
        return f"{self.base}/{name}?v={self._files[name].version}"

    def get(self, name: str) -> Asset | None:
        return self._files.get(name)

    def __getitem__(self, name: str) -> Asset:
        return self._files[name]

    def __contains__(self, name: str) -> bool:
        return name in self._files
