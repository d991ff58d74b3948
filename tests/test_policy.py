"""The policy: defaults, the TOML layout, and start-up errors that name the key."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from consent_gate import Policy, PolicyError, Service
from consent_gate.policy import (
    CookieSpec,
    CspSettings,
    FingerprintSettings,
    GoogleConsentMode,
    GpcSettings,
    extended_catalogue,
    load_catalogue,
    parse_lifetime,
)


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
    extended = extended_catalogue()
    for service in load_catalogue():
        assert service.provider, service.id
        # Hand-written entries name the privacy policy; generated ones where a source did.
        if service in extended:
            assert service.privacy_url in ("",) or service.privacy_url.startswith("https://")
            assert service.source, service.id
        else:
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
        ({"consent": {"gpc": "respect"}}, "consent.gpc"),
        ({"consent": {"sale_sharing": "marketing"}}, "consent.sale_sharing"),
        ({"consent": {"sale_sharing": ["ads"]}}, "consent.sale_sharing[0]"),
        ({"consent": {"sale_sharing": ["marketing", "necessary"]}}, "consent.sale_sharing[1]"),
        ({"consent": {"sale_sharing": []}}, "consent.sale_sharing"),
        ({"consent": {"gpc_last_update": "May 2026"}}, "consent.gpc_last_update"),
        ({"categories": {"marketing": {"required": True}}}, "consent.sale_sharing[0]"),
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
        ({"site": {"domains": "example.com"}}, "site.domains"),
        ({"site": {"domains": ["example.com", ""]}}, "site.domains[1]"),
        ({"site": {"domains": ["https://example.com"]}}, "site.domains[0]"),
        ({"site": {"domains": ["example.com", ".example.org"]}}, "site.domains[1]"),
        ({"site": {"domains": ["Example.com"]}}, "site.domains[0]"),
        ({"site": {"domains": ["localhost"]}}, "site.domains[0]"),
        ({"site": {"domains": ["example.com:8000"]}}, "site.domains[0]"),
    ],
)
def test_mistakes_fail_at_start_up_naming_the_key(data: dict[str, Any], key: str) -> None:
    with pytest.raises(PolicyError) as excinfo:
        Policy.from_dict(data)
    assert excinfo.value.key == key
    assert str(excinfo.value).startswith(f"{key}: ")


def test_every_mistake_is_reported_at_once() -> None:
    data = {
        "revision": "two",
        "colour": "red",
        "consent": {"dnt": "maybe", "sale_sharing": ["necessary", "ads"]},
        "services": {"x": {"name": "X", "hosts": ["cdn.example.com/x"]}},
        "csp": {"mode": "strict"},
        "fingerprinting": {"categories": ["ads", "necessary"]},
        "texts": {"xx": {"no.such.key": 1}},
    }
    with pytest.raises(PolicyError) as excinfo:
        Policy.from_dict(data)
    # As read, then as validated, then unknown keys: the first is the one raised before.
    assert [key for key, _ in excinfo.value.problems] == [
        "services.x.category",
        "services.x.hosts[0]",
        "revision",
        "consent.dnt",
        "csp.mode",
        "consent.sale_sharing[0]",
        "consent.sale_sharing[1]",
        "texts.xx",
        "fingerprinting.categories[0]",
        "fingerprinting.categories[1]",
        "colour",
    ]
    assert excinfo.value.key == "services.x.category"
    lines = str(excinfo.value).splitlines()
    assert lines[0] == "services.x.category: is required"  # not also "unknown category ''"
    assert lines[2] == "revision: expected a whole number, got 'two'"
    assert len(lines) == 11


def test_python_objects_report_every_mistake_too() -> None:
    with pytest.raises(PolicyError, match=r"^revision: ") as excinfo:
        Policy(revision=0, dnt="maybe", csp=CspSettings(mode="strict"))  # type: ignore[arg-type]
    assert [key for key, _ in excinfo.value.problems] == ["revision", "consent.dnt", "csp.mode"]


def test_site_domains() -> None:
    policy = Policy.from_dict({"site": {"domains": ["example.com", "shop.example.co.uk"]}})
    assert policy.site_domains == ("example.com", "shop.example.co.uk")
    assert Policy.from_dict({}).site_domains == ()


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
    [
        ("session", None),
        ("persistent", None),
        ("30 minutes", 1800),
        ("1 day", 86400),
        ("13 months", 13 * 30 * 86400),
    ],
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
        'retention_years = 7\nfsync = true\njournal = "/var/lib/site/journal"\n'
    )
    log = Policy.from_toml(path).log
    assert (log.enabled, log.dsn, log.ip, log.retention_years, log.fsync, log.journal) == (
        False,
        "postgresql://gate@db/consent",
        "truncated",
        7,
        True,
        "/var/lib/site/journal",
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
        ({"fsync": "yes"}, "log.fsync"),
        ({"fsync": 1}, "log.fsync"),
        ({"journal": 5}, "log.journal"),
        ({"path": "x"}, "log.path"),
    ],
)
def test_bad_log_settings_fail_at_start_up_naming_the_key(log: dict[str, Any], key: str) -> None:
    with pytest.raises(PolicyError) as excinfo:
        Policy.from_dict({"log": log})
    assert excinfo.value.key == key


def test_google_consent_mode_is_off_and_basic_by_default() -> None:
    settings = Policy.default().google_consent_mode
    assert not settings.enabled
    assert settings.mode == "basic"
    assert settings.signals["ad_storage"] == ("marketing",)
    assert settings.signals["analytics_storage"] == ("analytics",)
    assert settings.signals["security_storage"] == ()
    assert settings.services == ("google-analytics", "google-ads", "google-tag-manager")
    assert (settings.wait_for_update, settings.ads_data_redaction, settings.url_passthrough) == (
        0,
        True,
        False,
    )


def test_google_consent_mode_from_toml_replaces_signals_one_by_one() -> None:
    settings = Policy.from_dict(
        {
            "google_consent_mode": {
                "enabled": True,
                "mode": "advanced",
                "signals": {"analytics_storage": ["analytics", "preferences"], "ad_storage": []},
                "services": ["google-analytics"],
                "wait_for_update": 500,
                "ads_data_redaction": False,
                "url_passthrough": True,
            }
        }
    ).google_consent_mode
    assert settings == GoogleConsentMode(
        enabled=True,
        mode="advanced",
        signals={
            **GoogleConsentMode().signals,
            "analytics_storage": ("analytics", "preferences"),
            "ad_storage": (),
        },
        services=("google-analytics",),
        wait_for_update=500,
        ads_data_redaction=False,
        url_passthrough=True,
    )


def test_google_consent_mode_services_must_exist_only_in_advanced_mode() -> None:
    for settings in ({}, {"enabled": True}, {"mode": "advanced"}):
        policy = Policy.from_dict({"catalogue": False, "google_consent_mode": settings})
        assert policy.google_consent_mode.services
    with pytest.raises(PolicyError) as excinfo:
        Policy.from_dict(
            {"catalogue": False, "google_consent_mode": {"enabled": True, "mode": "advanced"}}
        )
    assert excinfo.value.key == "google_consent_mode.services[0]"


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"enabeld": True}, "google_consent_mode.enabeld"),
        ({"enabled": "yes"}, "google_consent_mode.enabled"),
        ({"mode": "full"}, "google_consent_mode.mode"),
        ({"signals": {"ad_storag": ["marketing"]}}, "google_consent_mode.signals.ad_storag"),
        ({"signals": {"ad_storage": ["ads"]}}, "google_consent_mode.signals.ad_storage[0]"),
        ({"signals": {"ad_storage": "marketing"}}, "google_consent_mode.signals.ad_storage"),
        ({"signals": {"ad_storage": [""]}}, "google_consent_mode.signals.ad_storage[0]"),
        (
            {"enabled": True, "mode": "advanced", "services": ["google-analytics", "gtag"]},
            "google_consent_mode.services[1]",
        ),
        ({"services": "google-analytics"}, "google_consent_mode.services"),
        ({"wait_for_update": -1}, "google_consent_mode.wait_for_update"),
        ({"wait_for_update": 60_000}, "google_consent_mode.wait_for_update"),
        ({"wait_for_update": True}, "google_consent_mode.wait_for_update"),
        ({"url_passthrough": 1}, "google_consent_mode.url_passthrough"),
    ],
)
def test_bad_google_consent_mode_settings_name_the_key(settings: dict[str, Any], key: str) -> None:
    with pytest.raises(PolicyError) as excinfo:
        Policy.from_dict({"google_consent_mode": settings})
    assert excinfo.value.key == key
    assert str(excinfo.value).startswith(f"{key}: ")


def test_google_consent_mode_is_validated_from_python_too() -> None:
    policy = Policy.default()
    with pytest.raises(PolicyError) as excinfo:
        dataclasses.replace(
            policy, google_consent_mode=GoogleConsentMode(signals={"ad_storage": ("ads",)})
        )
    assert excinfo.value.key == "google_consent_mode.signals.ad_storage[0]"


def test_gpc_is_honoured_for_marketing_by_default_and_configurable() -> None:
    default = Policy.default().gpc
    assert (default.stance, default.sale_sharing, default.last_update) == (
        "honour",
        ("marketing",),
        "",
    )
    policy = Policy.from_dict(
        {
            "categories": {"ads": {"title": "Ads"}},
            "consent": {
                "gpc": "ignore",
                "sale_sharing": ["ads", "marketing"],
                "gpc_last_update": "2026-11-01",
            },
        }
    )
    assert policy.gpc == GpcSettings("ignore", ("ads", "marketing"), "2026-11-01")
    assert Policy.from_dict({"consent": {"gpc": "ignore", "sale_sharing": []}}).gpc.stance == (
        "ignore"
    )


def test_python_gpc_settings_are_validated_too() -> None:
    with pytest.raises(PolicyError) as excinfo:
        Policy(gpc=GpcSettings(sale_sharing=("analytics", "nope")))
    assert excinfo.value.key == "consent.sale_sharing[1]"


# --- [csp] ---------------------------------------------------------------------------------------


def test_csp_defaults_to_report_only_with_no_extra_sources() -> None:
    assert Policy().csp == CspSettings(mode="report-only", sources={})
    assert Policy.from_dict({}).csp.mode == "report-only"


def test_csp_reads_mode_and_sources() -> None:
    policy = Policy.from_dict(
        {
            "csp": {
                "mode": "enforce",
                "sources": {
                    "script-src": ["cdn.jsdelivr.net", "'unsafe-eval'", "'sha256-AbC+/9='"],
                    "img-src": ["https://*.images.example:8443/pics/"],
                    "connect-src": ["wss://live.example.com", "blob:"],
                },
            }
        }
    )
    assert policy.csp.mode == "enforce"
    assert policy.csp.sources == {
        "script-src": ("cdn.jsdelivr.net", "'unsafe-eval'", "'sha256-AbC+/9='"),
        "img-src": ("https://*.images.example:8443/pics/",),
        "connect-src": ("wss://live.example.com", "blob:"),
    }


@pytest.mark.parametrize(
    ("csp", "key"),
    [
        ({"mode": "strict"}, "csp.mode"),
        ({"modes": "off"}, "csp.modes"),
        ({"sources": {"style-src": ["x.example"]}}, "csp.sources.style-src"),
        ({"sources": {"script-src": "cdn.example"}}, "csp.sources.script-src"),
        ({"sources": {"script-src": ["*"]}}, r"csp.sources.script-src\[0\]"),
        ({"sources": {"img-src": ["ok.example", "https:"]}}, r"csp.sources.img-src\[1\]"),
        ({"sources": {"script-src": ["'unsafe-inline'"]}}, r"csp.sources.script-src\[0\]"),
        ({"sources": {"script-src": ["'strict-dynamic'"]}}, r"csp.sources.script-src\[0\]"),
        ({"sources": {"script-src": ["a.example; img-src *"]}}, r"csp.sources.script-src\[0\]"),
        ({"sources": {"frame-src": ["CDN.example"]}}, r"csp.sources.frame-src\[0\]"),
        (
            {"sources": {"script-src-attr": ["'unsafe-inline'"]}},
            r"csp.sources.script-src-attr\[0\]",
        ),
    ],
)
def test_bad_csp_settings_name_the_key(csp: dict[str, Any], key: str) -> None:
    with pytest.raises(PolicyError, match=f"^{key}: "):
        Policy.from_dict({"csp": csp})


def test_csp_settings_from_python_are_checked_too() -> None:
    with pytest.raises(PolicyError, match=r"csp\.sources\.connect-src"):
        Policy(csp=CspSettings(sources={"connect-src": ("*",)}))


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


@pytest.mark.parametrize(
    ("patterns", "key"),
    [
        (["admin/*"], r"exclude\[0\]"),
        (["/docs", "/consent-gate/*"], r"exclude\[1\]"),
        (["/a b"], r"exclude\[0\]"),
    ],
)
def test_bad_exclude_patterns_name_the_key(patterns: list[str], key: str) -> None:
    with pytest.raises(PolicyError, match=f"^{key}: "):
        Policy.from_dict({"exclude": patterns})


def test_only_categories_with_a_service_in_use_are_asked_about() -> None:
    assert Policy.default().asked_categories == ("preferences", "analytics", "marketing")
    assert Policy.from_dict({"uses": ["google-analytics"]}).asked_categories == ("analytics",)
