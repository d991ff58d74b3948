"""Ships journals to the store: idempotently, and how far is recorded only once the store committed.

A pass takes every journal in the directory that this process may ship: its own server's live
one, up to the last complete frame, and any finished one (no process holds its lock: rotated, or
left by a process that stopped or died, whatever its pid), which it locks, ships whole and
deletes. The store skips a record id it already has, so shipping a frame twice (a crash between
the commit and `<journal>.shipped`) never duplicates or rewrites a record.

A frame that does not check out is copied to `quarantine/` with an error, and shipping goes on
after it; so is a record that cannot be decoded, or that the store refuses (say, a NUL byte
PostgreSQL cannot keep in text) while it takes the others. A finished journal's torn tail (a
write cut short by a crash) is copied there too, with a warning, and dropped.
"""

from __future__ import annotations

import fcntl
import logging
import mmap
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from .frames import Bad, Data, Frame, frames
from .journal import SUFFIX
from .records import ConsentRecord, IpMode
from .rows import Rows, load_row
from .spool import ship_spool
from .sql import SqlStore

__all__ = ["Shipper"]

logger = logging.getLogger("consent_gate.log")


class Shipper:
    """Not thread-safe: one thread of one process runs its passes."""

    def __init__(
        self,
        directory: Path,
        own: str,
        rows: Rows,
        ip: IpMode,
        *,
        batch: int = 1000,
        spool: Path | None = None,
    ) -> None:
        """`own`: the prefix of this server's journals (`Journal.prefix`); `spool`: where an
        earlier version kept what its store did not take, written once."""
        self.directory = directory
        self.own = own + "."
        self.shipped = 0
        self._spool = spool
        self._rows = rows
        self._ip = ip
        self._batch = batch

    def ship(self, store: SqlStore, deadline: float | None = None) -> bool:
        """One pass; True unless the deadline (a `time.monotonic()`) cut it short. Store errors
        propagate; what the store committed before them stays recorded as shipped."""
        if self._spool is not None:
            self.shipped += ship_spool(self._spool, store, self.directory / "quarantine")
            self._spool = None
        for path in self._journals():
            with self._claim(path) as finished:
                try:
                    if finished is not None and not self._ship_one(store, path, finished, deadline):
                        return False
                except FileNotFoundError:  # its server closed it, and a peer shipped it all
                    continue
        return True

    def pending(self) -> int:
        """Decisions in journals this process may ship that are not shipped yet."""
        left = 0
        for path in self._journals():
            with self._claim(path) as finished, suppress(FileNotFoundError):  # shipped meanwhile
                if finished is not None:
                    with _mapped(path) as (data, size):
                        start = _offset(path)
                        left += sum(isinstance(f, Frame) for f in frames(data, start, size))
        return left

    def _journals(self) -> list[Path]:
        return sorted(self.directory.glob(f"*{SUFFIX}"))

    @contextmanager
    def _claim(self, path: Path) -> Iterator[bool | None]:
        """True: finished, and locked until the block ends; False: our server's live journal;
        None: another live process's, or gone."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            yield None
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False if path.name.startswith(self.own) else None
                return
            try:  # locked after another shipper deleted it: nothing to do
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            yield True if same else None
        finally:
            os.close(fd)

    def _ship_one(
        self, store: SqlStore, path: Path, finished: bool, deadline: float | None
    ) -> bool:
        start = _offset(path)
        with _mapped(path) as (data, size):
            batch: list[tuple[Frame, ConsentRecord]] = []
            done = recorded = start
            for item in frames(data, start, size):
                if isinstance(item, Frame):
                    record = self._record(path, data, item)
                    if record is not None:
                        batch.append((item, record))
                elif item.tail and not finished:
                    break  # still being written
                else:
                    self._quarantine(path, data, item)
                done = item.end
                if len(batch) >= self._batch:
                    recorded = self._commit(store, path, data, batch, recorded, done)
                    batch = []
                    if deadline is not None and time.monotonic() > deadline:
                        return False
            self._commit(store, path, data, batch, recorded, done)
        if finished:
            _shipped_file(path).unlink(missing_ok=True)  # first: a crash here replays, no more
            path.unlink()
        return True

    def _record(self, path: Path, data: Data, frame: Frame) -> ConsentRecord | None:
        try:
            row = load_row(frame.payload)
            return self._rows.decision(row).record(self._ip, frame.record_id)
        except Exception:
            where = self._keep(path, data, frame.start, frame.end)
            logger.exception(
                "consent log: record %s cannot be decoded; copied to %s", frame.record_id, where
            )
            return None

    def _commit(
        self,
        store: SqlStore,
        path: Path,
        data: Data,
        batch: list[tuple[Frame, ConsentRecord]],
        recorded: int,
        done: int,
    ) -> int:
        """Write the batch, then record `done` as shipped; returns the offset now recorded."""
        try:
            store.write([record for _, record in batch])
            self.shipped += len(batch)
        except store.refused:  # one record the store will never take must not hold up the rest
            for frame, record in batch:
                try:
                    store.write([record])
                    self.shipped += 1
                except store.refused:
                    where = self._keep(path, data, frame.start, frame.end)
                    logger.exception(
                        "consent log: the store refuses record %s; copied to %s, and the "
                        "records after it are shipped",
                        frame.record_id,
                        where,
                    )
        if done > recorded:
            marker = _shipped_file(path)
            building = marker.with_suffix(".shipping")
            building.write_text(str(done))
            os.replace(building, marker)
        return done

    def _quarantine(self, path: Path, data: Data, bad: Bad) -> None:
        target = self._keep(path, data, bad.start, bad.end)
        if bad.tail:
            logger.warning(
                "consent log: %s ends in %d byte(s) of a write cut short (a crash); cut, and "
                "kept in %s",
                path,
                bad.end - bad.start,
                target,
            )
        else:
            logger.error(
                "consent log: %s has %d corrupt byte(s) at offset %d; copied to %s, and the "
                "records after them are shipped",
                path,
                bad.end - bad.start,
                bad.start,
                target,
            )

    def _keep(self, path: Path, data: Data, start: int, end: int) -> Path:
        """Copy bytes of a journal to `quarantine/`, named after the journal and offset."""
        folder = self.directory / "quarantine"
        folder.mkdir(mode=0o700, exist_ok=True)
        target = folder / f"{path.name}.{start}"
        target.write_bytes(data[start:end])
        return target


def _shipped_file(path: Path) -> Path:
    return path.with_suffix(".shipped")


def _offset(path: Path) -> int:
    """How far the store has committed `path` (0: nothing yet, or the marker is unreadable)."""
    try:
        return int(_shipped_file(path).read_text())
    except (OSError, ValueError):
        return 0


@contextmanager
def _mapped(path: Path) -> Iterator[tuple[Data, int]]:
    with path.open("rb") as file:
        size = os.fstat(file.fileno()).st_size
        if size == 0:
            yield b"", 0
            return
        with mmap.mmap(file.fileno(), size, access=mmap.ACCESS_READ) as data:
            yield data, size
