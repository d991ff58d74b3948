"""Header lookups, content types, charsets, origins and the gzip/deflate decoder and encoder."""

from __future__ import annotations

import gzip
import os
import zlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent_gate.http import (
    Decoder,
    Encoder,
    content_type,
    cookie_names,
    cookie_values,
    header,
    lower_names,
    origin_of,
)

PAGE = (
    b"<!doctype html><html><head><title>t</title></head><body>"
    + b"<p>Hello, world. Caf\xc3\xa9.</p>\n" * 2000
    + b"</body></html>"
)


# --- headers and cookies ------------------------------------------------------------------------


def test_header_returns_the_first_value_or_none() -> None:
    headers = [(b"accept", b"text/html"), (b"x-a", b"1"), (b"x-a", b"2")]
    assert header(headers, b"x-a") == b"1"
    assert header(headers, b"accept") == b"text/html"
    assert header(headers, b"missing") is None


def test_cookie_values_reads_one_name_across_cookie_headers() -> None:
    headers = [
        (b"cookie", b"a=1; consent_gate=abc.def=; b=2"),
        (b"cookie", b"c=3; consent_gate=second"),
    ]
    assert cookie_values(headers, b"consent_gate") == ["abc.def=", "second"]
    assert cookie_values(headers, b"c") == ["3"]
    assert cookie_values(headers, b"a") == ["1"]
    assert cookie_values(headers, b"missing") == []
    assert cookie_values([], b"a") == []


def test_lower_names_leaves_lower_case_headers_as_they_are() -> None:
    headers = [(b"content-type", b"text/html"), (b"x-1", b"y")]
    assert lower_names(headers) is headers
    assert lower_names([(b"Set-Cookie", b"A=1"), (b"vary", b"X")]) == [
        (b"set-cookie", b"A=1"),
        (b"vary", b"X"),
    ]


@given(st.lists(st.sampled_from(["cg", "=", ";", " ", "\t", "\x0b", "\n", "x", "\xff", "\x1c"])))
def test_cookie_values_read_each_pair_as_split_and_stripped(pieces: list[str]) -> None:
    """Of each ";"-separated pair, white space around it dropped, the name is what comes
    before its first "=" (a pair without one is a name with an empty value)."""
    value = "".join(pieces).encode("latin-1")
    expected = []
    for pair in value.split(b";"):
        name, _, found = pair.strip().partition(b"=")
        if name == b"cg":
            expected.append(found.decode("latin-1"))
    assert cookie_values([(b"cookie", value)], b"cg") == expected


def test_cookie_value_does_not_match_a_name_prefix() -> None:
    headers = [(b"cookie", b"consent_gate_old=x; xconsent_gate=y")]
    assert cookie_values(headers, b"consent_gate") == []


def test_cookie_names_lists_every_cookie() -> None:
    headers = [(b"cookie", b"a=1;b=2; ; _ga=GA1.2"), (b"host", b"x"), (b"cookie", b"c")]
    assert cookie_names(headers) == ["a", "b", "_ga", "c"]


# --- content types ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"text/html; charset=utf-8", ("text/html", "utf-8")),
        (b"TEXT/HTML;CHARSET=UTF-8", ("text/html", "utf-8")),
        (b'text/html; charset="windows-1252"', ("text/html", "windows-1252")),
        (b"text/html; charset='latin-1'", ("text/html", "'latin-1'")),  # no quote to browsers
        (b"text/html;  foo=bar ;  charset=Shift_JIS ", ("text/html", "shift_jis")),
        (b"text/html; charset=", ("text/html", None)),
        (b"text/html", ("text/html", None)),
        (b"  application/json  ", ("application/json", None)),
        (b"", ("", None)),
        (None, ("", None)),
    ],
)
def test_content_type_parsing(value: bytes | None, expected: tuple[str, str | None]) -> None:
    assert content_type(value) == expected


