"""Time as a dependency: the services ask a clock, tests move one by hand."""

from __future__ import annotations

import math
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that stands still until told to move (for tests and simulations)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a clock's time must be timezone-aware")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now


SHIFT_RECHECK = 0.05
"""How stale a process's view of a shift file may be, in seconds."""


class ShiftedClock:
    """The system clock moved forward by an offset kept in a file — a simulation clock.

    An exchange's training or demonstration deployment (and the end-to-end tests) run its
    services on one shared, movable "now": ``techex clock advance 7d`` jumps every process past
    a seven-day announcement at once, so the scheduler fires what fell due. The offset only ever
    grows (a clock that went back would reorder bids and deadlines). The file holds seconds as
    a decimal number; it is looked at again at most every ``recheck`` seconds, so asking the time
    stays cheap on the bidding path. A missing or empty file means no shift.
    """

    def __init__(self, path: Path, recheck: float = SHIFT_RECHECK) -> None:
        self.path = path
        self.recheck = recheck
        self._offset = timedelta(0)
        self._checked = -math.inf
        self._mtime: int | None = None

    def offset(self) -> timedelta:
        mono = time.monotonic()
        if mono - self._checked >= self.recheck:
            self._checked = mono
            try:
                mtime = os.stat(self.path).st_mtime_ns
            except FileNotFoundError:
                mtime = None
            if mtime != self._mtime:
                self._mtime = mtime
                self._offset = max(self._offset, read_shift(self.path))
        return self._offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset()


def read_shift(path: Path) -> timedelta:
    """The offset a shift file holds (zero when there is none)."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return timedelta(0)
    return timedelta(seconds=float(text)) if text else timedelta(0)


def advance_shift(path: Path, delta: timedelta) -> timedelta:
    """Move a shift file's clock forward by ``delta``; returns the new offset."""
    if delta < timedelta(0):
        raise ValueError("a clock only moves forward")
    new = read_shift(path) + delta
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{new.total_seconds():.6f}\n")
    tmp.replace(path)  # atomic: a reader sees the old or the new offset, never half of one
    return new


def clock_from(shift_file: Path | None) -> Clock:
    """The clock a service runs on: the system's, or a shifted one when configured."""
    return ShiftedClock(shift_file) if shift_file else SystemClock()
