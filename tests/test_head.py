"""HeadScripts: one inline script from the parts that apply, carrying the response's nonce."""

from __future__ import annotations

import pytest

from consent_gate.consent import Consent
from consent_gate.head import HeadScripts, js_value

UNDECIDED = Consent({"necessary": True, "analytics": False}, 1)


def test_nothing_when_no_part_applies() -> None:
    head = HeadScripts()
    assert head.render(UNDECIDED) == b""
    head.add(lambda consent: "")
    assert head.render(UNDECIDED) == b""


def test_parts_in_order_with_the_nonce() -> None:
    head = HeadScripts()
    head.add(lambda consent: "first();")
    head.add(lambda consent: "" if consent.allows("analytics") else "second();")
    assert head.render(UNDECIDED, "abc") == b'<script nonce="abc">first();\nsecond();</script>'
    allowed = Consent({"necessary": True, "analytics": True}, 1)
    assert head.render(allowed) == b"<script>first();</script>"


def test_a_part_cannot_end_the_script_early() -> None:
    head = HeadScripts()
    head.add(lambda consent: "x = '</SCRIPT><img src=//evil>';")
    with pytest.raises(ValueError, match="</script"):
        head.render(UNDECIDED)


def test_js_value_is_safe_inside_a_script() -> None:
    text = js_value({"a": "</script><!-- & é"})
    assert not set("<>&") & set(text)
    assert text.isascii()


def test_files_follow_the_inline_script_with_the_nonce_for_whom_they_apply() -> None:
    head = HeadScripts()
    head.add_file(lambda consent: not consent.allows("analytics"), "/gate/x.js?v=1", "sha384-AB")
    assert head.render(UNDECIDED, "n") == (
        b'<script nonce="n" src="/gate/x.js?v=1" integrity="sha384-AB"></script>'
    )
    head.add(lambda consent: "first();")
    assert head.render(UNDECIDED) == (
        b'<script>first();</script><script src="/gate/x.js?v=1" integrity="sha384-AB"></script>'
    )
    allowed = Consent({"necessary": True, "analytics": True}, 1)
    assert head.render(allowed) == b"<script>first();</script>"
