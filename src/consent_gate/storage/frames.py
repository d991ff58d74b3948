"""The journal's record framing: each frame checks itself, so a reader can keep every good one.

    magic (4) | CRC-32 of the rest (4) | payload length (4) | record id (12) | payload

A reader that meets a frame that does not check out looks for the next magic whose frame does:
the bytes in between are a corrupt record (quarantined by the caller); with none after them, they
are the tail, torn by a crash mid-write or still being written.
"""

from __future__ import annotations

import mmap
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["HEAD", "MAGIC", "Bad", "Data", "Frame", "encode", "frames"]

MAGIC = b"\xc3CGJ"
_CHECKED = struct.Struct(">I12s")  # payload length, record id: what the CRC covers with the payload
HEAD = len(MAGIC) + 4 + _CHECKED.size
_MAX_PAYLOAD = 1 << 20  # a decision is well under 64 KiB; a larger length is corruption


@dataclass(frozen=True, slots=True)
class Frame:
    start: int
    end: int
    record_id: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class Bad:
    """Bytes that are no frame: corrupt (`tail` False) or the end of the data (`tail` True)."""

    start: int
    end: int
    tail: bool


def encode(record_id: bytes, payload: bytes) -> bytes:
    checked = _CHECKED.pack(len(payload), record_id) + payload
    return MAGIC + zlib.crc32(checked).to_bytes(4, "big") + checked


Data = bytes | mmap.mmap


def frames(data: Data, start: int, end: int) -> Iterator[Frame | Bad]:
    """Every frame of `data[start:end]` in order; what lies between or after them as `Bad`."""
    position = start
    while position < end:
        frame = _frame_at(data, position, end)
        if frame is not None:
            yield frame
            position = frame.end
            continue
        following = _next_frame(data, position + 1, end)
        if following is None:
            yield Bad(position, end, tail=True)
            return
        yield Bad(position, following, tail=False)
        position = following


def _frame_at(data: Data, position: int, end: int) -> Frame | None:
    if end - position < HEAD or data[position : position + 4] != MAGIC:
        return None
    length, record_id = _CHECKED.unpack_from(data, position + 8)
    stop = position + HEAD + length
    if length > _MAX_PAYLOAD or stop > end:
        return None
    checked = data[position + 8 : stop]
    if zlib.crc32(checked) != int.from_bytes(data[position + 4 : position + 8], "big"):
        return None
    return Frame(position, stop, record_id.hex(), checked[_CHECKED.size :])


def _next_frame(data: Data, position: int, end: int) -> int | None:
    while (found := data.find(MAGIC, position, end)) != -1:
        if _frame_at(data, found, end) is not None:
            return found
        position = found + 1
    return None
