"""The exchange on a three-broker Kafka cluster rides out brokers killed under load.

The four service processes (started as `techex up` starts them) run against three KRaft nodes
of the test's own while listings, bids, registrations with their deposits and payments flow.
The broker that leads the busiest partitions is killed (SIGKILL), restarted once the flow has
gone on without it, and when its replicas are back in sync the busiest leader of the others is
killed too and stays down. Afterwards every accepted command is in the databases, every event
was applied exactly once (the per-listing event counters, the bids, deposits, payments and
drafts match what was accepted; nothing was dead-lettered), the ledger balances, and the
services are the processes that started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared.auth import Role
from techex.client import CallFailed
from techex.stack.kafka import EmbeddedKafka
from techex.stack.stack import SERVICES, Stack
from tests.support.exchange import Exchange, wait_for
from tests.support.listing import achievement

pytestmark = pytest.mark.timeout(360)

START = 100_000_000      # ¥1,000,000
INCREMENT = 1_000_000    # ¥10,000
DEPOSIT = START // 10
SELLER, SELLER_REGION = "hit", "230102"
BUYER_REGION = "230103"
OUTAGE = 8.0             # seconds the flow runs on with a broker down


# -- the cluster, as an operator would look at it -------------------------------------------------
async def _admin(bootstrap: str) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    return admin


async def busiest_leader(bootstrap: str, prefix: str, among: set[int]) -> int:
    """The node among ``among`` that leads the partitions holding the most of the exchange's
    records."""
    admin = await _admin(bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        await consumer.start()
        leaders = {TopicPartition(t["topic"], p["partition"]): p["leader"]
                   for t in await admin.describe_topics() if t["topic"].startswith(prefix + ".")
                   for p in t["partitions"]}
        ends = await consumer.end_offsets(list(leaders))
    finally:
        await consumer.stop()
        await admin.close()
    records = Counter({node: 0 for node in among})
    for tp, leader in leaders.items():
        if leader in among:
            records[leader] += ends[tp]
    return records.most_common(1)[0][0]


async def replicas(bootstrap: str) -> dict[str, list[dict]]:
    """Every topic's partitions (internal topics included) with their replicas and ISR."""
    admin = await _admin(bootstrap)
    try:
        return {t["topic"]: t["partitions"] for t in await admin.describe_topics()}
    finally:
        await admin.close()


async def all_in_sync(bootstrap: str, brokers: int) -> bool:
    """All brokers up and every replica of every partition back in sync."""
    with contextlib.suppress(Exception):
        admin = await _admin(bootstrap)
        try:
            if len((await admin.describe_cluster())["brokers"]) < brokers:
                return False
        finally:
            await admin.close()
        return all(len(p["isr"]) == len(p["replicas"])
                   for parts in (await replicas(bootstrap)).values() for p in parts)
    return False


async def min_insync(bootstrap: str, topics: list[str]) -> dict[str, str]:
    admin = await _admin(bootstrap)
    try:
        answers = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t, {"min.insync.replicas": None})
             for t in topics])
    finally:
        await admin.close()
    return {resource[3]: dict((c[0], c[1]) for c in resource[4])["min.insync.replicas"]
            for answer in answers for resource in answer.resources}


