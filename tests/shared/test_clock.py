"""The clocks: the shifted simulation clock that several processes share through a file."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from shared.clock import ShiftedClock, SystemClock, advance_shift, clock_from, read_shift


def test_without_a_shift_file_the_shifted_clock_tells_the_system_time(tmp_path):
    clock = ShiftedClock(tmp_path / "absent")
    before = datetime.now(UTC)
    assert before <= clock.now() <= datetime.now(UTC)


def test_advancing_the_file_moves_every_reader_forward(tmp_path):
    path = tmp_path / "shift"
    first, second = ShiftedClock(path, recheck=0), ShiftedClock(path, recheck=0)
    assert advance_shift(path, timedelta(days=7)) == timedelta(days=7)
    assert advance_shift(path, timedelta(hours=1)) == timedelta(days=7, hours=1)
    for clock in (first, second):
        drift = clock.now() - datetime.now(UTC) - timedelta(days=7, hours=1)
        assert abs(drift) < timedelta(seconds=1)


def test_the_clock_never_goes_back_even_if_the_file_does(tmp_path):
    path = tmp_path / "shift"
    advance_shift(path, timedelta(days=2))
    clock = ShiftedClock(path, recheck=0)
    assert clock.offset() == timedelta(days=2)
    path.write_text("60\n")
    os.utime(path, ns=(1, 1))  # a different mtime, so the file is read again
    assert clock.offset() == timedelta(days=2)


def test_the_file_is_read_again_only_after_the_recheck_interval(tmp_path):
    path = tmp_path / "shift"
    clock = ShiftedClock(path, recheck=3600)
    assert clock.offset() == timedelta(0)
    advance_shift(path, timedelta(days=1))
    assert clock.offset() == timedelta(0)  # not looked at again yet
    assert ShiftedClock(path).offset() == timedelta(days=1)


def test_a_clock_only_moves_forward(tmp_path):
    with pytest.raises(ValueError):
        advance_shift(tmp_path / "shift", timedelta(seconds=-1))
    assert read_shift(tmp_path / "shift") == timedelta(0)


def test_services_run_on_the_system_clock_unless_a_shift_file_is_configured(tmp_path):
    assert isinstance(clock_from(None), SystemClock)
    assert isinstance(clock_from(tmp_path / "shift"), ShiftedClock)
