"""Build the extended tracker catalogue from pinned, permissively licensed sources.

    python tools/catalogue/build.py --tpw third-party-web-0.30.0.tgz \
        --tac tarteaucitronjs-1.34.0.tgz --ocd path/to/Open-Cookie-Database

The two npm tarballs come from `npm pack <package>@<version>` (sources.toml pins them), the Open
Cookie Database from a checkout of the pinned commit (its CSV and LICENSE). Every input is
checked against its sha256 in sources.toml, so the output is reproducible: the same inputs
give byte-identical files. Writes src/consent_gate/catalogue-extended.json (catalogue.toml's
schema as JSON, one service per line: the standard library parses JSON in C, TOML in Python,
and this file is a thousand entries) and the licence notices in src/consent_gate/LICENSES/.
Review the diff before committing it.

What it takes, and why:
- third-party-web (MIT): entities of tracking categories with their hosts; the category
  mapping and the list of shared platforms kept out of `hosts` are in overrides.toml (a
  customer's own host on one, such as a CloudFront distribution, is kept).
- tarteaucitron.js services (MIT): privacy-policy URLs, matched to an entity by script host.
- Open Cookie Database (Apache-2.0): cookie names, lifetimes, first/third party, privacy URLs,
  matched by platform name or cookie domain. Only distinctive names are kept (a generic
  `id` or `session` would make the cookie firewall drop a site's own cookie); purposes are
  our own one-line summaries per category, not the upstream descriptions. Its `Domain` is
  blank for a cookie on the site's own domain (first party) and names the vendor's domain
  otherwise, sometimes as "x.com (3rd party)", or both ("x.com (3rd party) or ", the blank
  half once "advertiser's website domain (1st party)"). Contributors also wrote the vendor's
  domain, or the host its script comes from, for cookies that script writes on the site's
  own domain (Amplitude's under cdn.amplitude.com, Inspectlet's as "(3rd party)"): the
  column cannot tell those apart, so overrides.toml lists them (`first_party`).
Entries the hand-written catalogue.toml already covers (same host, a parent or a subdomain)
are left out: the curated entry is the more precise one.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import ipaddress
import json
import re
import tarfile
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parent.parent / "src" / "consent_gate"
OUTPUT = PACKAGE / "catalogue-extended.json"
LICENSES = PACKAGE / "LICENSES"

DESCRIPTIONS = {
    "ad": "Advertising technology: ad serving, real-time bidding, retargeting or ad measurement.",
    "analytics": "Analytics: visit counting, session recording, A/B testing or performance "
    "monitoring.",
    "tag-manager": "Tag manager: loads other tracking and marketing tags.",
    "social": "Social network widgets, share buttons or embeds.",
    "marketing": "Marketing: e-mail capture, pop-ups, personalisation, reviews or affiliate "
    "tracking.",
    "video": "Embedded video player.",
    "customer-success": "Chat, support or feedback widget.",
    "content": "Embedded third-party content.",
    "utility": "Monitoring of the site's performance and errors in visitors' browsers.",
}
PURPOSES = {
    "Marketing": "Recognises the browser for advertising, audience building or recommendations.",
    "Analytics": "Measures visits and how the site is used.",
}
SNIPPET_CATEGORIES = ("ad", "analytics", "tag-manager")
FUNCTIONAL = "Keeps the service's own features working (settings, sessions, load balancing)."
# Cookie names too generic to attribute to one vendor: a site may well set them itself.
GENERIC = {
    "id", "uid", "uuid", "sid", "session", "sessionid", "token", "lang", "language", "locale",
    "country", "consent", "test", "user", "userid", "user_id", "visitor", "visitorid", "auth",
    "csrf", "csrftoken", "europe", "currency", "cart", "debug", "ab", "abtest", "ref",
    "referrer", "tz", "timezone", "theme", "device", "cookie", "cookies", "optout", "opt_out",
}  # fmt: skip
_LIFETIME = re.compile(
    r"(\d+)\s*(second|sec|minute|min|hour|hr|day|week|month|year)s?\b", re.IGNORECASE
)
_UNITS = {"sec": "second", "min": "minute", "hr": "hour"}
_URL_HOST = re.compile(r"https?://([a-z0-9.-]+\.[a-z]{2,})", re.IGNORECASE)
_COOKIE_NAME = re.compile(r"[!#$%&'+.^_`|~0-9A-Za-z-]{2,100}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--tpw", type=Path, required=True, help="third-party-web .tgz")
    parser.add_argument("--tac", type=Path, required=True, help="tarteaucitronjs .tgz")
    parser.add_argument("--ocd", type=Path, required=True, help="Open Cookie Database checkout")
    args = parser.parse_args()
    lock = tomllib.loads((HERE / "sources.toml").read_text())
    overrides = tomllib.loads((HERE / "overrides.toml").read_text())
    tpw_tar = _verified(args.tpw, lock["third-party-web"])
    tac_tar = _verified(args.tac, lock["tarteaucitron"])
    ocd_pin = lock["open-cookie-database"]
    ocd_csv = _verified(args.ocd / ocd_pin["file"], ocd_pin)
    entities = json.loads(_member(tpw_tar, lock["third-party-web"]["file"]))
    tac = _tarteaucitron(_member(tac_tar, lock["tarteaucitron"]["file"]).decode())
    ocd = list(csv.DictReader(io.StringIO(ocd_csv.decode("utf-8"))))
    curated = tomllib.loads((PACKAGE / "catalogue.toml").read_text())["services"]
    services = build(entities, tac, ocd, curated, overrides, lock)
    OUTPUT.write_text(_json(services), encoding="utf-8")
    _notices(lock, tpw_tar, tac_tar, (args.ocd / "LICENSE").read_bytes())
    hosts = sum(len(s.get("hosts", ())) for s in services)
    print(f"{len(services)} services, {hosts} hosts -> {OUTPUT}")


def build(
    entities: list[dict[str, Any]],
    tac: list[dict[str, Any]],
    ocd: list[dict[str, str]],
    curated: dict[str, dict[str, Any]],
    overrides: dict[str, Any],
    lock: dict[str, Any],
) -> list[dict[str, Any]]:
    mapping: dict[str, str] = overrides["categories"]
    tweaks: dict[str, dict[str, Any]] = overrides.get("entities", {})
    shared = set(overrides["shared"])
    exceptions = set(overrides["shared_exceptions"])
    listed = {p.removeprefix("*.").lower() for entity in entities for p in entity["domains"]}
    per_customer = overrides["per_customer"]
    exceptions |= {h for h in listed if any(_customer_host(h, d) for d in per_customer)}
    claimed = _curated_hosts(curated)
    ids = set(curated)
    taken_hosts: set[str] = set()
    snippets = [s.lower() for c in curated.values() for s in c.get("snippets", ())]
    cookie_owner: Counter[str] = Counter()
    cookie_owner.update(k["name"] for c in curated.values() for k in c.get("cookies", ()))
    tpw = f"third-party-web {lock['third-party-web']['package'].rpartition('@')[2]} (MIT)"
    tac_source = f"tarteaucitron.js {lock['tarteaucitron']['package'].rpartition('@')[2]} (MIT)"
    ocd_source = f"Open Cookie Database {lock['open-cookie-database']['commit'][:7]} (Apache-2.0)"
    ranked = sorted(entities, key=lambda e: (-(e.get("totalOccurrences") or 0), e["name"]))
    services: list[dict[str, Any]] = []
    for entity in ranked:
        tweak = tweaks.get(entity["name"], {})
        upstream = entity["category"]
        if tweak.get("skip") or (upstream not in mapping and not tweak.get("include")):
            continue
        category = tweak.get("category") or mapping[upstream]
        drop = set(tweak.get("drop", ()))
        hosts = []
        covered = False
        for pattern in entity["domains"] + tweak.get("add", []):
            host = pattern.removeprefix("*.").lower()
            if host in drop or _is_ip(host) or host in taken_hosts or host in hosts:
                continue
            if host not in exceptions and any(_within(host, s) for s in shared):
                continue
            if any(_within(host, c) or _within(c, host) for c in claimed):
                covered = True
                continue
            hosts.append(host)
        if covered or not hosts:
            continue  # the curated catalogue describes this vendor, or all its hosts are shared
        taken_hosts.update(hosts)
        name = tweak.get("name", entity["name"])
        service_id = _slug(name)
        while service_id in ids:
            service_id += "-x"
        ids.add(service_id)
        sources = {tpw: ["hosts", "category"]}
        privacy = tweak.get("privacy_url", "")
        if privacy:
            sources.setdefault("curated", []).append("privacy_url")
        for item in tac:
            if item["uri"].startswith("https://") and not privacy and _covers(hosts, item["hosts"]):
                privacy = item["uri"]
                sources.setdefault(tac_source, []).append("privacy_url")
        rows = _cookie_rows(ocd, entity["name"], name, hosts)
        first_party = set(tweak.get("first_party", ()))
        cookies = _cookies(rows, first_party, entity["name"], name)
        unlisted = first_party - {c["name"] for c in cookies}
        if unlisted:
            raise SystemExit(f"overrides.toml: {entity['name']} has no cookie {sorted(unlisted)}")
        if first_party:
            sources.setdefault("curated", []).append("party")
        if rows and not privacy:
            portals = (r["User Privacy & GDPR Rights Portals"].strip() for r in rows)
            portal = next((p for p in portals if p.startswith("https://")), "")
            if portal:
                privacy = portal
                sources.setdefault(ocd_source, []).append("privacy_url")
        if cookies:
            sources.setdefault(ocd_source, []).append("cookies")
            cookie_owner.update({c["name"] for c in cookies})
        if any(tweak.get(k) for k in ("name", "provider", "category", "snippets", "add")):
            sources.setdefault("curated", []).append("review")
        service: dict[str, Any] = {
            "id": service_id,
            "name": name,
            "category": category,
            "provider": tweak.get("provider") or entity.get("company") or entity["name"],
            "privacy_url": privacy,
            "description": DESCRIPTIONS.get(upstream, DESCRIPTIONS["content"]),
            "source": "; ".join(f"{k}: {', '.join(v)}" for k, v in sources.items()),
            "hosts": hosts,
            "snippets": [],
            "cookies": cookies,
        }
        # An inline script naming an ad or analytics host is that tracker's loader; one naming
        # a social network or a video site may be the site's own code linking to its profile.
        own_loaders = upstream in SNIPPET_CATEGORIES and not tweak.get("no_snippets")
        for host in hosts if own_loaders else ():
            snippet = host + "/"
            if len(host) >= 9 and not any(snippet in s or s in snippet for s in snippets):
                service["snippets"].append(snippet)
                snippets.append(snippet)
        for snippet in tweak.get("snippets", ()):
            service["snippets"].append(snippet)
            snippets.append(snippet.lower())
        services.append(service)
    unknown = set(tweaks) - {e["name"] for e in entities}
    if unknown:
        raise SystemExit(f"overrides.toml names entities upstream lacks: {sorted(unknown)}")
    for service_id, extra in overrides.get("extra", {}).items():
        services.append({"id": service_id, **extra, "source": "curated"})
    # A cookie name two services claim tells neither apart: leave it to both vendors' docs.
    for service in services:
        service["cookies"] = [c for c in service.get("cookies", ()) if cookie_owner[c["name"]] == 1]
    return services


def _curated_hosts(curated: dict[str, dict[str, Any]]) -> set[str]:
    hosts: set[str] = set()
    for service in curated.values():
        hosts.update(h.partition(":")[0] for h in service.get("hosts", ()))
        hosts.update(u.partition("/")[0] for u in service.get("urls", ()) if not u.startswith("/"))
    return hosts


def _cookie_rows(ocd: list[dict[str, str]], *names_and_hosts: Any) -> list[dict[str, str]]:
    *names, hosts = names_and_hosts
    wanted = {_norm(n) for n in names}
    found = []
    for row in ocd:
        domain = row["Domain"].strip().lstrip(".").lower()
        if _norm(row["Platform"]) in wanted or (domain and _covers(hosts, [domain])):
            found.append(row)
    return found


def _cookies(
    rows: list[dict[str, str]], first_party: set[str], *names: str
) -> list[dict[str, str]]:
    tokens = {t for n in names for t in re.findall(r"[a-z]{4,}", n.lower())}
    cookies: dict[str, dict[str, str]] = {}
    for row in rows:
        name = row["Cookie / Data Key name"].strip()
        if not _COOKIE_NAME.fullmatch(name) or name.lower() in GENERIC:
            continue
        distinctive = (
            "_" in name
            or any(ch.isdigit() or ch.isupper() for ch in name)
            or any(t in name.lower() for t in tokens)
        )
        if not distinctive or len(name.strip("_-")) < 3:
            continue
        lifetime = _lifetime(row["Retention period"])
        if lifetime is None:
            continue
        if row["Wildcard match"].strip() == "1":
            name = name.rstrip("*") + "*"
        cookies.setdefault(
            name,
            {
                "name": name,
                "purpose": PURPOSES.get(row["Category"], FUNCTIONAL),
                "lifetime": lifetime,
                "party": "first" if name in first_party else _party(row["Domain"]),
            },
        )
    return list(cookies.values())[:40]


def _party(domain: str) -> str:
    """First when the site's own domain is one of the places OCD's `Domain` names (blank, or
    a blank half of "x.com (3rd party) or "): a page's script can write the cookie there."""
    places = [p.strip() for p in domain.replace("\u200b", "").split(" or ")]
    return "first" if "" in places else "third"


