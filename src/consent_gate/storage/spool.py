"""Records the store could not take yet: kept in memory up to a bound, then in a JSONL file.

The file is locked while it is appended to or drained, so processes may share it; whichever can
reach the store first replays what a stopped or crashed process left behind.
"""

from __future__ import annotations

import fcntl
import json
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from .records import ConsentRecord

__all__ = ["Spool"]

logger = logging.getLogger("consent_gate.log")


class Spool:
    """Thread-safe; `drain` removes records only after the store took them."""

    def __init__(self, path: Path, memory: int = 10_000) -> None:
        self.path = path
        self._memory_bound = memory
        self._memory: list[ConsentRecord] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._memory) + self._file_lines()

    def empty(self) -> bool:
        """Cheap: no file read."""
        with self._lock:
            return not self._memory and self._file_size() == 0

    def _file_size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def _file_lines(self) -> int:
        try:
            with self.path.open("rb") as file:
                return sum(1 for _ in file)
        except FileNotFoundError:
            return 0

    def add(self, records: Sequence[ConsentRecord]) -> None:
        with self._lock:
            room = max(self._memory_bound - len(self._memory), 0)
            self._memory.extend(records[:room])
            if len(records) > room:
                self._append(records[room:])

    def persist(self) -> None:
        """Move what is in memory to the file (at shutdown, with the store still down)."""
        with self._lock:
            if self._memory:
                self._append(self._memory)
                self._memory = []

    def _append(self, records: Sequence[ConsentRecord]) -> None:
        lines = "".join(json.dumps(r.to_json(), separators=(",", ":")) + "\n" for r in records)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._locked("a") as file:
                file.write(lines)
                file.flush()
        except OSError:
            # Last resort: the records themselves go to the log, so no decision is lost unseen.
            logger.exception(
                "consent log: cannot write the spool file %s; the records follow:\n%s",
                self.path,
                lines,
            )

    def drain(self, write: Callable[[Sequence[ConsentRecord]], None], batch: int) -> int:
        """Hand everything to `write` in batches, oldest first; returns how many went."""
        done = 0
        with self._lock:
            while self._memory:
                chunk = self._memory[:batch]
                write(chunk)
                del self._memory[: len(chunk)]
                done += len(chunk)
            if not self._file_size():
                return done
            with self._locked("r+") as file:
                records = [
                    ConsentRecord.from_json(json.loads(line)) for line in file if line.strip()
                ]
                for start in range(0, len(records), batch):
                    write(records[start : start + batch])
                file.seek(0)
                file.truncate()
            done += len(records)
        if done:
            logger.warning("consent log: %d spooled record(s) written to the store", done)
        return done

    @contextmanager
    def _locked(self, mode: str) -> Iterator[IO[str]]:
        with self.path.open(mode, encoding="utf-8") as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            try:
                yield file
            finally:
                fcntl.flock(file, fcntl.LOCK_UN)
