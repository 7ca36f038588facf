"""Keeps the service processes of `techex up` running.

A service process that exits is started again after a backoff and the others are left alone;
one that keeps exiting (``max_crashes`` times within ``window`` seconds) stops the exchange with
a message naming the service and its log. :class:`RestartPolicy` is the pure rule (how long to
wait, when to give up); :class:`Supervisor` applies it to the processes.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from techex.stack.process import StackError


@dataclass(frozen=True)
class RestartPolicy:
    """Backoff doubling from ``backoff`` up to ``max_backoff`` with each exit inside the
    window; the ``max_crashes``-th exit inside it gives up."""

    max_crashes: int = 5
    window: float = 60.0
    backoff: float = 0.5
    max_backoff: float = 10.0

    def __post_init__(self) -> None:
        if self.max_crashes < 1 or self.window <= 0 or self.backoff < 0:
            raise ValueError("max_crashes >= 1, window > 0 and backoff >= 0 are required")

    def recent(self, exits: Sequence[float], now: float) -> list[float]:
        """The exits that still count at ``now``."""
        return [t for t in exits if now - t < self.window]

    def delay(self, exits: Sequence[float], now: float) -> float | None:
        """Seconds to wait before starting the service again after its exits at ``exits``
        (the last one at ``now``), or None: it crashes in a loop, give up."""
        n = len(self.recent(exits, now))
        if n >= self.max_crashes:
            return None
        return min(self.max_backoff, self.backoff * 2 ** max(0, n - 1))


class CrashLoop(StackError):
    """A service kept crashing; the exchange was stopped."""

    def __init__(self, service: str, exits: int, window: float, code: int, log: Path) -> None:
        self.service, self.log = service, log
        super().__init__(
            f"{service} exited {exits} times within {window:g} s (last: {exit_status(code)}); "
            f"the exchange was stopped. Read its log: {log}")


def exit_status(code: int) -> str:
    """``code 1``, or ``code -9 (SIGKILL)`` for a process a signal ended."""
    if code < 0:
        try:
            return f"code {code} ({signal.Signals(-code).name})"
        except ValueError:
            pass
    return f"code {code}"


@dataclass
class _Watch:
    exits: list[float] = field(default_factory=list)
    restarts: int = 0
    restart_at: float | None = None
    """Set while the service is down, waiting for its backoff."""
    starting: bool = False
    """Started again and not answering ``ready`` yet."""


class Supervisor:
    """Watches ``procs`` (kept current in place: a restarted service's new process replaces
    its old one) and starts what exits again through ``spawn``.

    ``run`` loops until ``stopping()`` or a crash loop, and stops every service through
    ``stop`` either way. ``ready`` (optional) tells when a restarted service answers again.
    """

    def __init__(
        self,
        procs: dict[str, subprocess.Popen],
        spawn: Callable[[str], subprocess.Popen],
        stop: Callable[[dict[str, subprocess.Popen]], None],
        log_file: Callable[[str], Path],
        *,
        policy: RestartPolicy | None = None,
        ready: Callable[[str], bool] | None = None,
        say: Callable[[str], None] = print,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.procs = procs
        self.spawn, self.stop, self.log_file = spawn, stop, log_file
        self.policy = policy or RestartPolicy()
        self.ready, self.say, self.clock = ready, say, clock
        self._watch = {name: _Watch() for name in procs}

    def restarts(self, service: str) -> int:
        return self._watch[service].restarts

    def run(self, stopping: Callable[[], bool], interval: float = 0.5) -> None:
        try:
            while not stopping():
                self.poll()
                time.sleep(interval)
        finally:
            self.stop(self.procs)

    def poll(self) -> None:
        """One look at every service: restart what is due, note what exited."""
        now = self.clock()
        for name, proc in list(self.procs.items()):
            watch = self._watch[name]
            if watch.restart_at is not None:
                if now >= watch.restart_at:
                    self._restart(name, watch)
                continue
            code = proc.poll()
            if code is None:
                if watch.starting and self.ready is not None and self.ready(name):
                    watch.starting = False
                    self.say(f"{name} is ready again (restart {watch.restarts})")
                continue
            watch.exits = self.policy.recent([*watch.exits, now], now)
            delay = self.policy.delay(watch.exits, now)
            if delay is None:
                self._note(name, f"{name} exited with {exit_status(code)}, {len(watch.exits)} "
                                 f"times within {self.policy.window:g} s; stopping the exchange",
                           code, watch.restarts)
                raise CrashLoop(name, len(watch.exits), self.policy.window, code,
                                self.log_file(name))
            watch.restart_at = now + delay
            self._note(name, f"{name} exited with {exit_status(code)}; starting it again in "
                             f"{delay:g} s (restart {watch.restarts + 1})",
                       code, watch.restarts + 1)

    def _restart(self, name: str, watch: _Watch) -> None:
        watch.restart_at = None
        watch.restarts += 1
        watch.starting = True
        self.procs[name] = proc = self.spawn(name)
        self.say(f"{name} started again, pid {proc.pid} (restart {watch.restarts})")

    def _note(self, name: str, message: str, code: int, restart: int) -> None:
        """On the console, and in the service's own log as a line like its own records."""
        self.say(message)
        record = {"timestamp": datetime.now(UTC).isoformat(), "level": "WARNING",
                  "logger": "techex.supervisor", "message": message, "service": name,
                  "exit_code": code, "restart": restart}
        with open(self.log_file(name), "a", encoding="utf-8") as log:
            log.write(json.dumps(record, ensure_ascii=False) + "\n")