@pytest.mark.parametrize(
    ("value", "read"),
    [
        (b"text/html; charset=iso-2022-jp; charset=utf-8", ("text/html", "iso-2022-jp")),
        (b"text/html, text/html; charset=iso-2022-jp", ("text/html", "iso-2022-jp")),
        (b"text/html; charset=iso-2022-jp, text/html", ("text/html", "iso-2022-jp")),
        (b"text/html; charset=utf-8, text/html; charset=utf-16", ("text/html", "utf-16")),
        (b"text/html; charset=utf-8, text/plain", ("text/plain", None)),
        (b"text/html, */*", ("text/html", None)),
        # A type ends at white space, ";" or "(" and needs a "/" before that (each checked in
        # Chromium: the first three render as HTML, the next sniff the body, the last do not).
        (b"text/html x; charset=utf-8", ("text/html", "utf-8")),
        (b"text/html(x)", ("text/html", None)),
        (b"\ttext/html\tx", ("text/html", None)),
        (b"text /html", ("", None)),
        (b"te(xt/html", ("", None)),
        (b";text/html", ("", None)),
        (b"text/plain\thtml", ("text/plain", None)),
        (b"text/html, text/ plain", ("text/", None)),
        # Parameters as Fetch's "parse a MIME type" reads them, which Chromium follows (each
        # checked there with a UTF-16 page: decoded as UTF-16 exactly where a charset is read).
        (b'text/html; charset="utf-16le" x', ("text/html", "utf-16le")),
        (b'text/html; charset="utf-16le"x', ("text/html", "utf-16le")),
        (b'text/html; charset="utf\\-16le"', ("text/html", "utf-16le")),
        (b'text/html; charset="utf-16le', ("text/html", "utf-16le")),
        (b"text/html;;charset=utf-16le", ("text/html", "utf-16le")),
        (b"text/html; charset = utf-16le", ("text/html", None)),
        (b"text/html; charset=utf-16le x", ("text/html", "utf-16le x")),
        (b"text/html; charset='utf-16le'", ("text/html", "'utf-16le'")),
        (b'text/html; foo="a;charset=utf-16le"', ("text/html", None)),
        (b'text/html; charset="utf-16le;x"', ("text/html", "utf-16le;x")),
        (b"text/html; x=1 charset=utf-16le", ("text/html", None)),
        (b"text/html; charset:utf-16le", ("text/html", None)),
        # A quote opens a quoted string wherever it is; a comma in it separates nothing.
        (b'text/html; x="a, text/plain"', ("text/html", None)),
        (b'text/html; x=a", text/plain', ("text/html", None)),
        (b'text/html; x="a\\", text/plain', ("text/html", None)),
        (b'text/plain; x="a, text/html"', ("text/plain", None)),
        (b'text/html; x="a", text/plain', ("text/plain", None)),
    ],
)
def test_a_content_type_is_read_as_browsers_read_it(
    value: bytes, read: tuple[str, str | None]
) -> None:
    """Fetch's "extract a MIME type", which Chromium follows: the first charset of a type, the
    last type of a list (checked in Chromium: the first two decode as ISO-2022-JP)."""
    assert content_type(value) == read


# --- origins ------------------------------------------------------------------------------------


def _scope(host: bytes | None, scheme: str = "http", server: Any = ("10.0.0.1", 8000)) -> Any:
    headers = [(b"host", host)] if host is not None else []
    return {"type": "http", "scheme": scheme, "headers": headers, "server": server}


@pytest.mark.parametrize(
    ("host", "scheme", "origin"),
    [
        (b"example.com", "http", "http://example.com"),
        (b"Example.COM", "https", "https://example.com"),
        (b"example.com:80", "http", "http://example.com"),
        (b"example.com:443", "https", "https://example.com"),
        (b"example.com:443", "http", "http://example.com:443"),
        (b"example.com:80", "https", "https://example.com:80"),
        (b"example.com:8080", "http", "http://example.com:8080"),
        (b"127.0.0.1:8000", "http", "http://127.0.0.1:8000"),
        (b"[::1]:8000", "http", "http://[::1]:8000"),
    ],
)
def test_origin_of_drops_only_the_default_port(host: bytes, scheme: str, origin: str) -> None:
    assert origin_of(_scope(host, scheme)) == origin


def test_origin_of_falls_back_to_the_server_address() -> None:
    assert origin_of(_scope(None)) == "http://10.0.0.1:8000"
    assert origin_of(_scope(None, "http", ("10.0.0.1", 80))) == "http://10.0.0.1"
    assert origin_of(_scope(None, "http", ("unix.sock", None))) == "http://unix.sock"
    assert origin_of({"type": "http", "headers": []}) == "http://localhost"


