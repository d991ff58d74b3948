"""The server's journal: a decision is appended here before the gate answers for it.

`write()` puts the frame in the page cache, which outlives any crash of our processes (`kill -9`
included). With `fsync = true` in `[log]`, the answer also waits for `fdatasync`, shared by
every request that arrived in the meantime (group commit), so it outlives an OS crash or power
loss too. A failed fsync is final: the kernel may have dropped the dirty pages and a second fsync
could "succeed" without them, so the journal stops taking decisions (the endpoint answers 503)
rather than retry and carry on.

Each process appends to files of its own, `<pid>-<start ns>-<token>.<n>.journal`, and holds an
exclusive `flock` on each until it is done with it. A journal nobody holds is finished (rotated,
or its process stopped or died): the shipper replays it and deletes it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import threading
import time
from pathlib import Path

from ..errors import StorageError
from .frames import encode

__all__ = ["SUFFIX", "Journal", "JournalError"]

logger = logging.getLogger("consent_gate.log")

SUFFIX = ".journal"
_ROTATE_AT = 64 << 20  # bytes; a finished file is shipped and deleted, so the disk use stays flat


class JournalError(StorageError):
    """The decision could not be journaled, so it must not be acknowledged."""


class Journal:
    """Appends on the caller's thread (one `write` per decision); thread-safe."""

    def __init__(
        self, directory: Path, *, fsync: bool = False, rotate_at: int = _ROTATE_AT
    ) -> None:
        self.directory = directory
        self.fsync = fsync
        self.count = 0  # decisions journaled by this process
        self._rotate_at = rotate_at
        self._prefix = ""
        self._pid = 0
        self._lock = threading.Lock()  # the file, its size and the counters
        self._sync_lock = threading.Lock()  # one fdatasync at a time; the waiters share the next
        self._fd = -1
        self._id_prefix = b""
        self._ids = 0
        self._number = 0
        self._size = 0
        self._written = 0  # bytes appended over all files: what a sync must cover
        self._synced = 0
        self._retired: list[int] = []  # rotated files still to be synced and closed (fsync on)
        self._failed: str | None = None
        self._closed = False

    @property
    def prefix(self) -> str:
        """This process's journals are named `<prefix>.<n>.journal` (set when the first opens)."""
        return self._prefix

    def open(self) -> None:
        """Create this process's journal now (at start-up) rather than on the first decision."""
        with self._lock:
            if self._fd < 0:
                self._open_next()

    def append(self, payload: bytes) -> None:
        """Journal one decision under a new record id; `JournalError` if it is not written."""
        with self._lock:
            if self._failed is not None:
                raise JournalError(self._failed)
            if self._fd < 0:
                self._open_next()
            elif self._size >= self._rotate_at:
                self._rotate()
            self._ids += 1  # a random 8 bytes per file and a counter: unique, and no syscall
            frame = encode(self._id_prefix + self._ids.to_bytes(4, "big"), payload)
            try:
                written = os.write(self._fd, frame)
            except OSError as exc:
                self._undo()
                raise JournalError(f"cannot write the journal: {exc}") from exc
            if written != len(frame):  # a full disk
                self._undo()
                raise JournalError("cannot write the journal: a short write (is the disk full?)")
            self._size += written
            self._written += written
            self.count += 1

    async def durable(self) -> None:
        """Return once everything appended so far is on disk (fsync on); at once otherwise."""
        if self.fsync and self._synced < self._written:
            import asyncio  # the server loaded it; importing the gate should not

            await asyncio.to_thread(self._sync, self._written)

    def close(self) -> None:
        """Take no more decisions; sync (fsync on) and release the files so they can be shipped."""
        with self._sync_lock, self._lock:
            self._closed = True
            files = [*self._retired, self._fd] if self._fd >= 0 else self._retired
            self._fd, self._retired = -1, []
            for fd in files:
                try:
                    if self.fsync and self._failed is None:
                        os.fdatasync(fd)
                except OSError:
                    logger.critical(
                        "consent log: fsync of the journal failed at shutdown", exc_info=True
                    )
                finally:
                    os.close(fd)
            if self._failed is None:
                self._synced = self._written

    def _open_next(self) -> None:
        if self._closed:
            raise JournalError("the consent log is shut down")
        if self._pid != os.getpid():  # first use, or a forked worker: files of its own
            self._pid = os.getpid()
            self._prefix = f"{self._pid}-{time.time_ns()}-{secrets.token_hex(2)}"
            self._number = 0
        self._number += 1
        path = self.directory / f"{self._prefix}.{self._number}{SUFFIX}"
        # Locked before it gets its name: a shipper must never see it unlocked while we live.
        building = path.with_suffix(".new")
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
            fd = os.open(building, flags, 0o600)
        except OSError as exc:
            raise JournalError(f"cannot create a journal in {self.directory}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(building, path)
            if self.fsync:
                _sync_directory(self.directory)
        except OSError as exc:
            os.close(fd)
            raise JournalError(f"cannot create a journal in {self.directory}: {exc}") from exc
        self._fd, self._size = fd, 0
        self._id_prefix, self._ids = os.urandom(8), 0

    def _rotate(self) -> None:
        old = self._fd
        self._open_next()
        if self.fsync:
            self._retired.append(old)  # closed by the next sync, after its fdatasync
        else:
            os.close(old)  # unlocked: the shipper finishes it and deletes it

    def _undo(self) -> None:
        """Cut what a failed write left, so no torn frame sits before the next one."""
        try:
            os.ftruncate(self._fd, self._size)
        except OSError as exc:
            self._failed = f"cannot write the journal, nor cut a failed write off it: {exc}"
            logger.critical("consent log: %s; refusing decisions until restarted", self._failed)

    def _sync(self, target: int) -> None:
        with self._sync_lock:
            if self._failed is not None:
                raise JournalError(self._failed)
            if self._synced >= target:
                return  # a sync that started after our write covered it
            with self._lock:
                fd, end, retired, self._retired = self._fd, self._written, self._retired, []
            try:
                for old in retired:
                    os.fdatasync(old)
                os.fdatasync(fd)
            except OSError as exc:
                self._failed = f"fsync of the journal failed ({exc}); it may have lost data"
                logger.critical("consent log: %s; refusing decisions until restarted", self._failed)
                raise JournalError(self._failed) from exc
            finally:
                for old in retired:
                    os.close(old)
            self._synced = end


def _sync_directory(directory: Path) -> None:
    """A new file's name is durable only once its directory is synced."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
