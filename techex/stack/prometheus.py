"""Prometheus for the embedded default: Debian's package, and an instance of our own per profile.

The package's own service (port 9090, started by systemd on a real host) plays no part: each
profile runs its own server with a generated config, its own data directory and port, and the
alert rules of ``deploy/prometheus/rules``.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from techex.stack.process import StackError, ensure_port_free, port_open

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "deploy" / "prometheus" / "rules"
HOST = "127.0.0.1"
_OFFSET = int(os.environ.get("TECHEX_PORT_OFFSET", "0"))
BASE_PORTS = {"dev": 19090, "test": 29090}
PORTS = {profile: port + _OFFSET for profile, port in BASE_PORTS.items()}
"""Our instance's port per stack profile (the package's default 9090 is left alone), moved by
``TECHEX_PORT_OFFSET`` like the stack's."""
PACKAGE_PORT = 9090
INSTALL_HINT = (
    "Install Debian's package as root: "
    "`apt-get install -y --no-install-recommends prometheus` (it provides prometheus and promtool)."
)


def _lock_path() -> Path:
    explicit = os.environ.get("TECHEX_CACHE_DIR")
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(explicit) if explicit else (Path(xdg) if xdg else Path.home() / ".cache") / "techex"
    path = base / "prometheus" / ".install.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def installed() -> bool:
    return bool(shutil.which("prometheus") and shutil.which("promtool"))


def ensure_prometheus(log=print) -> str:
    """Path of the ``prometheus`` binary; installs Debian's package first when it is missing.

    Installing needs root and apt-get; otherwise a StackError says what to run. One installer at
    a time (a file lock), so parallel test sessions do not fight over dpkg's lock.
    """
    if installed():
        return shutil.which("prometheus") or "prometheus"
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        raise StackError(f"Prometheus is missing: `prometheus` is not on PATH. {INSTALL_HINT}")
    with open(_lock_path(), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not installed():
            log("Installing Prometheus (Debian package `prometheus`, first run)")
            _apt_install(apt)
            _stop_package_service()
    if not installed():
        raise StackError(f"Installing the package left no prometheus binary. {INSTALL_HINT}")
    return shutil.which("prometheus") or "prometheus"


def _apt_install(apt: str) -> None:
    # No init system here; policy-rc.d or its absence keeps the package from starting its
    # service, and _stop_package_service covers a host where it did start anyway.
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = [apt, "install", "-y", "--no-install-recommends", "prometheus"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        # A machine whose package lists were never fetched knows no `prometheus` yet.
        subprocess.run([apt, "update"], env=env, capture_output=True, text=True)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise StackError(
            "apt-get could not install prometheus:\n" + (proc.stdout + proc.stderr)[-3000:]
        )


def _stop_package_service() -> None:
    """If the package's own daemon came up on 9090 (an init script ran), stop it."""
    script = Path("/etc/init.d/prometheus")
    if port_open(HOST, PACKAGE_PORT) and script.exists():
        subprocess.run([str(script), "stop"], capture_output=True)


def promtool() -> str:
    ensure_prometheus()
    return shutil.which("promtool") or "promtool"


def scrape_config(
    targets: Mapping[str, str], scrape_interval: str = "1s",
    rule_files: Iterable[Path] = (),
) -> dict[str, Any]:
    """A Prometheus config scraping ``targets`` (service name → ``host:port``) as job techex,
    each target labelled with its service."""
    return {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [{
            "job_name": "techex",
            "metrics_path": "/metrics",
            "honor_labels": True,
            "static_configs": [
                {"targets": [address], "labels": {"service": service}}
                for service, address in targets.items()
            ],
        }],
    }


def default_rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.yml"))


class PrometheusServer:
    """One Prometheus process: generated config, own data directory and port.

    ``with PrometheusServer(home, port, targets) as prom: prom.query("up")``
    """

    def __init__(
        self, home: Path, port: int, targets: Mapping[str, str], *,
        scrape_interval: str = "1s", rule_files: Iterable[Path] | None = None,
        retention: str = "1d",
    ) -> None:
        self.home = Path(home)
        self.port = port
        self.targets = dict(targets)
        self.scrape_interval = scrape_interval
        self.rule_files = list(default_rule_files() if rule_files is None else rule_files)
        self.retention = retention
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def config_file(self) -> Path:
        return self.home / "prometheus.yml"

    @property
    def log_file(self) -> Path:
        return self.home / "prometheus.log"

    def write_config(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        # JSON is YAML, and needs no YAML library.
        config = scrape_config(self.targets, self.scrape_interval, self.rule_files)
        self.config_file.write_text(json.dumps(config, indent=2) + "\n")
        return self.config_file

    def start(self, timeout: float = 60) -> None:
        binary = ensure_prometheus()
        ensure_port_free(HOST, self.port, "Prometheus")
        self.write_config()
        log = open(self.log_file, "ab")
        try:
            self.proc = subprocess.Popen(
                [binary, f"--config.file={self.config_file}",
                 f"--storage.tsdb.path={self.home / 'data'}",
                 f"--storage.tsdb.retention.time={self.retention}",
                 f"--web.listen-address={HOST}:{self.port}",
                 "--web.enable-lifecycle"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        finally:
            log.close()
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StackError(
                    f"Prometheus exited with code {self.proc.returncode} while starting:\n"
                    + self.log_tail()
                )
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise StackError(f"Prometheus was not ready on {self.url} after {timeout:.0f}s")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def api(self, path: str, **params: str) -> Any:
        """``data`` of a successful answer of the HTTP API (``/api/v1/<path>``)."""
        url = f"{self.url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                body = json.load(resp)
        except urllib.error.HTTPError as exc:
            body = json.load(exc)
        if body.get("status") != "success":
            raise StackError(f"Prometheus {path}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Instant query; the vector's samples as ``{"metric": {...}, "value": [ts, "v"]}``."""
        data = self.api("query", query=promql)
        if data["resultType"] != "vector":
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    def wait_for(self, promql: str, timeout: float = 30) -> list[dict[str, Any]]:
        """Poll ``promql`` until it yields samples (scrapes take an interval to land)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql)
            if result or time.monotonic() > deadline:
                return result
            time.sleep(0.25)

    def stop(self, timeout: float = 20) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> PrometheusServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
