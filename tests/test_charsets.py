"""Charset labels as browsers read them: the Encoding standard's table, not Python's codecs."""

from __future__ import annotations

import pytest

from consent_gate.charsets import ascii_compatible, encoding, meta_encoding


@pytest.mark.parametrize(
    ("label", "name"),
    [
        ("utf-8", "utf-8"),
        (" UTF8\t", "utf-8"),
        ("unicode-1-1-utf-8", "utf-8"),
        ("latin1", "windows-1252"),
        ("iso-8859-1", "windows-1252"),
        ("ascii", "windows-1252"),
        ("shift_jis", "shift_jis"),
        ("gbk", "gbk"),
        ("utf-16", "utf-16le"),
        ("unicodefffe", "utf-16be"),
        ("csiso2022kr", "replacement"),
        ("iso-2022-jp", "iso-2022-jp"),
    ],
)
def test_a_label_names_the_encoding_browsers_decode_with(label: str, name: str) -> None:
    assert encoding(label) == name


@pytest.mark.parametrize(
    "label", ["latin-1", "mac-roman", "utf-7", "utf-32", "utf-16-be", "cp037", "bogus", ""]
)
def test_labels_python_knows_but_browsers_ignore_name_nothing(label: str) -> None:
    """Read through Python's codecs, `latin-1` in a Content-Type named an encoding, and the
    gate took the header as deciding; browsers ignore it and decode as the `<meta>` says."""
    assert encoding(label) is None


@pytest.mark.parametrize(
    ("label", "name"),
    [("utf-16", "utf-8"), ("utf-16be", "utf-8"), ("x-user-defined", "windows-1252")],
)
def test_a_meta_cannot_name_utf16_and_means_utf8(label: str, name: str) -> None:
    assert meta_encoding(label) == name


def test_a_meta_naming_an_unknown_label_names_nothing() -> None:
    assert meta_encoding("mac-roman") is None


@pytest.mark.parametrize("name", ["utf-8", "windows-1252", "shift_jis", "gbk", "euc-kr", "big5"])
def test_ascii_compatible_encodings(name: str) -> None:
    assert ascii_compatible(name)


@pytest.mark.parametrize("name", ["utf-16le", "utf-16be", "iso-2022-jp", "replacement"])
def test_encodings_that_are_not_ascii_compatible(name: str) -> None:
    assert not ascii_compatible(name)