def _lifetime(text: str) -> str | None:
    value = text.strip().lower()
    if value in ("session", "seesion", "end of session (browser)", "end of session"):
        return "session"
    match = _LIFETIME.search(value)
    if match is None:
        return None  # "unknown", "varies", "forever", "local storage": not a stated lifetime
    number, unit = int(match.group(1)), _UNITS.get(match.group(2).lower(), match.group(2).lower())
    if unit == "second":
        number, unit = max(1, round(number / 60)), "minute"
    if number == 0:
        return None
    return f"{number} {unit}{'s' if number != 1 else ''}"


def _tarteaucitron(text: str) -> list[dict[str, Any]]:
    """Each service's name, privacy URI and script hosts, read from its definition."""
    services = []
    for block in re.split(r"\n(?=tarteaucitron\.services\.[\w$]+ = \{)", text):
        uri = re.search(r'"uri":\s*"([^"]+)"', block)
        name = re.search(r'"name":\s*"([^"]+)"', block)
        if uri is None or name is None:
            continue
        hosts = sorted({h.lower() for h in _URL_HOST.findall(block)})
        services.append({"name": name.group(1), "uri": uri.group(1), "hosts": hosts})
    return services


def _verified(path: Path, pin: dict[str, Any]) -> bytes:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != pin["sha256"]:
        raise SystemExit(f"{path}: sha256 {digest} is not the pinned {pin['sha256']}")
    return data


