"""The policy: defaults, the TOML layout, and start-up errors that name the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from consent_gate import Policy, PolicyError, Service
from consent_gate.policy import CookieSpec, FingerprintSettings, load_catalogue, parse_lifetime


def test_default_policy_has_the_four_categories_and_the_catalogue() -> None:
    policy = Policy.default()
    assert [c.id for c in policy.categories] == [
        "necessary",
        "preferences",
        "analytics",
        "marketing",
    ]
    assert policy.category("necessary").required
    assert policy.optional_categories == ("preferences", "analytics", "marketing")
    ids = {s.id for s in policy.services}
    required = {
        "google-analytics", "google-tag-manager", "universal-analytics", "meta-pixel", "hotjar",
        "microsoft-clarity", "linkedin-insight", "tiktok-pixel", "matomo-cloud", "segment",
        "mixpanel", "plausible", "youtube", "vimeo", "google-maps", "fingerprintjs",
        "fingerprint-pro",
    }  # fmt: skip
    assert required <= ids
    assert policy.dnt == "ignore"
    assert policy.max_age == 182 * 86400


def test_catalogue_cookies_are_described() -> None:
    for service in load_catalogue():
        assert service.provider, service.id
        assert service.privacy_url.startswith("https://"), service.id
        for cookie in service.cookies:
            assert cookie.purpose
            assert cookie.party in ("first", "third")
            parse_lifetime(cookie.lifetime)


def test_from_dict_extends_and_overrides() -> None:
    policy = Policy.from_dict(
        {
            "revision": 3,
            "uses": ["google-analytics", "acme-stats"],
            "site": {"name": "Acme", "contact": "privacy@acme.example"},
            "consent": {"cookie_name": "acme_consent", "max_age_days": 90},
            "endpoints": {"prefix": "/privacy"},
            "categories": {
                "analytics": {
                    "title": "Statistics",
                    "translations": {"de": {"title": "Statistik"}},
                },
                "social": {"title": "Social media", "description": "Share buttons."},
            },
            "services": {
                "acme-stats": {
                    "name": "Acme Stats",
                    "category": "social",
                    "hosts": ["stats.acme.example"],
                    "cookies": [{"name": "_acme_*", "purpose": "Visitor id", "lifetime": "1 year"}],
                },
                "hotjar": {
                    "name": "Hotjar (ours)",
                    "category": "marketing",
                    "hosts": ["hj.example"],
                },
            },
        }
    )
    assert policy.revision == 3
    assert policy.category("analytics").text("title", "de") == "Statistik"
    assert policy.category("analytics").text("title", "fr") == "Statistics"
    assert policy.optional_categories[-1] == "social"
    by_id = {s.id: s for s in policy.services}
    assert by_id["hotjar"].hosts == ("hj.example",)  # overridden by id
    assert by_id["acme-stats"].cookies == (CookieSpec("_acme_*", "Visitor id", "1 year"),)
    assert [s.id for s in policy.listed_services] == ["google-analytics", "acme-stats"]
    assert policy.cookie_name == "acme_consent"
    assert policy.max_age == 90 * 86400
    assert policy.prefix == "/privacy"


def test_catalogue_can_be_turned_off() -> None:
    assert Policy.from_dict({"catalogue": False}).services == ()


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"revison": 2}, "revison"),
        ({"revision": "2"}, "revision"),
        ({"revision": 0}, "revision"),
        ({"revision": True}, "revision"),
        ({"consent": {"dnt": "respect"}}, "consent.dnt"),
        ({"consent": {"max_age_days": 500}}, "consent.max_age_days"),
        ({"consent": {"cookie_name": "a b"}}, "consent.cookie_name"),
        ({"consent": {"max_age": 3}}, "consent.max_age"),
        ({"endpoints": {"prefix": "consent"}}, "endpoints.prefix"),
        ({"categories": {"necessary": {"required": False}}}, "categories.necessary"),
        ({"categories": {"analytics": {"titel": "x"}}}, "categories.analytics.titel"),
        ({"uses": ["nope"]}, "uses[0]"),
        ({"services": {"x": {"category": "analytics", "hosts": ["a.b"]}}}, "services.x.name"),
        (
            {"services": {"x": {"name": "X", "category": "ads", "hosts": ["a.b"]}}},
            "services.x.category",
        ),
        (
            {"services": {"x": {"name": "X", "category": "analytics", "hosts": ["https://a.b/"]}}},
            "services.x.hosts[0]",
        ),
        (
            {"services": {"x": {"name": "X", "category": "analytics", "urls": ["https://a.b/x"]}}},
            "services.x.urls[0]",
        ),
        ({"services": {"x": {"name": "X", "category": "analytics"}}}, "services.x"),
        ({"services": {"X Y": {"name": "X", "category": "analytics"}}}, "services.X Y"),
        (
            {
                "services": {
                    "x": {
                        "name": "X",
                        "category": "analytics",
                        "cookies": [{"name": "a", "purpose": "b", "lifetime": "forever"}],
                    }
                }
            },
            "services.x.cookies[0].lifetime",
        ),
        (
            {
                "services": {
                    "x": {
                        "name": "X",
                        "category": "analytics",
                        "cookies": [{"name": "a", "purpose": "b", "party": "fourth"}],
                    }
                }
            },
            "services.x.cookies[0].party",
        ),
    ],
)
def test_mistakes_fail_at_start_up_naming_the_key(data: dict[str, Any], key: str) -> None:
    with pytest.raises(PolicyError) as excinfo:
        Policy.from_dict(data)
    assert excinfo.value.key == key
    assert str(excinfo.value).startswith(f"{key}: ")


def test_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "consent.toml"
    path.write_text('revision = 2\n[consent]\ndnt = "honour"\n')
    policy = Policy.from_toml(path)
    assert (policy.revision, policy.dnt) == (2, "honour")


def test_from_toml_reports_syntax_errors_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "consent.toml"
    path.write_text("revision = \n")
    with pytest.raises(PolicyError, match="not valid TOML"):
        Policy.from_toml(path)
    with pytest.raises(PolicyError, match="cannot read"):
        Policy.from_toml(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("session", None), ("30 minutes", 1800), ("1 day", 86400), ("13 months", 13 * 30 * 86400)],
)
def test_parse_lifetime(text: str, seconds: int | None) -> None:
    assert parse_lifetime(text) == seconds


def test_python_objects_are_validated_too() -> None:
    with pytest.raises(PolicyError, match="revision"):
        Policy(revision=-1)
    bad = Service(id="x", name="X", category="analytics", hosts=("https://x.example/",))
    with pytest.raises(PolicyError) as excinfo:
        Policy(services=(bad,))
    assert excinfo.value.key == "services.x.hosts[0]"


def test_log_settings_default_to_a_sqlite_file_and_read_from_toml(tmp_path: Path) -> None:
    default = Policy.default().log
    assert (default.enabled, default.dsn, default.ip, default.retention_years) == (
        True,
        "sqlite:///consent-log.sqlite3",
        "off",
        5,
    )
    path = tmp_path / "consent.toml"
    path.write_text(
        '[log]\nenabled = false\ndsn = "postgresql://gate@db/consent"\nip = "truncated"\n'
        "retention_years = 7\n"
    )
    log = Policy.from_toml(path).log
    assert (log.enabled, log.dsn, log.ip, log.retention_years) == (
        False,
        "postgresql://gate@db/consent",
        "truncated",
        7,
    )


@pytest.mark.parametrize(
    ("log", "key"),
    [
        ({"dsn": "mysql://db/x"}, "log.dsn"),
        ({"dsn": "sqlite:///"}, "log.dsn"),
        ({"dsn": 5}, "log.dsn"),
        ({"ip": "full"}, "log.ip"),
        ({"retention_years": 0}, "log.retention_years"),
        ({"retention_years": "5"}, "log.retention_years"),
        ({"enabled": "yes"}, "log.enabled"),
        ({"path": "x"}, "log.path"),
    ],
)
def test_bad_log_settings_fail_at_start_up_naming_the_key(log: dict[str, Any], key: str) -> None:
    with pytest.raises(PolicyError) as excinfo:
        Policy.from_dict({"log": log})
    assert excinfo.value.key == key


def test_fingerprinting_defaults_and_settings() -> None:
    assert Policy.default().fingerprinting == FingerprintSettings(True, (), ())
    settings = Policy.from_dict(
        {
            "fingerprinting": {
                "guard": False,
                "categories": ["marketing"],
                "allow_scripts": ["/static/draw.js", "https://cdn.example/app-*.js"],
            }
        }
    ).fingerprinting
    assert settings == FingerprintSettings(
        False, ("marketing",), ("/static/draw.js", "https://cdn.example/app-*.js")
    )


@pytest.mark.parametrize(
    ("fingerprinting", "key"),
    [
        ({"categories": ["ads"]}, "fingerprinting.categories[0]"),
        ({"categories": ["analytics", "necessary"]}, "fingerprinting.categories[1]"),
        ({"categories": "marketing"}, "fingerprinting.categories"),
        ({"allow_scripts": ["static/draw.js"]}, "fingerprinting.allow_scripts[0]"),
        ({"allow_scripts": ["//cdn.example/x.js"]}, "fingerprinting.allow_scripts[0]"),
        ({"allow_scripts": ["/ok.js", "javascript:alert(1)"]}, "fingerprinting.allow_scripts[1]"),
        ({"allow_scripts": ["https://cdn.example"]}, "fingerprinting.allow_scripts[0]"),
        ({"allow_scripts": ["/a b.js"]}, "fingerprinting.allow_scripts[0]"),
        ({"guard": "yes"}, "fingerprinting.guard"),
        ({"allow": ["/x.js"]}, "fingerprinting.allow"),
    ],
)
def test_bad_fingerprinting_settings_fail_at_start_up_naming_the_key(
    fingerprinting: dict[str, Any], key: str
) -> None:
    with pytest.raises(PolicyError) as excinfo:
        Policy.from_dict({"fingerprinting": fingerprinting})
    assert excinfo.value.key == key
