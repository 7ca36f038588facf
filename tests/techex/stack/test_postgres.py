"""The embedded PostgreSQL of a checkout anywhere, even in a directory its account cannot enter."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from techex.stack import postgres
from techex.stack.stack import PROFILES, REPO
from tests.support.auction_processes import free_port

# Run in the copy: the copy's own code starts the copy's own cluster of the test profile.
IN_THE_COPY = """
import asyncio, json, shutil, sys
import asyncpg, techex
from techex.stack.stack import Stack

pg = Stack("test").postgres
try:
    pg.up(log=lambda _: None)

    async def ask():
        conn = await asyncpg.connect(pg.url("postgres"))
        try:
            return await conn.fetchval("SELECT current_setting('data_directory')")
        finally:
            await conn.close()

    print(json.dumps({"code": techex.__file__, "data_directory": asyncio.run(ask()),
                      "base": str(pg.base) if pg.base else None}))
finally:
    pg.down()
    if pg.base:
        shutil.rmtree(pg.base)
"""


def _copy_of_the_checkout(target: Path) -> None:
    """The checkout's files as they are now (tracked and new ones, not the ignored), so what
    runs is the code under test, not the last commit."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True, check=False)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


@pytest.mark.timeout(120)
def test_a_checkout_in_a_private_directory_starts_its_postgres_and_answers(tmp_path):
    private = tmp_path / "private"
    private.mkdir()
    private.chmod(0o700)  # as `mktemp -d` makes it, or /root
    checkout = private / "techex"
    _copy_of_the_checkout(checkout)

    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_DATABASE_URL") and k not in ("TECHEX_HOME", "PYTHONPATH")}
    port = free_port()
    env["TECHEX_PORT_OFFSET"] = str(port - PROFILES["test"].postgres)
    proc = subprocess.run([sys.executable, "-c", IN_THE_COPY], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=100)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = json.loads(proc.stdout.splitlines()[-1])

    assert Path(seen["code"]).is_relative_to(checkout)
    data = Path(seen["data_directory"])
    if os.geteuid() == 0:  # run as the server account: its cluster lives where it can reach it
        assert not data.is_relative_to(private)
        assert data.parent == Path(seen["base"])
        assert data.parent.parent == postgres.clusters_root()
        assert not data.parent.exists()  # removed by the copy after the check
    else:
        assert data == checkout / ".techex" / "test" / "pg-data"


def test_each_checkout_and_profile_has_a_cluster_of_its_own(tmp_path):
    keys = {postgres.cluster_key(tmp_path / checkout / ".techex" / profile)
            for checkout in ("a", "b") for profile in ("dev", "test")}
    assert len(keys) == 4
    assert postgres.cluster_key(tmp_path / "a" / ".techex" / "dev").startswith("dev-")
    assert postgres.cluster_key(tmp_path / "a/.techex/dev") == postgres.cluster_key(
        tmp_path / "a/./.techex/dev")


@pytest.mark.skipif(os.geteuid() != 0, reason="the account switch happens only as root")
def test_the_cluster_directory_belongs_to_the_server_account(tmp_path):
    pg = postgres.EmbeddedPostgres(tmp_path / "checkout" / ".techex" / "test", free_port())
    assert pg.base is not None
    try:
        pg._prepare()
        account = pwd.getpwnam(os.environ.get("TECHEX_PG_OS_USER", "postgres"))
        assert pg.base.stat().st_uid == account.pw_uid
        assert pg.base.stat().st_mode & 0o777 == 0o700
        assert pg.base.parent.stat().st_mode & 0o005 == 0o005  # others may enter the root
        assert (pg.base / "checkout").read_text().strip() == str(pg.home.resolve())
    finally:
        shutil.rmtree(pg.base, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="the account switch happens only as root")
def test_a_clusters_directory_the_account_cannot_reach_is_named(tmp_path, monkeypatch):
    private = tmp_path / "private"
    private.mkdir()
    private.chmod(0o700)
    monkeypatch.setenv("TECHEX_PG_CLUSTERS", str(private / "clusters"))
    pg = postgres.EmbeddedPostgres(tmp_path / "checkout", free_port())
    with pytest.raises(postgres.StackError, match=r"cannot write to .*TECHEX_PG_CLUSTERS"):
        pg._prepare()


def test_clusters_of_removed_checkouts_are_removed_unless_they_run(tmp_path):
    root = tmp_path / "clusters"

    def cluster(name: str, home: Path, pid: int | None = None) -> Path:
        (root / name / "data").mkdir(parents=True)
        (root / name / "checkout").write_text(f"{home}\n")
        if pid:
            (root / name / "data" / "postmaster.pid").write_text(f"{pid}\n/data\n")
        return root / name

    live_home = tmp_path / "checkout" / ".techex" / "test"
    live_home.mkdir(parents=True)
    kept = cluster("test-live", live_home)
    gone = cluster("test-gone", tmp_path / "removed" / ".techex" / "test")
    running = cluster("test-running", tmp_path / "removed2" / ".techex" / "test", os.getpid())
    mine = cluster("test-mine", tmp_path / "new" / ".techex" / "test")
    foreign = root / "something-else"
    foreign.mkdir()

    assert postgres.remove_orphaned_clusters(root, keep=mine) == [gone]
    assert all(p.exists() for p in (kept, running, mine, foreign))
    assert not gone.exists()
