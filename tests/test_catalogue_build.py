"""tools/catalogue/build.py: how it reads the Open Cookie Database's cookie parties."""

from __future__ import annotations

from typing import Any

import pytest
from tools.catalogue import build

LOCK = {
    "third-party-web": {"package": "third-party-web@0.30.0"},
    "tarteaucitron": {"package": "tarteaucitronjs@1.34.0"},
    "open-cookie-database": {"commit": "0ee5a17fe1cb002943f89370d24fc26a4226061c"},
}
ENTITY = {"name": "Acme Stats", "category": "analytics", "domains": ["*.acme-stats.example"]}


def ocd_row(name: str, domain: str) -> dict[str, str]:
    return {
        "Platform": "Acme Stats",
        "Category": "Analytics",
        "Cookie / Data Key name": name,
        "Domain": domain,
        "Retention period": "1 year",
        "Wildcard match": "0",
        "User Privacy & GDPR Rights Portals": "",
    }


def generated(first_party: list[str], *rows: dict[str, str]) -> dict[str, Any]:
    overrides = {
        "categories": {"analytics": "analytics"},
        "shared": [],
        "shared_exceptions": [],
        "per_customer": [],
        "entities": {"Acme Stats": {"first_party": first_party}} if first_party else {},
    }
    (service,) = build.build([ENTITY], [], list(rows), {}, overrides, LOCK)
    return service


@pytest.mark.parametrize(
    ("domain", "party"),
    [
        ("", "first"),  # the site's own domain
        ("google-analytics.com (3rd party) or ", "first"),  # the vendor's, or the site's
        (" or 207.net (3rd party)", "first"),
        ("doubleclick.net (3rd party)", "third"),
        (".adnxs.com", "third"),
        (".bing.com (3rd party) or .microsoft.com (3rd party)", "third"),
        (".commander1.com\u200b", "third"),
    ],
)
def test_the_domain_column_names_where_the_cookie_lives(domain: str, party: str) -> None:
    assert build._party(domain) == party


def test_a_reviewed_first_party_cookie_overrides_the_vendors_domain_upstream() -> None:
    """OCD files cookies a vendor's script writes on the site under the script's host."""
    service = generated(
        ["_acme_id"], ocd_row("_acme_id", "cdn.acme-stats.example"), ocd_row("ACMEUID", "")
    )
    assert {c["name"]: c["party"] for c in service["cookies"]} == {
        "_acme_id": "first",
        "ACMEUID": "first",
    }
    assert "curated: party" in service["source"]
    plain = generated([], ocd_row("_acme_id", "cdn.acme-stats.example"))
    assert plain["cookies"][0]["party"] == "third"


def test_a_first_party_override_naming_no_cookie_stops_the_build() -> None:
    with pytest.raises(SystemExit, match="_acme_gone"):
        generated(["_acme_gone"], ocd_row("_acme_id", "cdn.acme-stats.example"))
