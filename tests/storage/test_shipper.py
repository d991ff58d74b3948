"""The shipper: idempotent, offsets after commit, orphans replayed, damage quarantined, no stall."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pg_cluster import Cluster
from test_writer import ROWS, _row, journaled

from consent_gate.storage import SqlStore, open_store
from consent_gate.storage.frames import HEAD, Frame, encode, frames
from consent_gate.storage.journal import SUFFIX, Journal
from consent_gate.storage.rows import dump_row
from consent_gate.storage.shipper import Shipper


@pytest.fixture
def store(dsn: str) -> Iterator[SqlStore]:
    opened = open_store(dsn)
    yield opened
    opened.close()


def _shipper(journal: Journal | Path, own: str = "someone-else") -> Shipper:
    if isinstance(journal, Journal):
        return Shipper(journal.directory, journal.prefix, ROWS, "off")
    return Shipper(journal, own, ROWS, "off")


def _ids(store: SqlStore) -> list[str]:
    return sorted(r.consent_id for r in store.records())


def _starts(path: Path) -> list[int]:
    data = path.read_bytes()
    return [f.start for f in frames(data, 0, len(data)) if isinstance(f, Frame)]


def test_our_live_journal_is_shipped_as_it_grows_and_kept(store: SqlStore, tmp_path: Path) -> None:
    journal = journaled(tmp_path / "j", 3)
    shipper = _shipper(journal)
    assert shipper.ship(store)
    journal.append(dump_row(_row(3)))
    assert shipper.ship(store)
    assert _ids(store) == ["c0", "c1", "c2", "c3"]
    assert shipper.shipped == 4
    (path,) = journal.directory.glob(f"*{SUFFIX}")
    assert path.with_suffix(".shipped").read_text() == str(path.stat().st_size)
    journal.close()


def test_a_replay_after_a_lost_offset_duplicates_nothing(store: SqlStore, tmp_path: Path) -> None:
    journal = journaled(tmp_path / "j", 5)
    assert _shipper(journal).ship(store)
    before = sorted(r.record_id for r in store.records())
    for marker in journal.directory.glob("*.shipped"):
        marker.unlink()  # a crash between the store's commit and the offset's write
    journal.close()
    again = _shipper(tmp_path / "j")
    assert again.ship(store)
    assert sorted(r.record_id for r in store.records()) == before
    assert again.shipped == 5  # offered again, and skipped by the store


def test_the_offset_is_recorded_only_after_the_store_committed(
    store: SqlStore, tmp_path: Path
) -> None:
    journal = journaled(tmp_path / "j", 5)
    shipper = _shipper(journal)

    class Refusing:
        refused = ()  # gone: no fault of any record

        def write(self, records: object) -> None:
            raise ConnectionError("gone mid-batch")

    with pytest.raises(ConnectionError):
        shipper.ship(Refusing())  # type: ignore[arg-type]
    assert list(journal.directory.glob("*.shipped")) == []
    assert shipper.pending() == 5
    assert shipper.ship(store)
    assert shipper.pending() == 0
    journal.close()


def test_journals_left_by_any_dead_process_are_replayed_and_deleted(
    store: SqlStore, tmp_path: Path
) -> None:
    directory = tmp_path / "j"
    script = (
        "import sys, os; sys.path[:0] = sys.argv[3:]; from test_writer import journaled; "
        "journaled(__import__('pathlib').Path(sys.argv[1]), 7, int(sys.argv[2])); "
        "os._exit(0)"  # gone without closing anything, as if killed
    )
    paths = [str(Path(__file__).parent), *sys.path]
    for start in (0, 100):
        command = [sys.executable, "-c", script, str(directory), str(start), *paths]
        subprocess.run(command, check=True)
    mine = Journal(directory)
    mine.open()
    shipper = _shipper(mine)
    assert shipper.ship(store)
    assert len(_ids(store)) == 14
    assert [p.name for p in directory.glob(f"*{SUFFIX}")] == [f"{mine.prefix}.1{SUFFIX}"]
    assert list(directory.glob("*.shipped")) == []
    mine.close()


def test_a_journal_its_server_closes_and_a_peer_ships_meanwhile_is_no_error(
    store: SqlStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between this shipper finding its server's journal live and reading it, the server may
    close it and a peer's shipper take it whole: nothing is left to do, no store error."""
    journal = journaled(tmp_path / "j", 2)
    shipper = _shipper(journal)
    claim = shipper._claim

    @contextmanager
    def racing(path: Path) -> Iterator[bool | None]:
        with claim(path) as finished:
            journal.close()
            path.unlink()
            yield finished

    monkeypatch.setattr(shipper, "_claim", racing)
    assert shipper.ship(store)
    assert shipper.pending() == 0
    assert shipper.shipped == 0


