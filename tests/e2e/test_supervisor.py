"""`techex up` keeps the exchange up: each service process killed with SIGKILL in turn is
started again by the supervisor (the same functions `techex up` runs) and answers ``/readyz``
within 30 s, the other processes keep running, and what it accepted before the kill is still
there (the records service: every event archived once, its chain whole); a service that
keeps crashing stops the whole exchange with a message naming it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from shared.auth import Role
from techex.stack.stack import SERVICES
from techex.supervisor import CrashLoop
from tests.services.registry.builders import terms
from tests.support.exchange import Exchange, wait_for
from tests.support.flows import (
    INCREMENT,
    START,
    auction_open_for_bidding,
    buyer,
    first_bid,
    operator,
    register,
)
from tests.support.listing import achievement

pytestmark = pytest.mark.timeout(600)

BACK_WITHIN = 30.0


@pytest.fixture
async def supervised(stack, new_database, tmp_path) -> AsyncIterator[Exchange]:
    ex = Exchange(stack, tmp_path, {s: await new_database() for s in SERVICES})
    await ex.start()
    ex.supervise()
    try:
        yield ex
    finally:
        await ex.stop()  # before the databases are dropped


async def _ready(ex: Exchange, service: str) -> bool:
    try:
        r = await ex.client.get(ex.url(service, "/readyz"), timeout=2)
    except httpx.HTTPError:
        return False
    return r.status_code == 200


async def _kill_and_wait_back(ex: Exchange, service: str) -> float:
    """SIGKILL the service's process; seconds until its new process answers /readyz."""
    old = ex.procs[service]
    others = {s: p.pid for s, p in ex.procs.items() if s != service}
    os.kill(old.pid, signal.SIGKILL)
    killed = time.monotonic()

    async def back() -> bool:
        return ex.procs[service] is not old and await _ready(ex, service)
    await wait_for(back, f"{service} to answer /readyz again", timeout=BACK_WITHIN)
    took = time.monotonic() - killed
    assert {s: p.pid for s, p in ex.procs.items() if s != service} == others
    assert all(p.poll() is None for p in ex.procs.values())
    return took


def _supervisor_lines(ex: Exchange, service: str) -> list[dict]:
    lines = (ex.workdir / "logs" / f"{service}.log").read_text(errors="replace").splitlines()
    return [r for r in map(_json_or_none, lines) if r and r.get("logger") == "techex.supervisor"]


def _json_or_none(line: str) -> dict | None:
    try:
        return json.loads(line)
    except ValueError:
        return None


