"""<meta> charsets read as browsers prescan a page's first bytes."""

from __future__ import annotations

import pytest

from consent_gate.html.prescan import meta_charsets


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"<meta charset=utf-8>", ["utf-8"]),
        (b'<META CHARSET="Shift_JIS">', ["shift_jis"]),
        (b"<meta/charset='w'>", ["w"]),
        (b'<meta name=x charset = " utf-8 " >', ["utf-8"]),
        # the attribute itself, not one whose name ends in "charset"
        (b'<meta charset="iso-2022-jp" data-charset="utf-8">', ["iso-2022-jp"]),
        (b'<meta data-charset="utf-8" charset="iso-2022-jp">', ["iso-2022-jp"]),
        # the first of two attributes of one name
        (b"<meta charset=a charset=b>", ["a"]),
        # a comment hides a <meta>; "<!-->" is a whole comment
        (b'<!-- <meta charset="utf-8"> --><meta charset="iso-2022-jp">', ["iso-2022-jp"]),
        (b"<!--> <meta charset=z>", ["z"]),
        # a quoted value of another tag hides one
        (b'<div title="<meta charset=utf-16>"><meta charset=x>', ["x"]),
        # content= counts only beside http-equiv=content-type
        (b'<meta http-equiv=Content-Type content="text/html; charset=koi8-r">', ["koi8-r"]),
        (b'<meta content="text/html; charset=koi8-r">', []),
        (b"<meta http-equiv=content-type content='text/html;charset = \"euc-jp\"'>", ["euc-jp"]),
        # a charset attribute wins over content whatever their order
        (b'<meta content="text/html; charset=a" http-equiv=content-type charset=b>', ["b"]),
        # every <meta> that declares one, in order; none in an unfinished tag
        (b"<meta charset=a><p><meta charset=b>", ["a", "b"]),
        (b"<meta charset=a><meta charset", ["a"]),
        (b"<metadata charset=a>", []),
    ],
)
def test_meta_charsets_are_read_as_browsers_prescan_them(head: bytes, expected: list[str]) -> None:
    assert list(meta_charsets(head)) == expected
