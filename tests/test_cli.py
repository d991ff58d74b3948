"""The `consent-gate` command."""

from __future__ import annotations

from pathlib import Path

import pytest
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
        "  unknown third parties: allowed (reported)",
        "  consent log: sqlite:///consent-log.sqlite3, journal fsync off",
    ]
    path.write_text(
        '[consent]\ngpc = "ignore"\ndnt = "honour"\n[csp]\nmode = "enforce"\n'
        "[fingerprinting]\nguard = false\n[google_consent_mode]\nenabled = true\n"
        '[log]\nenabled = false\n[unknown]\nthird_parties = "hold"\n'
    )
    assert CliRunner().invoke(main, ["check", str(path)]).output.splitlines()[1:] == [
        "  Do Not Track: honoured",
        "  Global Privacy Control: ignored",
        "  Content-Security-Policy: enforce",
        "  fingerprinting guard: off",
        "  Google Consent Mode: basic",
        "  unknown third parties: held until marketing",
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
    assert "an unknown third party (it would load without consent, and be reported)" in (
        unknown.output
    )
    benign = CliRunner().invoke(main, ["classify", "https://code.jquery.com/jquery.js"])
    assert benign.exit_code == 1
    assert "not a tracker the policy knows" in benign.output


def test_classify_says_what_hold_does_with_an_unknown_third_party(tmp_path: Path) -> None:
    path = tmp_path / "consent.toml"
    path.write_text('[unknown]\nthird_parties = "hold"\n')
    result = CliRunner().invoke(
        main, ["classify", "--policy", str(path), "https://cdn.example.com/app.js"]
    )
    assert "held until marketing" in result.output


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


SUGGEST_LOG = """\
WARNING consent_gate: new unknown report: host=cdn.widgets.example, decision=held
WARNING consent_gate: new unknown report: host=px.widgets.example, decision=held
INFO uvicorn: GET / 200
WARNING consent_gate: new csp report: host=api.chat.example, directive=connect-src, page=/help
WARNING consent_gate: new csp report: host=inline, directive=script-src, page=/
WARNING consent_gate: new csp report: host=www.google-analytics.com, directive=img-src, page=/
WARNING consent_gate: new csp report: host=fonts.gstatic.com, directive=font-src, page=/
"""
SUGGEST_SUMMARY = (
    '{"unknown": {"reports": [{"host": "cdn.widgets.example", "decision": "held", "count": 40}],'
    ' "overflow": 0}, "csp": {"reports": [{"host": "static.acme.example", "directive":'
    ' "script-src", "page": "/", "count": 3}], "overflow": 0}}'
)
SUGGEST_AUDIT = (
    '{"url": "https://acme.example/", "ok": true, "passes": [{"name": "no choice", "failed":'
    ' false, "clicked": "", "cookies": [], "requests": [{"url": "https://w.polls.example/p.js",'
    ' "host": "w.polls.example", "resource_type": "script", "service": "", "category":'
    ' "unknown", "tracks": false}, {"url": "https://www.google.com/recaptcha/api.js", "host":'
    ' "www.google.com", "resource_type": "script", "service": "", "category": "unknown",'
    ' "tracks": false}]}]}'
)


def test_suggest_turns_log_lines_reports_and_audits_into_policy_tables(tmp_path: Path) -> None:
    import tomllib

    from consent_gate.policy import Policy
    from consent_gate.rules import Classifier

    policy_path = tmp_path / "consent.toml"
    policy_path.write_text('[site]\ndomains = ["acme.example"]\n')
    files = []
    for name, text in (("gate.log", SUGGEST_LOG), ("r.json", SUGGEST_SUMMARY)):
        (tmp_path / name).write_text(text)
        files.append(str(tmp_path / name))
    (tmp_path / "audit.json").write_text(SUGGEST_AUDIT)
    files.append(str(tmp_path / "audit.json"))
    result = CliRunner().invoke(main, ["suggest", "--policy", str(policy_path), *files])
    assert result.exit_code == 0, result.output
    out = result.output
    # Known (catalogue), benign (fonts), own ([site] domains) and non-hosts are left out.
    for left_out in ("google-analytics", "gstatic", "acme.example", "inline"):
        assert left_out not in out.replace("# then add it", "")
    assert "#   www.google.com (1)" in out  # a shared host: listed, never a `hosts` entry
    tables = tomllib.loads(out)["services"]
    assert list(tables) == ["widgets-example", "chat-example", "polls-example"]  # most seen first
    assert tables["widgets-example"]["hosts"] == ["cdn.widgets.example", "px.widgets.example"]
    assert "# seen 42 times: gate: held\n[services.widgets-example]" in out
    assert "csp connect-src on /help" in out
    assert "audit: script (no choice)" in out
    # The tables are a valid policy, and with them every host is known.
    site = tomllib.loads(policy_path.read_text()) | {"services": tables}
    classifier = Classifier(Policy.from_dict(site).services)
    for host in ("cdn.widgets.example", "api.chat.example", "w.polls.example"):
        match = classifier.url(f"https://{host}/x.js")
        assert match is not None
        assert match.category == "marketing"


def test_suggest_says_when_nothing_is_unclassified_and_rejects_other_files(tmp_path: Path) -> None:
    log = tmp_path / "gate.log"
    log.write_text("consent_gate: new csp report: host=www.google-analytics.com, directive=x\n")
    assert "Nothing unclassified" in CliRunner().invoke(main, ["suggest", str(log)]).output
    other = tmp_path / "notes.txt"
    other.write_text("hello\n")
    result = CliRunner().invoke(main, ["suggest", str(other)])
    assert result.exit_code == 1
    assert "neither a reports summary" in result.output


def test_suggest_reads_the_live_reports_endpoint_with_the_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import httpx

    from asgi_client import respond
    from consent_gate import ConsentGate, Policy
    from consent_gate.qa import serve

    page = b'<html><body><script src="https://cdn.widgets.example/w.js"></script></body></html>'
    policy = Policy.from_dict({"log": {"enabled": False}})
    gate = ConsentGate(respond(page), secret_key="suggest-" * 5, policy=policy, reports_token="t0k")
    with serve(gate) as base:
        httpx.get(f"{base}/", headers={"Accept": "text/html"})
        monkeypatch.setenv("CONSENT_GATE_REPORTS_TOKEN", "t0k")
        result = CliRunner().invoke(main, ["suggest", f"{base}/consent-gate/reports"])
        assert result.exit_code == 0, result.output
        assert 'hosts = ["cdn.widgets.example"]' in result.output
        monkeypatch.setenv("CONSENT_GATE_REPORTS_TOKEN", "wrong")
        refused = CliRunner().invoke(main, ["suggest", f"{base}/consent-gate/reports"])
        assert refused.exit_code == 1
        assert "404" in refused.output
