"""The portal as `techex up` runs it: its port moved by TECHEX_PORT_OFFSET, the public API's
URLs from the services' ports, and its own process (spawned and awaited by the same functions
as `techex up`) answering /healthz."""

from __future__ import annotations

import os

import httpx

from techex.cli import (
    PORTAL,
    _ready_url,
    _wait_ready,
    portal_env,
    portal_port,
    spawn_service,
    stop_services,
)
from tests.portal.conftest import _free_port


def test_the_portal_port_moves_with_the_offset_like_the_stack():
    assert portal_port({}) == 8000
    assert portal_port({"TECHEX_PORT_OFFSET": "1600"}) == 9600
    assert portal_port({"TECHEX_PORT_OFFSET": "1600", "PORTAL_PORT": "8123"}) == 8123


def test_the_portal_reads_the_ports_the_services_listen_on():
    env = portal_env({"LISTING_PORT": "41001", "AUCTION_PORT": "41002", "TECHEX_PORT_OFFSET": "7"})
    assert env == {"PORTAL_PORT": "8007", "PORTAL_LISTING_URL": "http://127.0.0.1:41001",
                   "PORTAL_AUCTION_URL": "http://127.0.0.1:41002",
                   "PORTAL_REGISTRY_URL": "http://127.0.0.1:8004"}
    named = portal_env({"PORTAL_AUCTION_URL": "http://auction.internal:80"})
    assert named["PORTAL_AUCTION_URL"] == "http://auction.internal:80"


def test_the_portal_process_starts_as_techex_up_starts_it(tmp_path, api):
    env = {**os.environ, "PORTAL_PORT": str(_free_port()), "PORTAL_LISTING_URL": api.url,
           "PORTAL_AUCTION_URL": api.url, "PORTAL_REGISTRY_URL": api.url}
    proc = spawn_service(PORTAL, env, tmp_path)
    try:
        _wait_ready(_ready_url(PORTAL, env), proc, timeout=60)
        base = f"http://127.0.0.1:{env['PORTAL_PORT']}"
        assert httpx.get(base + "/healthz").json() == {"status": "ok"}
        r = httpx.get(base + "/results")
        assert r.status_code == 200 and "工业机器人视觉定位系统" in r.text
    finally:
        stop_services({PORTAL: proc})
    assert (tmp_path / "portal.log").exists()
