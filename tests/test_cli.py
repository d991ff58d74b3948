"""The `consent-gate` command."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from consent_gate.cli import main


def test_check_reports_a_valid_policy(tmp_path: Path) -> None:
    path = tmp_path / "consent.toml"
    path.write_text("revision = 4\n")
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 0
    assert "revision 4" in result.output
    assert result.output.splitlines()[1:] == [
        "  Do Not Track: ignored",
        "  Global Privacy Control: honoured for marketing",
        "  Content-Security-Policy: report-only",
        "  fingerprinting guard: on until analytics + marketing",
        "  Google Consent Mode: off",
        "  consent log: sqlite:///consent-log.sqlite3, journal fsync off",
    ]
    path.write_text(
        '[consent]\ngpc = "ignore"\ndnt = "honour"\n[csp]\nmode = "enforce"\n'
        "[fingerprinting]\nguard = false\n[google_consent_mode]\nenabled = true\n"
        "[log]\nenabled = false\n"
    )
    assert CliRunner().invoke(main, ["check", str(path)]).output.splitlines()[1:] == [
        "  Do Not Track: honoured",
        "  Global Privacy Control: ignored",
        "  Content-Security-Policy: enforce",
        "  fingerprinting guard: off",
        "  Google Consent Mode: basic",
        "  consent log: off",
    ]


def test_check_never_prints_the_log_password(tmp_path: Path) -> None:
    path = tmp_path / "consent.toml"
    path.write_text('[log]\ndsn = "postgresql://app:hunter2@db.internal/site"\n')
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 0
    assert (
        "  consent log: postgresql://app:***@db.internal/site, journal fsync off" in result.output
    )
    assert "hunter2" not in result.output


def test_check_names_the_bad_key(tmp_path: Path) -> None:
    path = tmp_path / "consent.toml"
    path.write_text('[consent]\ndnt = "maybe"\n')
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 1
    assert "consent.dnt" in result.output


def test_check_reports_every_mistake_on_its_own_line(tmp_path: Path) -> None:
    path = tmp_path / "consent.toml"
    path.write_text('colour = "red"\n[consent]\ndnt = "maybe"\n[csp]\nmode = "strict"\n')
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{path}: 3 problems",
        "  consent.dnt: must be one of ignore, honour, got 'maybe'",
        "  csp.mode: must be one of off, report-only, enforce, got 'strict'",
        "  colour: unknown key",
    ]


def test_classify() -> None:
    result = CliRunner().invoke(
        main, ["classify", "https://connect.facebook.net/en_US/fbevents.js"]
    )
    assert result.exit_code == 0
    assert "meta-pixel (marketing)" in result.output
    unknown = CliRunner().invoke(main, ["classify", "https://cdn.example.com/app.js"])
    assert unknown.exit_code == 1


def test_services_lists_the_catalogue() -> None:
    result = CliRunner().invoke(main, ["services"])
    assert result.exit_code == 0
    assert "google-tag-manager" in result.output


def test_rewrite_holds_back_refused_categories() -> None:
    page = b'<script src="https://www.googletagmanager.com/gtm.js?id=GTM-1"></script><p>hi</p>'
    refused = CliRunner().invoke(main, ["rewrite", "-"], input=page)
    assert refused.exit_code == 0
    assert 'data-cg-category="analytics"' in refused.stdout
    assert "held back: 1 element(s)" in refused.stderr
    accepted = CliRunner().invoke(main, ["rewrite", "--accept", "analytics", "-"], input=page)
    assert accepted.stdout.encode() == page
    bad = CliRunner().invoke(main, ["rewrite", "--accept", "ads", "-"], input=page)
    assert bad.exit_code == 2
    assert "unknown categories: ads" in bad.output


def test_rewrite_follows_consent_mode_advanced(tmp_path: Path) -> None:
    policy = tmp_path / "consent.toml"
    policy.write_text('[google_consent_mode]\nenabled = true\nmode = "advanced"\n')
    page = (
        b'<script src="https://www.googletagmanager.com/gtm.js?id=GTM-1"></script>'
        b'<script src="https://static.hotjar.com/c/hotjar-1.js"></script>'
    )
    result = CliRunner().invoke(main, ["rewrite", "--policy", str(policy), "-"], input=page)
    assert result.exit_code == 0, result.output
    assert "held back: 1 element(s)" in result.stderr
    assert 'data-cg-service="hotjar"' in result.stdout