def test_another_live_process_s_journal_is_left_to_it(store: SqlStore, tmp_path: Path) -> None:
    theirs = journaled(tmp_path / "j", 3)
    assert _shipper(tmp_path / "j", own="not-theirs").ship(store)
    assert store.count() == 0
    theirs.close()
    assert _shipper(tmp_path / "j", own="not-theirs").ship(store)
    assert store.count() == 3


def test_a_corrupt_middle_record_is_quarantined_and_shipping_goes_on(
    store: SqlStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = journaled(tmp_path / "j", 6)
    (path,) = journal.directory.glob(f"*{SUFFIX}")
    starts = _starts(path)
    with path.open("r+b") as file:  # one byte of record c2's payload rots
        file.seek(starts[2] + HEAD + 5)
        byte = file.read(1)
        file.seek(starts[2] + HEAD + 5)
        file.write(bytes([byte[0] ^ 0xFF]))
    shipper = _shipper(journal)
    with caplog.at_level(logging.ERROR, logger="consent_gate.log"):
        assert shipper.ship(store)
    assert _ids(store) == ["c0", "c1", "c3", "c4", "c5"]
    quarantined = journal.directory / "quarantine" / f"{path.name}.{starts[2]}"
    assert quarantined.read_bytes() == path.read_bytes()[starts[2] : starts[3]]
    assert f"corrupt byte(s) at offset {starts[2]}" in caplog.text
    assert str(quarantined) in caplog.text
    journal.append(dump_row(_row(6)))  # and later records are not stuck behind it
    assert shipper.ship(store)
    assert "c6" in _ids(store)
    journal.close()


def test_a_dead_journal_s_torn_tail_is_cut_but_a_live_one_s_is_awaited(
    store: SqlStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = journaled(tmp_path / "j", 3)
    (path,) = journal.directory.glob(f"*{SUFFIX}")
    torn = encode(b"\x01" * 12, dump_row(_row(3)))[:-4]
    with path.open("ab") as file:  # a write cut short, or one still under way
        file.write(torn)
    shipper = _shipper(journal)
    assert shipper.ship(store)
    assert store.count() == 3
    assert not (journal.directory / "quarantine").exists()  # live: it may yet be completed
    journal.close()
    with caplog.at_level(logging.WARNING, logger="consent_gate.log"):
        assert shipper.ship(store)
    assert "a write cut short" in caplog.text
    (kept,) = (journal.directory / "quarantine").iterdir()
    assert kept.read_bytes() == torn
    assert list(journal.directory.glob(f"*{SUFFIX}")) == []


def test_a_frame_that_checks_out_but_is_no_decision_is_quarantined(
    store: SqlStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = journaled(tmp_path / "j", 1)
    journal.append(b"\x00 not marshal")
    journal.append(dump_row(_row(2)))
    journal.close()
    with caplog.at_level(logging.ERROR, logger="consent_gate.log"):
        assert _shipper(tmp_path / "j").ship(store)
    assert _ids(store) == ["c0", "c2"]
    assert "cannot be decoded" in caplog.text
    assert len(list((tmp_path / "j" / "quarantine").iterdir())) == 1


def test_a_deadline_stops_a_pass_between_batches(store: SqlStore, tmp_path: Path) -> None:
    journal = journaled(tmp_path / "j", 25)
    shipper = Shipper(journal.directory, journal.prefix, ROWS, "off", batch=10)
    assert not shipper.ship(store, deadline=0.0)
    assert store.count() == 10
    assert shipper.pending() == 15
    journal.close()


def test_a_record_the_store_refuses_is_quarantined_and_the_others_are_shipped(
    cluster: Cluster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dsn = cluster.database()
    journal = journaled(tmp_path / "j", 2)
    poisoned = (*_row(2)[:7], "/a\x00b", *_row(2)[8:])  # PostgreSQL text cannot hold NUL
    journal.append(dump_row(poisoned))
    journal.append(dump_row(_row(3)))
    journal.close()
    store = open_store(dsn)
    try:
        with caplog.at_level(logging.ERROR, logger="consent_gate.log"):
            assert _shipper(tmp_path / "j").ship(store)
        assert _ids(store) == ["c0", "c1", "c3"]
    finally:
        store.close()
    assert "the store refuses record" in caplog.text
    (kept,) = (tmp_path / "j" / "quarantine").iterdir()
    assert b"/a\x00b" in kept.read_bytes()
    assert list((tmp_path / "j").glob(f"*{SUFFIX}")) == []  # not stuck behind it
