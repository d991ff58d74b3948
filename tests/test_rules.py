"""The built-in catalogue compiled into rules: fingerprinting libraries on shared CDNs are held
back by path, while other packages on the same CDNs still load."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent_gate.html import HtmlRewriter
from consent_gate.policy import Policy
from consent_gate.rules import Rules, joined

RULES = Rules(Policy.default())


@pytest.mark.parametrize(
    ("url", "service"),
    [
        ("//openfpcdn.io/fingerprintjs/v4", "fingerprintjs"),
        ("//openfpcdn.io/botd/v1", "fingerprintjs"),
        ("//cdn.jsdelivr.net/npm/@fingerprintjs/fingerprintjs@4/dist/fp.min.js", "fingerprintjs"),
        ("//cdn.jsdelivr.net/npm/@fingerprintjs/fingerprintjs/dist/fp.min.js", "fingerprintjs"),
        ("//unpkg.com/@fingerprintjs/fingerprintjs@4.5.1/dist/fp.umd.min.js", "fingerprintjs"),
        (
            "//cdnjs.cloudflare.com/ajax/libs/fingerprintjs2/2.1.4/fingerprint2.min.js",
            "fingerprintjs",
        ),
        ("//fpjscdn.net/v3/abcdef0123456789", "fingerprint-pro"),
        ("//fpcdn.io/v3/abcdef0123456789", "fingerprint-pro"),
        ("//api.fpjs.io/?ci=js/3.9.2", "fingerprint-pro"),
        ("//eu.api.fpjs.io/", "fingerprint-pro"),
        (
            "//cdn.jsdelivr.net/npm/@fingerprintjs/fingerprintjs-pro@3/dist/fp.min.js",
            "fingerprint-pro",
        ),
        ("//cdn.jsdelivr.net/npm/clientjs@0.2.1/dist/client.min.js", "clientjs"),
        ("//unpkg.com/clientjs", "clientjs"),
        ("//cdn.jsdelivr.net/npm/@thumbmarkjs/thumbmarkjs/dist/thumbmark.umd.js", "thumbmarkjs"),
        ("//unpkg.com/@thumbmarkjs/thumbmarkjs", "thumbmarkjs"),
    ],
)
def test_fingerprinting_libraries_are_marketing(url: str, service: str) -> None:
    match = RULES.classifier.url(url)
    assert match is not None
    assert (match.service, match.category) == (service, "marketing")


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.jsdelivr.net/npm/bootstrap@5.3.3/dist/js/bootstrap.bundle.min.js",
        "https://cdn.jsdelivr.net/npm/@fingerprintjs/botd-lite@1/dist/botd.min.js",
        "https://unpkg.com/htmx.org@2.0.0",
        "https://unpkg.com/@fingerprintjsx/other",
        "https://cdnjs.cloudflare.com/ajax/libs/jquery/3.7.1/jquery.min.js",
    ],
)
def test_other_packages_on_the_same_cdns_are_not_fingerprinting(url: str) -> None:
    assert RULES.classifier.url(url) is None


def test_the_rewriter_holds_fingerprinting_scripts_back_and_lets_others_load() -> None:
    blocker = RULES.blocking(frozenset({"analytics", "marketing"}))
    assert blocker is not None
    page = (
        b'<script src="https://cdn.jsdelivr.net/npm/@fingerprintjs/fingerprintjs@4"></script>'
        b'<script src="https://cdn.jsdelivr.net/npm/bootstrap@5.3.3/dist/js/bootstrap.min.js">'
        b"</script>"
        b"<script>const fp = new ClientJS(); send(fp.getFingerprint());</script>"
    )
    rewriter = HtmlRewriter(blocker, lambda match: b"")
    out = rewriter.feed(page) + rewriter.close()
    assert out.count(b'type="text/plain" data-cg-category="marketing"') == 2
    assert b'data-cg-service="fingerprintjs" data-cg-src="https://cdn.jsdelivr.net/npm/@fing' in out
    assert b'data-cg-service="clientjs"' in out
    assert b'<script src="https://cdn.jsdelivr.net/npm/bootstrap@5.3.3/' in out


_LITERALS_JOINED = re.compile(rb"[\"'`]\s*+\+\s*+[\"'`]")  # what `joined` must equal


@settings(max_examples=2000, deadline=None)
@given(
    st.lists(st.sampled_from([b"'", b'"', b"`", b"+", b" ", b"\t", b"\n", b"\x0b", b"a", b"++"]))
)
def test_joined_literals_read_as_the_regular_expression_does(parts: list[bytes]) -> None:
    text = b"".join(parts)
    assert joined(text) == _LITERALS_JOINED.sub(b"", text)


def test_a_host_split_across_joined_literals_is_found() -> None:
    blocker = RULES.blocking(frozenset(Policy.default().optional_categories))
    assert blocker is not None
    out = HtmlRewriter(blocker, lambda match: b"P").feed(
        b"<script>var s='https://www.google-an' + \t'alytics.com/analytics.js'</script>"
    )
    assert b'type="text/plain"' in out
