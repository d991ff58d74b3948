"""Journal frames: every good frame is found, whatever is damaged around it."""

from __future__ import annotations

import pytest

from consent_gate.storage.frames import HEAD, MAGIC, Bad, Frame, encode, frames

IDS = [bytes([n]) * 12 for n in range(5)]


def _journal() -> tuple[bytes, list[int]]:
    """Five frames; and where each starts."""
    data, starts = b"", []
    for number, record_id in enumerate(IDS):
        starts.append(len(data))
        data += encode(record_id, f"payload {number}".encode() * (number + 1))
    return data, starts


def _found(data: bytes) -> list[Frame | Bad]:
    return list(frames(data, 0, len(data)))


def test_frames_read_back_with_their_ids_and_payloads() -> None:
    data, starts = _journal()
    found = _found(data)
    assert [f.record_id for f in found if isinstance(f, Frame)] == [i.hex() for i in IDS]
    assert [f.start for f in found] == starts
    assert found[2] == Frame(starts[2], starts[3], IDS[2].hex(), b"payload 2" * 3)


@pytest.mark.parametrize("where", [0, 5, 9, HEAD - 1, HEAD + 3])
def test_a_corrupt_frame_in_the_middle_is_bad_and_those_after_it_are_kept(where: int) -> None:
    """Any flipped byte: magic, checksum, length, id or payload."""
    data, starts = _journal()
    damaged = bytearray(data)
    damaged[starts[1] + where] ^= 0x40
    found = _found(bytes(damaged))
    assert found[1] == Bad(starts[1], starts[2], tail=False)
    assert [f.record_id for f in found if isinstance(f, Frame)] == [
        IDS[0].hex(),
        *(i.hex() for i in IDS[2:]),
    ]


def test_a_torn_last_frame_is_the_tail() -> None:
    data, starts = _journal()
    torn = data[: starts[4] + HEAD + 2]
    found = _found(torn)
    assert found[-1] == Bad(starts[4], len(torn), tail=True)
    assert sum(isinstance(f, Frame) for f in found) == 4


def test_a_magic_inside_garbage_does_not_make_a_frame() -> None:
    data, starts = _journal()
    garbage = b"x" * 7 + MAGIC + b"\x00" * 40 + MAGIC
    mixed = data[: starts[2]] + garbage + data[starts[2] :]
    found = _found(mixed)
    assert found[2] == Bad(starts[2], starts[2] + len(garbage), tail=False)
    assert sum(isinstance(f, Frame) for f in found) == 5


def test_reading_starts_where_asked() -> None:
    data, starts = _journal()
    found = list(frames(data, starts[3], len(data)))
    assert [f.start for f in found] == starts[3:]
