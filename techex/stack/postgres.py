"""The embedded PostgreSQL: a throw-away cluster of the machine's server binaries on loopback."""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from techex.stack.process import (
    StackError,
    ensure_port_free,
    pid_alive,
    port_open,
    require_binary,
    wait_port,
)

HOST = "127.0.0.1"
SUPERUSER = "techex"
DEFAULT_CLUSTERS_ROOT = "/var/lib/techex/postgres"


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


def _account_name() -> str:
    return os.environ.get("TECHEX_PG_OS_USER", "postgres")


def server_account() -> pwd.struct_passwd | None:
    """The account PostgreSQL runs as when techex runs as root (it refuses root); None when
    techex is not root and the server runs as techex's own user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(_account_name())
    except KeyError as exc:
        raise StackError(
            f"PostgreSQL cannot run as root and there is no `{_account_name()}` account to run "
            "it as. Create one (`useradd --system postgres`) or set TECHEX_PG_OS_USER."
        ) from exc


def _run_as() -> list[str]:
    if server_account() is None:
        return []
    runuser = shutil.which("runuser")
    if not runuser:
        raise StackError("`runuser` (util-linux) is needed to start PostgreSQL as a non-root user.")
    return [runuser, "-u", _account_name(), "--"]


def clusters_root() -> Path:
    """Where clusters run by another account live: outside any checkout, so a checkout in a
    directory that account cannot enter (``mktemp -d``, ``/root``) works all the same."""
    return Path(os.environ.get("TECHEX_PG_CLUSTERS", DEFAULT_CLUSTERS_ROOT))


def cluster_key(home: Path) -> str:
    """A cluster's directory name under :func:`clusters_root`: the profile and a digest of the
    checkout's stack home, short enough for the socket path (≤ 107 bytes)."""
    resolved = str(Path(home).resolve())
    return f"{Path(resolved).name}-{hashlib.sha256(resolved.encode()).hexdigest()[:12]}"


@dataclass
class EmbeddedPostgres:
    """One cluster per stack home (checkout and profile).

    Run as techex's own user, it lives in ``<home>/pg-data``. Run as another account (techex is
    root), it lives in ``<clusters_root>/<key>/``, owned by that account, with its log and
    socket; a file ``checkout`` there names the home it belongs to.
    """

    home: Path
    port: int

    @property
    def base(self) -> Path | None:
        """The cluster's own directory outside the checkout; None when it is in the checkout."""
        if os.geteuid() != 0 or (self.home / "pg-data" / "PG_VERSION").exists():
            return None  # our own user's, or a cluster made in the checkout by an earlier version
        return clusters_root() / cluster_key(self.home)

    @property
    def data_dir(self) -> Path:
        base = self.base
        return base / "data" if base else self.home / "pg-data"

    @property
    def log_file(self) -> Path:
        base = self.base
        return base / "postgres.log" if base else self.home / "logs" / "postgres.log"

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{database}"

    def running(self) -> bool:
        pidfile = self.data_dir / "postmaster.pid"
        return pidfile.exists() and port_open(HOST, self.port)

    def _prepare(self) -> None:
        """The directories the server writes to, owned by the account it runs as."""
        self.home.mkdir(parents=True, exist_ok=True)
        account = server_account()
        base = self.base
        if base is None:
            self.data_dir.mkdir(mode=0o700, exist_ok=True)
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self.log_file.touch()
            if account:
                for path in (self.data_dir, self.log_file):
                    os.chown(path, account.pw_uid, account.pw_gid)
            return
        assert account is not None
        _make_dirs(base.parent, mode=0o755)
        base.mkdir(mode=0o700, exist_ok=True)
        os.chown(base, account.pw_uid, account.pw_gid)
        (base / "checkout").write_text(f"{self.home.resolve()}\n")
        reach = subprocess.run([*_run_as(), "test", "-w", str(base), "-a", "-x", str(base)])
        if reach.returncode != 0:
            raise StackError(
                f"PostgreSQL runs as `{account.pw_name}`, which cannot write to {base}. "
                "Let it enter every directory on the way, or set TECHEX_PG_CLUSTERS to a "
                "directory it can reach."
            )

    def _init(self) -> None:
        if self.base is not None:
            remove_orphaned_clusters(self.base.parent, keep=self.base)
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
        self._prepare()
        if not (self.data_dir / "PG_VERSION").exists():
            log(f"Creating a PostgreSQL cluster in {self.data_dir}")
            self._init()
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


def _make_dirs(path: Path, mode: int) -> None:
    """``mkdir -p`` whose new directories get ``mode`` whatever the umask."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        directory.mkdir(exist_ok=True)
        os.chmod(directory, mode)


def remove_orphaned_clusters(root: Path, keep: Path) -> list[Path]:
    """Delete the clusters under ``root`` whose checkout is gone (a removed temporary clone)
    and whose server does not run; returns them."""
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for cluster in sorted(root.iterdir()):
        try:
            home = Path((cluster / "checkout").read_text().strip())
        except OSError:
            continue  # not one of ours
        if cluster == keep or home.exists() or _postmaster_alive(cluster / "data"):
            continue
        shutil.rmtree(cluster, ignore_errors=True)
        removed.append(cluster)
    return removed


def _postmaster_alive(data_dir: Path) -> bool:
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    return pid_alive(pid)
