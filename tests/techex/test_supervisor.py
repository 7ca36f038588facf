"""The supervisor of `techex up`: its restart policy, and the process handling on real child
processes (small Python sleepers standing in for the services)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

import pytest

from techex.cli import stop_services
from techex.supervisor import CrashLoop, RestartPolicy, Supervisor, exit_status

# -- the policy ---------------------------------------------------------------------------------


def test_the_backoff_doubles_with_each_exit_inside_the_window_up_to_its_cap():
    policy = RestartPolicy(max_crashes=10, window=60, backoff=0.5, max_backoff=3)
    exits: list[float] = []
    delays = []
    for now in (0, 1, 2, 3, 4, 5):
        exits.append(now)
        delays.append(policy.delay(exits, now))
    assert delays == [0.5, 1, 2, 3, 3, 3]


def test_the_fifth_exit_within_a_minute_gives_up():
    policy = RestartPolicy()
    assert policy.delay([0, 10, 20, 30], 30) is not None
    assert policy.delay([0, 10, 20, 30, 59], 59) is None


def test_exits_older_than_the_window_no_longer_count():
    policy = RestartPolicy()
    exits = [0, 10, 20, 30]
    assert policy.recent([*exits, 65], 65) == [10, 20, 30, 65]
    assert policy.delay([*exits, 65], 65) is not None  # four inside the window, not five
    assert policy.delay([0, 100], 100) == policy.backoff  # a fresh start after a quiet spell


def test_a_policy_that_could_never_restart_is_refused():
    with pytest.raises(ValueError):
        RestartPolicy(max_crashes=0)


def test_exit_status_names_the_signal():
    assert exit_status(-9) == "code -9 (SIGKILL)"
    assert exit_status(1) == "code 1"


# -- the process handling -----------------------------------------------------------------------

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]
FAILS_AT_ONCE = [sys.executable, "-c", "raise SystemExit(3)"]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def children():
    made: list[subprocess.Popen] = []

    def spawn(cmd: list[str]) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        made.append(proc)
        return proc

    yield spawn
    for proc in made:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _supervisor(children, tmp_path, commands: dict[str, list[str]], clock: Clock,
                said: list[str], ready=None) -> Supervisor:
    procs = {name: children(cmd) for name, cmd in commands.items()}
    return Supervisor(procs, spawn=lambda name: children(commands[name]), stop=stop_services,
                      log_file=lambda name: tmp_path / f"{name}.log", ready=ready,
                      say=said.append, clock=clock)


def _until_exited(proc: subprocess.Popen) -> None:
    proc.wait(10)


def test_a_killed_service_is_started_again_after_its_backoff_and_the_others_are_untouched(
        children, tmp_path):
    clock, said = Clock(), []
    sup = _supervisor(children, tmp_path, {"auction": SLEEPER, "listing": SLEEPER}, clock, said,
                      ready=lambda name: True)
    first, other = sup.procs["auction"], sup.procs["listing"].pid
    first.send_signal(signal.SIGKILL)
    _until_exited(first)

    sup.poll()
    assert said == ["auction exited with code -9 (SIGKILL); starting it again in 0.5 s "
                    "(restart 1)"]
    assert sup.procs["auction"] is first  # not before the backoff
    clock.now = 0.4
    sup.poll()
    assert sup.procs["auction"] is first
    clock.now = 0.6
    sup.poll()
    second = sup.procs["auction"]
    assert second is not first and second.poll() is None
    assert sup.restarts("auction") == 1 and sup.restarts("listing") == 0
    assert sup.procs["listing"].pid == other
    assert said[1] == f"auction started again, pid {second.pid} (restart 1)"
    sup.poll()
    assert said[2] == "auction is ready again (restart 1)"

    [line] = (tmp_path / "auction.log").read_text().splitlines()
    record = json.loads(line)
    assert record["exit_code"] == -9 and record["restart"] == 1
    assert record["level"] == "WARNING" and record["service"] == "auction"
    assert not (tmp_path / "listing.log").exists()


def test_a_service_that_keeps_crashing_stops_the_exchange_naming_it_and_its_log(
        children, tmp_path):
    clock, said = Clock(), []
    sup = _supervisor(children, tmp_path, {"registry": FAILS_AT_ONCE, "listing": SLEEPER},
                      clock, said)
    listing = sup.procs["listing"]
    seen = []

    def stopping() -> bool:  # a clock that moves faster than the backoffs
        clock.now += 5
        proc = sup.procs["registry"]
        if proc not in seen:
            seen.append(proc)
            _until_exited(proc)
        return False

    with pytest.raises(CrashLoop) as caught:
        sup.run(stopping, interval=0)
    assert caught.value.service == "registry"
    message = str(caught.value)
    assert "registry exited 5 times within 60 s (last: code 3)" in message
    assert str(tmp_path / "registry.log") in message
    assert len(seen) == 5 and sup.restarts("registry") == 4
    assert listing.poll() is not None  # the others were stopped too
    assert sup.procs["listing"] is listing  # and never restarted
    lines = (tmp_path / "registry.log").read_text().splitlines()
    assert [json.loads(line)["restart"] for line in lines] == [1, 2, 3, 4, 4]


def test_stopping_ends_every_service_cleanly_even_one_waiting_for_its_restart(
        children, tmp_path):
    clock, said = Clock(), []
    sup = _supervisor(children, tmp_path, {"auction": SLEEPER, "listing": SLEEPER}, clock, said)
    sup.procs["auction"].kill()
    _until_exited(sup.procs["auction"])
    stop = threading.Event()
    thread = threading.Thread(target=sup.run, args=(stop.is_set, 0.05))
    thread.start()
    time.sleep(0.3)  # the supervisor noted the exit; its clock never reaches the restart
    stop.set()
    thread.join(30)
    assert not thread.is_alive()
    assert sup.procs["listing"].returncode == -signal.SIGTERM  # terminated, not killed
    assert sup.restarts("auction") == 0
    assert said == ["auction exited with code -9 (SIGKILL); starting it again in 0.5 s "
                    "(restart 1)"]