def _member(tarball: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(tarball)) as archive:
        member = archive.extractfile(name)
        assert member is not None, name
        return member.read()


def _customer_host(host: str, domain: str) -> bool:
    """A host one label below a domain that gives each customer its own (per_customer)."""
    return host.endswith("." + domain) and "." not in host.removesuffix("." + domain)


def _within(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def _covers(hosts: list[str], others: list[str]) -> bool:
    return any(_within(o, h) for o in others for h in hosts)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower().replace("!", "")).strip("-")
    return slug if slug[:1].isalpha() else "s-" + slug


def _json(services: list[dict[str, Any]]) -> str:
    """{"_comment": ..., "services": {id: table}}, one service per line for readable diffs."""
    keys = ("name", "category", "provider", "privacy_url", "description", "source")
    lines = []
    for service in services:
        table = {k: service[k] for k in keys if service.get(k)}
        table |= {k: service[k] for k in ("hosts", "urls", "snippets") if service.get(k)}
        if service.get("cookies"):
            table["cookies"] = service["cookies"]
        lines.append(f"{json.dumps(service['id'])}: {json.dumps(table, ensure_ascii=False)}")
    comment = (
        "GENERATED by tools/catalogue/build.py from the sources pinned in "
        "tools/catalogue/sources.toml and the review decisions in tools/catalogue/"
        "overrides.toml: change those and rebuild, do not edit. Schema: catalogue.toml's. "
        "`source` says where each entry's facts come from; licences and credits: "
        "LICENSES/THIRD_PARTY_DATA.md."
    )
    body = ",\n".join(lines)
    return f'{{"_comment": {json.dumps(comment)},\n"services": {{\n{body}\n}}}}\n'