async def test_each_service_killed_in_turn_comes_back_alone_with_what_it_accepted(
        supervised: Exchange):
    ex = supervised
    op = operator(ex)
    seller = ex.as_(Role.SELLER, "230102", "hit")
    auction = await auction_open_for_bidding(ex, ["winner", "loser"])
    aid = auction["id"]
    await register(ex, aid, ["late-bidder"])  # its deposit is confirmed before settlement dies
    opening = await first_bid(ex, aid, "winner")

    async def bid(name: str, amount: int) -> dict:
        return await ex.call("auction", "POST", f"/auctions/{aid}/bids", buyer(ex, name),
                             expect=201, json={"amount_fen": amount})

    took: dict[str, float] = {}

    # listing: an achievement filed just before the kill
    filed = await ex.call("listing", "POST", "/achievements", seller, expect=201,
                          json={**achievement(), "title": "高熵合金涂层激光熔覆工艺"})
    took["listing"] = await _kill_and_wait_back(ex, "listing")
    got = await ex.call("listing", "GET", f"/achievements/{filed['id']}", seller)
    assert got["title"] == "高熵合金涂层激光熔覆工艺"

    # auction: a bid accepted just before the kill
    accepted = await bid("loser", START + INCREMENT)
    took["auction"] = await _kill_and_wait_back(ex, "auction")
    bids = await ex.call("auction", "GET", f"/auctions/{aid}/bids", op)
    assert [(b["sequence"], b["amount_fen"]) for b in bids] == [
        (opening["sequence"], START), (accepted["sequence"], START + INCREMENT)]

    async def bid_again() -> dict | None:  # once the dead writer's lease has lapsed
        r = await ex.client.post(ex.url("auction", f"/auctions/{aid}/bids"),
                                 headers=buyer(ex, "winner"),
                                 json={"amount_fen": START + 2 * INCREMENT})
        if r.status_code == 201:
            return r.json()
        assert r.status_code in (409, 503), r.text
        assert r.json()["type"] != "urn:techex:problem:auction-bid-rejected", r.text
        return None
    again = await wait_for(bid_again, "the restarted auction service to take the auction back")
    assert again["sequence"] == accepted["sequence"] + 1

    # settlement: a deposit confirmed just before the kill
    deposit = await ex.confirm_deposit(op, aid, "late-bidder", auction["deposit_fen"], "ICBC-9")
    assert deposit["status"] == "held"
    took["settlement"] = await _kill_and_wait_back(ex, "settlement")
    held = await ex.call("settlement", "GET", "/deposits", op, params={"procedure_id": aid})
    assert {d["bidder_id"]: d["status"] for d in held}["late-bidder"] == "held"
    await first_bid(ex, aid, "late-bidder", START + 3 * INCREMENT)  # its event went through

    # registry: a contract filed just before the kill
    contract = await ex.call("registry", "POST", "/contracts", seller, expect=201, json=terms())
    took["registry"] = await _kill_and_wait_back(ex, "registry")
    kept = await ex.call("registry", "GET", f"/contracts/{contract['id']}", seller)
    assert kept["status"] == "filed"
    # and the events it missed while it was down arrive: the listing filed before the kills
    await ex.until("registry", f"/listings/{filed['id']}", op, lambda body: True,
                   "the registry to learn of the listing")

    # records: killed while it archives; back, its chain holds every event of the auction once
    took["records"] = await _kill_and_wait_back(ex, "records")

    async def archived() -> list[dict] | None:
        r = await ex.client.get(ex.url("records", f"/dossiers/{aid}"), headers=op)
        if r.status_code != 200:
            return None
        steps = r.json()["steps"]
        bids = [s for s in steps if s["kind"] == "auction.bid_accepted"]
        return steps if len(bids) == 4 else None
    steps = await wait_for(archived, "the archive to hold the auction's four bids")
    assert len({s["event_id"] for s in steps}) == len(steps)
    regulator = ex.as_(Role.REGULATOR, "230000", "hlj-kjt")
    assert (await ex.call("records", "GET", "/chain/verification", regulator))["ok"] is True

    for service in SERVICES:
        assert ex.supervisor.restarts(service) == 1
        [line] = _supervisor_lines(ex, service)
        assert (line["exit_code"], line["restart"]) == (-9, 1)
        assert "exited with code -9 (SIGKILL)" in line["message"]
        assert any(s.startswith(f"{service} started again") and s.endswith("(restart 1)")
                   for s in ex.said)
    assert max(took.values()) < BACK_WITHIN, took
    assert ex.supervising and ex.supervisor_error is None


async def test_a_service_that_keeps_crashing_stops_the_exchange(supervised: Exchange):
    ex = supervised
    killed = []
    deadline = time.monotonic() + 120
    while ex.supervising and time.monotonic() < deadline:
        proc = ex.procs["registry"]
        if proc not in killed and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed.append(proc)
        await asyncio.sleep(0.05)
    assert not ex.supervising, "the supervisor never gave up"
    error = ex.supervisor_error
    assert isinstance(error, CrashLoop) and error.service == "registry"
    assert "registry exited 5 times within 60 s (last: code -9 (SIGKILL))" in str(error)
    assert str(ex.workdir / "logs" / "registry.log") in str(error)
    assert len(killed) == 5
    assert all(p.poll() is not None for p in ex.procs.values()), "the exchange still runs"
    assert "stopping the exchange" in _supervisor_lines(ex, "registry")[-1]["message"]