async def dead_letters(bootstrap: str, prefix: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    admin = await _admin(bootstrap)
    try:
        await consumer.start()
        tps = [TopicPartition(t["topic"], p["partition"]) for t in await admin.describe_topics()
               if t["topic"].startswith(prefix + ".") and t["topic"].endswith(".dlq")
               for p in t["partitions"]]
        return sum((await consumer.end_offsets(tps)).values())
    finally:
        await consumer.stop()
        await admin.close()


# -- the flow ----------------------------------------------------------------------------------
@dataclass
class Accepted:
    """What the services answered 2xx to, as the client saw it."""

    listings: list[str] = field(default_factory=list)
    bids: set[tuple[str, int, str, int]] = field(default_factory=set)   # auction, seq, who, fen
    registrations: set[tuple[str, str]] = field(default_factory=set)     # procedure, bidder
    deposits: set[tuple[str, str]] = field(default_factory=set)
    payments: list[tuple[str, int]] = field(default_factory=list)        # deal, fen
    events_through: int = 0  # deposits confirmed: each needed an event to cross Kafka


class Flow:
    """Commands as clients send them, recording what was accepted; :meth:`start` runs them
    side by side in lanes until :meth:`stop`."""

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex
        self.accepted = Accepted()
        self.seller = ex.as_(Role.SELLER, SELLER_REGION, SELLER)
        self.operator = ex.as_(Role.OPERATOR, "230100", "harbin-exchange")
        self.auctions: list[str] = []        # open, bid on by the lanes
        self.high: dict[str, int] = {}
        self.outstanding: dict[str, int] = {}  # deals, paid by the lanes
        self.stopping = asyncio.Event()
        self.tasks: list[asyncio.Task] = []

    def buyer(self, name: str) -> dict[str, str]:
        return self.ex.as_(Role.BUYER, BUYER_REGION, name)

    async def listing(self, title: str) -> str:
        lid = (await self.ex.call("listing", "POST", "/achievements", self.seller, expect=201,
                                  json=achievement(title=title, reference_price_fen=START)))["id"]
        await self.ex.call("listing", "POST", f"/achievements/{lid}/submit", self.seller)
        await self.ex.call("listing", "POST", f"/achievements/{lid}/review", self.operator)
        await self.ex.call("listing", "POST", f"/achievements/{lid}/approve", self.operator)
        self.accepted.listings.append(lid)
        return lid

    async def register(self, auction: str, bidder: str) -> None:
        await self.ex.call("auction", "POST", f"/auctions/{auction}/registrations",
                           self.buyer(bidder), expect=201)
        self.accepted.registrations.add((auction, bidder))
        # Settlement learns of the registration through Kafka before it takes the deposit.
        await self.ex.confirm_deposit(self.operator, auction, bidder, DEPOSIT, f"ICBC-{bidder}")
        self.accepted.deposits.add((auction, bidder))

    async def bid(self, auction: str, bidder: str, amount: int) -> dict:
        placed = await self.ex.call("auction", "POST", f"/auctions/{auction}/bids",
                                    self.buyer(bidder), expect=201, json={"amount_fen": amount})
        self.accepted.bids.add((auction, placed["sequence"], bidder, amount))
        return placed

    async def pay(self, deal: str, amount: int) -> None:
        paid = await self.ex.call("settlement", "POST", f"/deals/{deal}/payments", self.operator,
                                  expect=201, json={"amount_fen": amount, "reference": "ICBC"},
                                  headers={"Idempotency-Key": f"pay-{uuid.uuid4()}"})
        self.accepted.payments.append((deal, amount))
        self.outstanding[deal] = paid["outstanding_fen"]

    # Lanes: each runs until the flow stops; a failed call fails the test.
    async def _lane(self, step: Callable[[int], Awaitable[None]], pause: float) -> None:
        n = 0
        while not self.stopping.is_set():
            await step(n)
            n += 1
            await asyncio.sleep(pause)

    async def _listings(self, n: int) -> None:
        await self.listing(f"高温合金涡轮叶片精密铸造工艺（第{n + 1}批）")

    async def _bids(self, n: int) -> None:
        auction = self.auctions[n % len(self.auctions)]
        bidder = f"{auction[:8]}-{'ab'[(n // len(self.auctions)) % 2]}"
        self.high[auction] += INCREMENT
        await self.bid(auction, bidder, self.high[auction])

    async def _deposits(self, n: int) -> None:
        await self.register(self.auctions[n % len(self.auctions)], f"late-{n}")
        self.accepted.events_through += 1

    async def _payments(self, n: int) -> None:
        open_deals = [d for d, left in self.outstanding.items() if left > 1]
        if open_deals:  # never the last fen: the deals complete after the faults
            deal = open_deals[n % len(open_deals)]
            await self.pay(deal, min(self.outstanding[deal] - 1, self.outstanding[deal] // 8 + 1))

    def start(self, auctions: list[str], high: int, deals: dict[str, int]) -> None:
        self.auctions, self.outstanding = auctions, deals
        self.high = dict.fromkeys(auctions, high)
        self.tasks = [asyncio.create_task(self._lane(step, pause)) for step, pause in (
            (self._listings, 0.3), (self._bids, 0.1), (self._deposits, 0.2),
            (self._payments, 0.3))]

    def check(self) -> None:
        """Raise the first failure of a lane at once."""
        for task in self.tasks:
            if task.done() and task.exception():
                raise task.exception()

    async def stop(self) -> None:
        self.stopping.set()
        await asyncio.gather(*self.tasks)


async def _outage(flow: Flow, seconds: float) -> None:
    """Let the flow run on for ``seconds``; events must keep crossing Kafka meanwhile."""
    crossed = flow.accepted.events_through
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline or flow.accepted.events_through <= crossed:
        flow.check()
        if time.monotonic() > deadline + 60:
            raise AssertionError("no event crossed the cluster for a minute with a broker down")
        await asyncio.sleep(0.2)


# -- the test ----------------------------------------------------------------------------------
async def test_brokers_killed_under_load_lose_nothing_and_apply_nothing_twice(
        kafka_cluster: EmbeddedKafka, stack, new_database, tmp_path):
    cluster = kafka_cluster
    databases = {s: await new_database() for s in SERVICES}
    on_cluster = Stack("test", env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap})
    ex = Exchange(on_cluster, tmp_path, databases)
    await ex.start({"TECHEX_TOPIC_PARTITIONS": "3"})
    prefix = ex.common.topic_prefix
    try:
        pids = {s: p.pid for s, p in ex.procs.items()}
        flow = Flow(ex)

        # -- replicated as a cluster of three should be ---------------------------------------
        topics = await replicas(cluster.bootstrap)
        ours = sorted(t for t in topics if t.startswith(prefix + "."))
        assert ours and all(len(p["replicas"]) == 3 for t in ours for p in topics[t])
        assert set((await min_insync(cluster.bootstrap, ours)).values()) == {"2"}

        # -- before the faults: four auctions open, two of them closed into deals ---------------
        lids = [await flow.listing(f"石墨烯改性防腐涂料制备技术（{i}号）") for i in range(4)]
        starts = ex.now() + timedelta(days=7, minutes=1)
        auctions = []
        for i, lid in enumerate(lids):
            hours = 24 if i < 2 else 96  # two close before the faults, two are bid on during
            auction = await ex.once_published("/auctions", {
                "listing_id": lid, "start_price_fen": START, "increment_fen": INCREMENT,
                "deposit_ratio": "0.10", "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=hours)).isoformat()}, flow.operator)
            auctions.append(auction["id"])
        for aid in auctions:
            for side in "ab":
                await flow.register(aid, f"{aid[:8]}-{side}")
        ex.advance(timedelta(days=7, minutes=2))

        async def opening_bid(aid: str) -> dict | None:  # once the deposits qualified them
            try:
                return await flow.bid(aid, f"{aid[:8]}-a", START)
            except CallFailed as exc:
                assert "not-qualified" in str(exc), exc
                return None
        for aid in auctions:
            await wait_for(lambda aid=aid: opening_bid(aid), "the bidders to qualify")
            await flow.bid(aid, f"{aid[:8]}-b", START + INCREMENT)

        ex.advance(timedelta(days=1, minutes=10))  # past the short auctions' end
        deals = {}
        for aid in auctions[:2]:
            closed = await ex.until("auction", f"/auctions/{aid}", flow.operator,
                                    lambda a: a["status"] == "closed", "the close")
            deal = await ex.until("settlement", f"/deals/{closed['deal_id']}", flow.operator,
                                  lambda d: True, "the deal to reach settlement")
            deals[deal["deal_id"]] = deal["outstanding_fen"]

        # -- the faults, under load -------------------------------------------------------------
        flow.start(auctions[2:], START + INCREMENT, deals)
        await _outage(flow, 3)  # the flow is under way
        nodes = {n.node_id for n in cluster.nodes}
        first = await busiest_leader(cluster.bootstrap, prefix, nodes)
        await asyncio.to_thread(cluster.node(first).kill)
        await _outage(flow, OUTAGE)
        await asyncio.to_thread(cluster.start_node, first)  # the flow goes on meanwhile
        await wait_for(lambda: all_in_sync(cluster.bootstrap, len(nodes)),
                       "the restarted broker to catch up", timeout=90)
        await _outage(flow, 2)
        second = await busiest_leader(cluster.bootstrap, prefix, nodes - {first})
        await asyncio.to_thread(cluster.node(second).kill)
        await _outage(flow, OUTAGE)
        await flow.stop()

        # -- after: the deals paid off with a broker still down --------------------------------
        for deal, left in deals.items():
            await flow.pay(deal, left)
        accepted = flow.accepted
        assert accepted.events_through >= 3 and len(accepted.payments) >= 4

        conns = {s: await asyncpg.connect(databases[s]) for s in SERVICES}
        try:
            async def settled() -> bool:
                for conn in conns.values():
                    if await conn.fetchval("SELECT count(*) FROM outbox"):
                        return False
                auction = await conns["auction"].fetchval(
                    "SELECT count(*) FROM listings WHERE events_applied = 2")
                settlement = await conns["settlement"].fetchval(
                    "SELECT count(*) FROM registrations")
                drafts = await conns["registry"].fetchval(
                    "SELECT count(*) FROM contracts WHERE deal_id IS NOT NULL")
                qualified = await conns["auction"].fetchval(
                    "SELECT count(*) FROM bidders WHERE qualified_at IS NOT NULL")
                return (auction, settlement, drafts, qualified) == (
                    len(accepted.listings), len(accepted.registrations), len(deals),
                    len(accepted.deposits))
            await wait_for(settled, "every event to be applied", timeout=90)

            # Every listing reached the other services, each of its events applied once.
            for service, per_listing in (("auction", 2), ("settlement", 1), ("registry", 1)):
                rows = dict(await conns[service].fetch(
                    "SELECT listing_id::text, events_applied FROM listings"))
                assert rows == {lid: per_listing for lid in accepted.listings}, service

            # Every accepted bid is in the sequence once, and nothing else is.
            bids = {(str(r["auction_id"]), r["seq"], r["bidder_id"], r["amount_fen"])
                    for r in await conns["auction"].fetch(
                        "SELECT auction_id, seq, bidder_id, amount_fen FROM bids")}
            assert bids == accepted.bids
            for aid in auctions[2:]:
                row = await conns["auction"].fetchrow(
                    "SELECT bid_count, high_bid_fen FROM auctions WHERE id = $1", uuid.UUID(aid))
                assert (row["bid_count"], row["high_bid_fen"]) == (
                    sum(1 for b in bids if b[0] == aid), flow.high[aid])

            # Registrations and deposits: each once, on both sides.
            registered = {(str(r["procedure_id"]), r["bidder_id"]) for r in
                          await conns["settlement"].fetch(
                              "SELECT procedure_id, bidder_id FROM registrations")}
            assert registered == accepted.registrations
            held = {(str(r["procedure_id"]), r["bidder_id"]) for r in
                    await conns["settlement"].fetch("SELECT procedure_id, bidder_id FROM deposits")}
            assert held == accepted.deposits
            qualified = {(str(r["auction_id"]), r["bidder_id"]) for r in
                         await conns["auction"].fetch(
                             "SELECT auction_id, bidder_id FROM bidders"
                             " WHERE qualified_at IS NOT NULL")}
            assert qualified == accepted.deposits

            # Payments: each receipt once, in the deal and in the ledger; the deals completed.
            paid = Counter((str(r["deal_id"]), r["amount_fen"]) for r in
                           await conns["settlement"].fetch(
                               "SELECT deal_id, amount_fen FROM payments"))
            assert paid == Counter(accepted.payments)
            for deal in deals:
                row = await conns["settlement"].fetchrow(
                    "SELECT status, paid_fen FROM deals WHERE deal_id = $1", uuid.UUID(deal))
                assert row["status"] == "completed"
                assert row["paid_fen"] == sum(a for d, a in accepted.payments if d == deal)
            assert await conns["settlement"].fetchval(
                "SELECT count(*) FROM entries WHERE entry_id LIKE 'payment:%'") == len(
                accepted.payments)
            trial = await ex.call("settlement", "GET", "/ledger/trial-balance", flow.operator)
            assert trial["balanced"] is True

            # One draft per completed deal; nothing dead-lettered anywhere.
            drafts = Counter(r["deal_id"] for r in await conns["registry"].fetch(
                "SELECT deal_id FROM contracts WHERE deal_id IS NOT NULL"))
            assert drafts == Counter(uuid.UUID(d) for d in deals)
            for service, conn in conns.items():
                assert await conn.fetchval(
                    "SELECT count(*) FROM inbox WHERE status = 'dead'") == 0, service
        finally:
            for conn in conns.values():
                await conn.close()
        assert await dead_letters(cluster.bootstrap, prefix) == 0

        # The cluster's own topics are replicated too; the services never restarted.
        topics = await replicas(cluster.bootstrap)
        assert all(len(p["replicas"]) == 3 for p in topics["__consumer_offsets"])
        assert {s: p.pid for s, p in ex.procs.items() if p.poll() is None} == pids
        for service in SERVICES:
            r = await ex.client.get(ex.url(service, "/readyz"))
            assert r.status_code == 200, (service, r.text)
    finally:
        await ex.stop()
