"""Chromium for the portal's browser tests: Debian's ``chromium`` package, as for Prometheus.

Playwright drives it through ``executable_path``; its own browser downloads (``playwright
install``) are never used: they fetch builds from outside the package registries, and Debian's
package is kept up to date with the distribution's security fixes.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

from techex.stack.process import StackError

CANDIDATES = ("/usr/bin/chromium", "chromium")
PACKAGES = ("chromium", "fonts-wqy-microhei")
"""The browser, and a Chinese system font: the portal ships no font (its pages use the
reader's), and without one the screenshots of the Chinese pages would show empty boxes."""
CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
INSTALL_HINT = (
    "Install Debian's packages as root: "
    f"`apt-get install -y --no-install-recommends {' '.join(PACKAGES)}`."
)
HEADLESS_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
)
"""The switches the tests run it with: no window, no sandbox (root in a container), and no
traffic of its own to anywhere (updates, sync, field trials)."""


def _lock_path() -> Path:
    explicit = os.environ.get("TECHEX_CACHE_DIR")
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(explicit) if explicit else (Path(xdg) if xdg else Path.home() / ".cache") / "techex"
    path = base / "chromium" / ".install.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def executable() -> str | None:
    """The path of Debian's chromium, or None when it is not installed."""
    for candidate in CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def installed() -> bool:
    return executable() is not None and CJK_FONT.exists()


def ensure_chromium(log=print) -> str:
    """Path of the ``chromium`` binary; installs Debian's package first when it is missing.

    Installing needs root and apt-get; otherwise a StackError says what to run. One installer at
    a time (a file lock, the same way as Prometheus), so parallel sessions do not fight over
    dpkg's lock.
    """
    found = executable()
    if found and CJK_FONT.exists():
        return found
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        if found:  # without the font the pages still render; their screenshots do not read
            return found
        raise StackError(f"Chromium is missing: `chromium` is not on PATH. {INSTALL_HINT}")
    with open(_lock_path(), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not installed():
            log(f"Installing Chromium (Debian packages {', '.join(PACKAGES)}, first run)")
            _apt_install(apt)
    found = executable()
    if found is None:
        raise StackError(f"Installing the package left no chromium binary. {INSTALL_HINT}")
    return found


def _apt_install(apt: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = [apt, "install", "-y", "--no-install-recommends", *PACKAGES]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        # A machine whose package lists were never fetched knows no `chromium` yet.
        subprocess.run([apt, "update"], env=env, capture_output=True, text=True)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise StackError(
            "apt-get could not install chromium:\n" + (proc.stdout + proc.stderr)[-3000:]
        )
