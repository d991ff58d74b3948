"""The built-in services: a hand-written catalogue and one generated from public data."""

from __future__ import annotations

import json
import tomllib
from functools import cache
from importlib import resources

from .model import Service
from .problems import Problems

__all__ = ["extended_catalogue", "load_catalogue"]


def load_catalogue() -> tuple[Service, ...]:
    """The built-in services: the hand-written catalogue, then the extended one generated
    from public data (tools/catalogue), whose entries never replace a hand-written one."""
    curated = _catalogue_file("catalogue.toml")
    ids = {s.id for s in curated}
    return curated + tuple(s for s in extended_catalogue() if s.id not in ids)


@cache
def extended_catalogue() -> frozenset[Service]:
    """The generated entries: recognised and held back like any service, but listed on the
    policy page and allowed in the CSP only when the site's `uses` names them (a thousand
    services nobody chose would bloat both)."""
    return frozenset(_catalogue_file("catalogue-extended.json"))


@cache
def _catalogue_file(name: str) -> tuple[Service, ...]:
    """One catalogue file, parsed once per process: every policy built after the first one
    reuses it (the services are immutable). The generated one is JSON, parsed in C: tomllib
    took a second over its thousand entries."""
    text = resources.files("consent_gate").joinpath(name).read_text("utf-8")
    data = json.loads(text) if name.endswith(".json") else tomllib.loads(text)
    from .reader import Reader, read_service  # which reads policies, the catalogue's included

    problems = Problems()
    reader = Reader(data, name.rpartition(".")[0], problems)
    reader.get("_comment", str, "")
    services = reader.table("services")
    found = tuple(read_service(key, services.table(key)) for key in services.names())
    reader.reject_unknown()
    problems.raise_any()
    return found