def _notices(lock: dict[str, Any], tpw: bytes, tac: bytes, ocd_licence: bytes) -> None:
    LICENSES.mkdir(exist_ok=True)
    (LICENSES / "third-party-web.MIT.txt").write_bytes(_member(tpw, "package/LICENSE"))
    (LICENSES / "tarteaucitron.MIT.txt").write_bytes(_member(tac, "package/LICENSE"))
    (LICENSES / "Apache-2.0.txt").write_bytes(ocd_licence)
    lines = [
        "# Third-party data in consent_gate's tracker catalogue",
        "",
        "consent_gate's code is MIT-licensed. `catalogue-extended.json` is derived from the",
        "data sources below (modified: converted to the catalogue's schema, filtered to",
        "tracking services, categories mapped, hosts of shared platforms removed, cookie",
        "purposes rewritten). Each entry's `source` names what came from where.",
        "",
    ]
    texts = {
        "third-party-web": "third-party-web.MIT.txt",
        "tarteaucitron": "tarteaucitron.MIT.txt",
        "open-cookie-database": "Apache-2.0.txt",
    }
    for key, pin in lock.items():
        version = pin.get("package") or f"{pin['repo']}@{pin['commit']}"
        lines += [
            f"## {key}",
            "",
            f"- {pin['url']} ({version}, `{pin['file']}`)",
            f"- {pin['copyright']}",
            f"- Licence: {pin['licence']}, full text in `{texts[key]}`",
            "",
        ]
    lines += [
        "The Open Cookie Database is licensed under the Apache License, Version 2.0; its",
        "upstream has no NOTICE file. Credit: Open Cookie Database contributors.",
        "",
    ]
    (LICENSES / "THIRD_PARTY_DATA.md").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
