"""The embedded PostgreSQL: a throw-away cluster of the machine's server binaries on loopback."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from techex.stack.process import (
    StackError,
    ensure_port_free,
    port_open,
    require_binary,
    wait_port,
)

HOST = "127.0.0.1"
SUPERUSER = "techex"


def _server_bin_dirs() -> tuple[Path, ...]:
    """Debian keeps the server binaries off PATH, under /usr/lib/postgresql/<major>/bin."""
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
    return tuple(Path(d) for d in reversed(dirs))


def _binary(name: str) -> str:
    return require_binary(
        name,
        "The PostgreSQL server binaries",
        "Install them (Debian: `apt-get install postgresql`), or point the services at an "
        "external server with LISTING_DATABASE_URL, AUCTION_DATABASE_URL, "
        "SETTLEMENT_DATABASE_URL and REGISTRY_DATABASE_URL.",
        _server_bin_dirs(),
    )


def _run_as() -> list[str]:
    """PostgreSQL refuses to run as root: run it as the `postgres` account then."""
    if os.geteuid() != 0:
        return []
    account = os.environ.get("TECHEX_PG_OS_USER", "postgres")
    try:
        pwd.getpwnam(account)
    except KeyError as exc:
        raise StackError(
            f"PostgreSQL cannot run as root and there is no `{account}` account to run it as. "
            "Create one (`useradd --system postgres`) or set TECHEX_PG_OS_USER."
        ) from exc
    runuser = shutil.which("runuser")
    if not runuser:
        raise StackError("`runuser` (util-linux) is needed to start PostgreSQL as a non-root user.")
    return [runuser, "-u", account, "--"]


def _give_to_server_user(path: Path) -> None:
    if os.geteuid() == 0:
        account = pwd.getpwnam(os.environ.get("TECHEX_PG_OS_USER", "postgres"))
        os.chown(path, account.pw_uid, account.pw_gid)


@dataclass
class EmbeddedPostgres:
    home: Path
    port: int

    @property
    def data_dir(self) -> Path:
        return self.home / "pg-data"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "postgres.log"

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{database}"

    def running(self) -> bool:
        pidfile = self.data_dir / "postmaster.pid"
        return pidfile.exists() and port_open(HOST, self.port)

    def _init(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        _give_to_server_user(self.data_dir)
        proc = subprocess.run(
            [*_run_as(), _binary("initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
             "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"],
            capture_output=True, text=True,
        )
        if proc.returncode != 0:
            raise StackError("initdb failed:\n" + proc.stdout + proc.stderr)
        conf = self.data_dir / "postgresql.conf"
        with open(conf, "a") as f:
            f.write(
                "\n# techex embedded default\n"
                f"listen_addresses = '{HOST}'\n"
                f"port = {self.port}\n"
                f"unix_socket_directories = '{self.data_dir}'\n"
                "max_connections = 300\n"
                "shared_buffers = 256MB\n"
                "wal_level = logical\n"
                "max_wal_size = 2GB\n"
                "log_min_messages = warning\n"
            )

    def up(self, log=print) -> bool:
        """Start the cluster unless it runs already; True when this call started it."""
        if self.running():
            return False
        pg_ctl = _binary("pg_ctl")
        ensure_port_free(HOST, self.port, "PostgreSQL")
        if not (self.data_dir / "PG_VERSION").exists():
            log(f"Creating a PostgreSQL cluster in {self.data_dir}")
            self._init()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.touch()
        _give_to_server_user(self.log_file)
        proc = subprocess.run(
            [*_run_as(), pg_ctl, "-D", str(self.data_dir), "-l", str(self.log_file), "-w",
             "-t", "60", "start"],
            capture_output=True, text=True,
        )
        if proc.returncode != 0:
            raise StackError(
                "PostgreSQL did not start:\n" + proc.stdout + proc.stderr
                + self.log_file.read_text(errors="replace")[-2000:]
            )
        wait_port(HOST, self.port, 30, "PostgreSQL", self.log_file)
        return True

    def down(self) -> None:
        if not (self.data_dir / "postmaster.pid").exists():
            return
        subprocess.run(
            [*_run_as(), _binary("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"],
            capture_output=True, text=True,
        )