# --- decoder and encoder ------------------------------------------------------------------------


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _decode_all(chunks: list[bytes]) -> bytes:
    decoder = Decoder()
    return b"".join(decoder.feed(chunk) for chunk in chunks) + decoder.close()


@pytest.mark.parametrize("size", [1, 7, 100, 4096, 1 << 20])
def test_decoder_undoes_gzip_in_any_chunking(size: int) -> None:
    assert _decode_all(_chunks(gzip.compress(PAGE), size)) == PAGE


@pytest.mark.parametrize("size", [1, 13, 1 << 20])
def test_decoder_undoes_zlib_deflate_in_any_chunking(size: int) -> None:
    assert _decode_all(_chunks(zlib.compress(PAGE), size)) == PAGE


@pytest.mark.parametrize("size", [1, 2, 9, 1 << 20])
def test_decoder_reads_every_member_of_a_multi_member_gzip_body(size: int) -> None:
    members = gzip.compress(PAGE[:1000]) + gzip.compress(PAGE[1000:5000]) + gzip.compress(b"")
    members += gzip.compress(PAGE[5000:])
    assert gzip.decompress(members) == PAGE
    assert _decode_all(_chunks(members, size)) == PAGE


def test_decoder_close_without_input_is_empty() -> None:
    assert Decoder().close() == b""


@pytest.mark.parametrize("coding", ["gzip", "x-gzip", "deflate"])
def test_encoder_round_trips_through_the_decoder(coding: str) -> None:
    encoder = Encoder(coding)
    encoded = b"".join(encoder.feed(chunk) for chunk in _chunks(PAGE, 1000)) + encoder.close()
    assert _decode_all([encoded]) == PAGE


def test_encoder_output_is_standard_gzip_and_zlib() -> None:
    gz = Encoder("gzip")
    assert gzip.decompress(gz.feed(PAGE) + gz.close()) == PAGE
    df = Encoder("deflate")
    assert zlib.decompress(df.feed(PAGE) + df.close()) == PAGE


def test_each_encoded_chunk_is_flushed_so_a_client_can_decode_it_at_once() -> None:
    encoder = Encoder("gzip")
    reader = zlib.decompressobj(zlib.MAX_WBITS | 16)
    fed = seen = b""
    for chunk in _chunks(PAGE, 3000):
        fed += chunk
        seen += reader.decompress(encoder.feed(chunk))
        assert seen == fed
    seen += reader.decompress(encoder.close())
    assert seen == PAGE


def test_encoder_feed_of_nothing_emits_nothing() -> None:
    assert Encoder("gzip").feed(b"") == b""


class _SpyInflate:
    """Wraps a zlib decompressobj and records each step's output limit and size."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.steps: list[tuple[int, int]] = []

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        out: bytes = self.real.decompress(data, max_length)
        self.steps.append((max_length, len(out)))
        return out

    @property
    def unconsumed_tail(self) -> bytes:
        tail: bytes = self.real.unconsumed_tail
        return tail

    @property
    def unused_data(self) -> bytes:
        rest: bytes = self.real.unused_data
        return rest

    @property
    def eof(self) -> bool:
        done: bool = self.real.eof
        return done

    def flush(self, *args: int) -> bytes:
        out: bytes = self.real.flush(*args)
        return out


def test_a_gzip_bomb_decodes_in_bounded_steps() -> None:
    size = 64 << 20  # 64 MiB of zeros compress to about 64 KiB
    bomb = gzip.compress(bytes(size), compresslevel=9)
    assert len(bomb) < size // 500
    decoder = Decoder()
    spy = _SpyInflate(decoder._inflate)
    decoder._inflate = spy  # type: ignore[assignment]
    total = sum(len(decoder.feed(chunk)) for chunk in _chunks(bomb, 16384)) + len(decoder.close())
    assert total == size
    assert len(spy.steps) >= size >> 20
    assert all(0 < limit <= 1 << 20 and out <= limit for limit, out in spy.steps)


def test_random_bytes_round_trip() -> None:
    data = os.urandom(300_000)
    for coding in ("gzip", "deflate"):
        encoder = Encoder(coding)
        encoded = b"".join(encoder.feed(c) for c in _chunks(data, 65536)) + encoder.close()
        assert _decode_all(_chunks(encoded, 5000)) == data
