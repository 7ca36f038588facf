"""Small process and prerequisite helpers for the embedded stack."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import time
from pathlib import Path


class StackError(RuntimeError):
    """The embedded stack cannot be brought up; the message says what to do."""


def require_binary(name: str, what: str, hint: str, extra_dirs: tuple[Path, ...] = ()) -> str:
    """Path of an executable, or a StackError naming what is missing and how to get it."""
    found = shutil.which(name)
    if found:
        return found
    for d in extra_dirs:
        candidate = d / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise StackError(f"{what} is missing: `{name}` was not found on PATH. {hint}")


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return True
    return state != "Z"


def stop_pid(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM, wait for a clean exit, SIGKILL after ``timeout``."""
    if not pid_alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not pid_alive(pid):
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    _reap(pid)


def kill_pid(pid: int, timeout: float = 10.0) -> None:
    """SIGKILL, as a crash would, and wait until the process is gone."""
    if not pid_alive(pid):
        return
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.05)
    _reap(pid)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def ensure_port_free(host: str, port: int, what: str) -> None:
    if port_open(host, port):
        raise StackError(
            f"{host}:{port}, where the embedded {what} listens, is taken by another process. "
            "Stop it, or point techex at an external server (see README, Configuration)."
        )


def wait_port(
    host: str, port: int, timeout: float, what: str, log: Path | None = None,
    pid: int | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid is not None and not pid_alive(pid):
            break
        if port_open(host, port):
            return
        time.sleep(0.2)
    tail = ""
    if log and log.exists():
        tail = "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    raise StackError(f"{what} did not come up on {host}:{port}.{tail}")
