"""The Chinese font of the rendered PDFs: Debian's WenQuanYi Micro Hei (``fonts-wqy-microhei``).

The font comes from the distribution's package and is never downloaded at run time. The
service's startup calls :func:`ensure_font`, which installs the package when it can (root with
apt-get); rendering itself only looks the font up and raises :class:`FontMissing`.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
FONT_PACKAGE = "fonts-wqy-microhei"
FONT_ENV = "RECORDS_PDF_FONT"
"""Names another TrueType font or collection (.ttf/.ttc) to render with instead."""
INSTALL_HINT = (
    "Install Debian's package as root: "
    f"`apt-get install -y --no-install-recommends {FONT_PACKAGE}`."
)
APT_LOCK_TIMEOUT = 300
"""Seconds apt-get waits for dpkg's lock held by another installer (e.g. the stack's)."""


class FontMissing(RuntimeError):
    """The PDF font is not on this machine; the message says what to install."""


def font_path() -> Path:
    """The font to render with: ``RECORDS_PDF_FONT`` when set, else Debian's WenQuanYi."""
    explicit = os.environ.get(FONT_ENV)
    return Path(explicit) if explicit else CJK_FONT


def require_font() -> Path:
    """The font's path, or FontMissing; never installs anything."""
    path = font_path()
    if path.is_file():
        return path
    raise FontMissing(_missing_message(path))


def ensure_font(log: Callable[[str], object] = print) -> Path:
    """The font's path; installs Debian's package first when it is missing.

    Installing needs root and apt-get; otherwise FontMissing says what to run. A font named by
    ``RECORDS_PDF_FONT`` is never installed: no package is known to provide it. One installer
    at a time (a file lock, as for the stack's Chromium), so parallel starts do not fight over
    dpkg.
    """
    path = font_path()
    if path.is_file():
        return path
    apt = shutil.which("apt-get")
    if os.environ.get(FONT_ENV) or apt is None or os.geteuid() != 0:
        raise FontMissing(_missing_message(path))
    with open(_lock_path(), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.is_file():
            log(f"Installing the PDF font (Debian package {FONT_PACKAGE}, first run)")
            _apt_install(apt)
    if not path.is_file():
        raise FontMissing(f"Installing {FONT_PACKAGE} left no font at {path}. {INSTALL_HINT}")
    return path


def _missing_message(path: Path) -> str:
    if os.environ.get(FONT_ENV):
        return f"The PDF font {path} named by {FONT_ENV} does not exist."
    return f"The PDF font {path} is missing. {INSTALL_HINT}"


def _lock_path() -> Path:
    explicit = os.environ.get("TECHEX_CACHE_DIR")
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(explicit) if explicit else (Path(xdg) if xdg else Path.home() / ".cache") / "techex"
    path = base / "fonts" / ".install.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _apt_install(apt: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = [
        apt, "install", "-y", "--no-install-recommends",
        "-o", f"DPkg::Lock::Timeout={APT_LOCK_TIMEOUT}", FONT_PACKAGE,
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        # A machine whose package lists were never fetched knows no such package yet.
        subprocess.run([apt, "update"], env=env, capture_output=True, text=True)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise FontMissing(
            f"apt-get could not install {FONT_PACKAGE}:\n" + (proc.stdout + proc.stderr)[-3000:]
        )
