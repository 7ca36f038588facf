"""Bids per second on the real auction service, against the trivial endpoint of the same server
and against the design most auction backends use (a row lock per bid), in the same run.

Starts the auction service as its own process (one uvicorn worker, as `techex serve auction`)
on the embedded stack with a throw-away database, and beside it the row-lock peer
(bench/rowlock_peer.py: one transaction per bid, `SELECT … FOR UPDATE` on the auction row,
check, INSERT, UPDATE, commit, answer) as its own process on the same server stack, with a
throw-away database of its own. Opens auctions for bidding on both and drives each in turn
over HTTP/1.1 keep-alive connections from this process, the same load on each, in turns
(each scenario's seconds in ``--rounds`` slices per server, the next turn only once the service
has relayed its outbox, so what one leaves behind does not load the other):

  trivial   GET /healthz, the same server, the same connections: the ceiling of the HTTP stack;
  hot       one auction, 64 bidders; each bid asks one increment above the last it assigned, so
            most arrive in order and are accepted (some lose the race and are rejected);
  keyed     the same, each bid with an Idempotency-Key of its own (claimed and answered in the
            batch that writes it); then a sample of them is sent again and must be answered
            with the first answer, byte for byte;
  paced     the hot auction at 80 % of the request rate measured, for latency;
  many      1,000 auctions at once, bids spread over them, eight bidders taking turns on each
            (each auction's batches committed together with the other auctions' in one
            transaction: group commit);
  idle      10,000 open auctions (``--idle-auctions``), each bid on once: the service's resident
            memory per auction whose writer is held, then the writers evicted once idle
            (``AUCTION_IDLE_SECONDS``, short here), then all bid on again — each writer rebuilt
            from the rows — and the memory that second wave added: memory follows the auctions
            being bid on, not the auctions open.

Every bid answered 201 is checked against the bids table afterwards (durable before its
answer), the stored bids of each auction must rise with their sequence (the high bid never
goes down, no two at one amount) and each auction row must hold its last bid; on both servers.
A bench bidder bids hundreds of times a second, so the per-account bid limit is set out of its
reach; the limit is still checked on every bid. The last line printed is one JSON object with
the figures: the service's under the keys it always had, the peer's under the same keys
prefixed ``row_lock_``, and ``ratio_to_row_lock`` (hot accepted bids/s, service to peer).

    .venv/bin/python bench/bids.py [--seconds 10] [--rounds 5] [--connections 64]
                                   [--idle-auctions 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import rowlock_peer  # bench/rowlock_peer.py, beside this file
import uvloop

from services.auction.api import MIGRATIONS as AUCTION_MIGRATIONS
from services.auction.domain.auction import Auction, AuctionTerms
from services.auction.store import auctions as store
from shared.auth import Role, mint_token
from shared.db import create_pool, migrate
from shared.kafka import delete_topics
from shared.scheduler import schedule
from shared.settings import CommonSettings
from techex.stack.stack import Stack, create_database

START, INCREMENT = 1_000_000, 100
IDLE_SECONDS = 30.0
"""The service's writer idle time here: shorter than its default minute (so the idle scenario
sees its writers evicted soon), longer than the idle scenario's first wave of bids."""


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    accepted: list[tuple[uuid.UUID, int, int]] = field(default_factory=list)

    def record(self, status: int, seconds: float) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.latencies.append(seconds)


class Connection:
    """A minimal HTTP/1.1 keep-alive client: the load generator must cost less than the
    server it measures, and one request at a time per connection is all it needs."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        body = await self.reader.readexactly(length) if length else b""
        return status, body

    def close(self) -> None:
        self.writer.close()


def request(method: str, path: str, token: str, body: bytes = b"", key: str | None = None
            ) -> bytes:
    extra = f"Idempotency-Key: {key}\r\n" if key else ""
    return (f"{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
            f"{extra}Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body


async def drive(port: int, connections: int, seconds: float, make, stats: Stats,
                rate: float | None = None) -> float:
    """Run ``connections`` clients for ``seconds``; open loop at ``rate`` req/s if given."""
    conns = [Connection("127.0.0.1", port) for _ in range(connections)]
    await asyncio.gather(*(c.open() for c in conns))
    stop = time.perf_counter() + seconds
    started = time.perf_counter()
    sent = 0

    async def client(i: int, c: Connection) -> None:
        nonlocal sent
        while True:
            now = time.perf_counter()
            if now >= stop:
                return
            if rate:
                due = started + sent / rate
                sent += 1
                if due > now:
                    await asyncio.sleep(due - now)
            raw, on_answer = make(i)
            t0 = time.perf_counter()
            status, body = await c.request(raw)
            stats.record(status, time.perf_counter() - t0)
            if on_answer:
                on_answer(status, body)

    await asyncio.gather(*(client(i, c) for i, c in enumerate(conns)))
    for c in conns:
        c.close()
    return time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc): the service's cost per
    request, which other load on the machine bends less than its throughput."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    return round(statistics.quantiles(values, n=100, method="inclusive")[p - 1] * 1000, 2)


async def open_auctions(pool: asyncpg.Pool, n: int, bidders: list[str]) -> list[uuid.UUID]:
    now = datetime.now(UTC)
    ids = []
    async with pool.acquire() as conn, conn.transaction():
        for _ in range(n):
            terms = AuctionTerms(start_price_fen=START, increment_fen=INCREMENT,
                                 deposit_ratio=Decimal("0.10"), announce_at=now - timedelta(days=8),
                                 starts_at=now - timedelta(hours=1),
                                 ends_at=now + timedelta(days=1))
            auction, _ = Auction.announce(terms, listing_id=uuid.uuid4(), seller_id="seller",
                                          region="230102")
            await store.insert_auction(conn, auction)
            await schedule(conn, "auction.close", str(auction.id), auction.ends_at)
            for b in bidders:
                await store.confirm_deposit(conn, auction.id, b, now)
            ids.append(auction.id)
    return ids


async def open_idle_auctions(pool: asyncpg.Pool, n: int, bidder: str) -> list[uuid.UUID]:
    """``n`` auctions open for bidding with one qualified bidder, in two statements."""
    now = datetime.now(UTC)
    ids = [uuid.uuid4() for _ in range(n)]
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO auctions (id, listing_id, seller_id, region, start_price_fen,"
            " increment_fen, deposit_ratio, announce_at, starts_at, original_ends_at,"
            " extension_seconds, round, ends_at)"
            " SELECT id, gen_random_uuid(), 'seller', '230102', $2, $3, 0.10, $4, $5, $6, 300,"
            " 1, $6 FROM unnest($1::uuid[]) AS id",
            ids, START, INCREMENT, now - timedelta(days=8), now - timedelta(hours=1),
            now + timedelta(days=1))
        await conn.execute(
            "INSERT INTO bidders (auction_id, bidder_id, registered_at, qualified_at, number)"
            " SELECT id, $2, $3, $3, 1 FROM unnest($1::uuid[]) AS id", ids, bidder, now)
    return ids


def rss_bytes(pid: int) -> int:
    """The process's resident memory (Linux /proc)."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


async def samples(port: int, name: str) -> dict[str, float]:
    """The samples of metric ``name`` on the server's /metrics, by their whole name with
    labels (``name{a="b"}``, or just ``name``)."""
    c = Connection("127.0.0.1", port)
    await c.open()
    _, body = await c.request(b"GET /metrics HTTP/1.1\r\nHost: bench\r\n\r\n")
    c.close()
    return {k: float(v) for k, v in (line.rsplit(" ", 1) for line in body.decode().splitlines()
                                     if line.startswith(name))}


async def gauge(port: int, name: str) -> float:
    """A gauge's value from the server's /metrics."""
    value = (await samples(port, name)).get(name)
    if value is None:
        raise RuntimeError(f"no gauge {name} in /metrics")
    return value


async def gc_pauses(port: int) -> dict:
    """The service's garbage-collector pauses so far (techex_gc_pause_seconds)."""
    h = await samples(port, "techex_gc_pause_seconds")
    count = sum(v for k, v in h.items() if k.startswith("techex_gc_pause_seconds_count"))
    under = sum(v for k, v in h.items() if k.startswith("techex_gc_pause_seconds_bucket")
                and 'le="0.01"' in k)
    full = sum(v for k, v in h.items() if k.startswith("techex_gc_pause_seconds_count")
               and 'generation="2"' in k)
    return {"gc_pauses": int(count), "gc_full_collections": int(full),
            "gc_pause_total_ms": round(sum(
                v for k, v in h.items() if k.startswith("techex_gc_pause_seconds_sum")) * 1000),
            "gc_pauses_over_10ms": int(count - under)}


async def idle_memory(target: Target, args: argparse.Namespace, token: str,
                      idle_seconds: float) -> dict:
    """Resident memory per auction whose writer is held, then evicted and rebuilt."""
    ids = await open_idle_auctions(target.pool, args.idle_auctions, "bidder-00")
    first_bids, second_bids = ([request("POST", f"/auctions/{a}/bids", token,
                                        b'{"amount_fen":%d}' % amount) for a in ids]
                               for amount in (START, START + INCREMENT))

    async def wave(requests: list[bytes]) -> tuple[float, Stats]:
        """Each request once, over the bench's connections."""
        stats, it = Stats(), iter(requests)
        started = time.perf_counter()
        conns = [Connection("127.0.0.1", target.port) for _ in range(args.connections)]
        await asyncio.gather(*(c.open() for c in conns))

        async def client(c: Connection) -> None:
            for r in it:
                t0 = time.perf_counter()
                status, _ = await c.request(r)
                stats.record(status, time.perf_counter() - t0)
        await asyncio.gather(*(client(c) for c in conns))
        for c in conns:
            c.close()
        return time.perf_counter() - started, stats

    async def evicted(timeout: float) -> float:
        started = time.perf_counter()
        while await gauge(target.port, "techex_auction_owned") > 0:
            if time.perf_counter() - started > timeout:
                break
            await asyncio.sleep(0.5)
        return time.perf_counter() - started

    n = len(ids)
    await evicted(idle_seconds * 4)  # the earlier scenarios' writers first
    before = rss_bytes(target.proc.pid)
    elapsed, first = await wave(first_bids)
    await target.quiet()
    held_writers = await gauge(target.port, "techex_auction_owned")
    held = rss_bytes(target.proc.pid)
    waited = await evicted(idle_seconds * 4)
    left = await gauge(target.port, "techex_auction_owned")
    after_eviction = rss_bytes(target.proc.pid)
    rebuild_elapsed, second = await wave(second_bids)
    await target.quiet()
    rebuilt = rss_bytes(target.proc.pid)
    accepted = sum(s.statuses.get(201, 0) for s in (first, second))
    return {
        "idle_auctions": n,
        "idle_writers_held": int(held_writers),
        "idle_memory_per_auction_bytes": round((held - before) / n),
        "idle_evicted_after_s": round(waited, 1),
        "idle_writers_after_eviction": int(left),
        "idle_rss_after_eviction_mb": round(after_eviction / 2**20, 1),
        "idle_rebuild_growth_per_auction_bytes": round((rebuilt - held) / n),
        "idle_first_bids_per_s": round(n / elapsed),
        "idle_rebuilt_bids_per_s": round(n / rebuild_elapsed),
        "idle_bids_accepted": accepted,
        "idle_rss_mb": round(rebuilt / 2**20, 1),
    }


async def wait_ready(port: int, proc: asyncio.subprocess.Process) -> None:
    for _ in range(300):
        if proc.returncode is not None:
            raise RuntimeError(f"the server on port {port} exited while starting")
        try:
            c = Connection("127.0.0.1", port)
            await c.open()
            status, _ = await c.request(b"GET /readyz HTTP/1.1\r\nHost: bench\r\n\r\n")
            c.close()
            if status == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the server on port {port} did not become ready")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Target:
    """A bid server under test: its process, its database, and its auctions."""

    prefix: str
    """Of its figures' keys: none for the auction service, ``row_lock_`` for the peer."""
    proc: asyncio.subprocess.Process
    port: int
    pool: asyncpg.Pool
    open_auctions: Callable[[int, list[str]], Awaitable[list[uuid.UUID]]]
    background: str | None = None
    """A query true once the server's work of its own is done (the outbox relayed)."""
    hot: uuid.UUID = field(default_factory=uuid.uuid4)
    accepted: list[tuple[uuid.UUID, int, int]] = field(default_factory=list)
    unexpected: int = 0
    drained: float = 0.0
    """Seconds waited for its background work after its turns."""

    async def quiet(self, timeout: float = 60) -> None:
        """Wait until the server has nothing of its own left to do, so what one server
        leaves behind (events still to relay) does not load the other's measurement."""
        started = time.perf_counter()
        while self.background and not await self.pool.fetchval(self.background):
            if time.perf_counter() - started > timeout:
                raise RuntimeError(f"{self.prefix or 'the service'}: still busy after "
                                   f"{timeout:.0f} s")
            await asyncio.sleep(0.02)
        self.drained += time.perf_counter() - started


@dataclass
class Measured:
    """One scenario on one server, summed over its rounds."""

    stats: Stats = field(default_factory=Stats)
    elapsed: float = 0.0
    cpu: float = 0.0


async def alternate(targets: tuple[Target, ...], args: argparse.Namespace,
                    load: Callable[[Target, Stats], Callable], rate=None) -> dict[str, Measured]:
    """Run the load ``load(target, stats)`` makes on each server in turn, ``args.rounds``
    times for ``args.seconds / args.rounds`` each (open loop at ``rate(target)`` req/s if
    given): the machine is shared, and a change in its other load then falls on both alike."""
    out = {t.prefix: Measured() for t in targets}
    for _ in range(args.rounds):
        for t in targets:
            m = out[t.prefix]
            for u in targets:
                await u.quiet()
            cpu = cpu_seconds(t.proc.pid)
            m.elapsed += await drive(t.port, args.connections, args.seconds / args.rounds,
                                     load(t, m.stats), m.stats, rate(t) if rate else None)
            m.cpu += cpu_seconds(t.proc.pid) - cpu
    for t in targets:
        t.accepted += out[t.prefix].stats.accepted
    return out


def scenario(prefix: str, name: str, m: Measured) -> dict:
    return {f"{prefix}{name}_accepted_bids_per_s": round(len(m.stats.accepted) / m.elapsed),
            f"{prefix}{name}_requests_per_s": round(len(m.stats.latencies) / m.elapsed),
            f"{prefix}{name}_p50_ms": pct(m.stats.latencies, 50),
            f"{prefix}{name}_p99_ms": pct(m.stats.latencies, 99)}


async def verify(target: Target) -> dict:
    """Every bid answered 201 is in the bids table; the bids of an auction rise with their
    sequence (the high bid only goes up, no two at the same amount); each auction row holds
    its last bid; every answer was 201 or 409."""
    p, pool = target.prefix, target.pool
    stored = {(r["auction_id"], r["seq"], r["amount_fen"]) for r in await pool.fetch(
        "SELECT auction_id, seq, amount_fen FROM bids")}
    return {
        f"{p}accepted_answers_missing_from_db": sum(
            1 for a in target.accepted if a not in stored),
        f"{p}accepted_answers_same_amount": len(target.accepted) - len(
            {(auction, amount) for auction, _, amount in target.accepted}),
        f"{p}bids_not_rising": await pool.fetchval(
            "SELECT count(*) FROM (SELECT amount_fen <= lag(amount_fen) OVER"
            " (PARTITION BY auction_id ORDER BY seq) AS down FROM bids) s WHERE down"),
        f"{p}auction_rows_disagreeing": await pool.fetchval(
            "SELECT count(*) FROM auctions a LEFT JOIN LATERAL (SELECT seq, amount_fen FROM bids"
            " b WHERE b.auction_id = a.id ORDER BY seq DESC LIMIT 1) last ON true"
            " WHERE a.bid_count <> coalesce(last.seq, 0)"
            " OR a.high_bid_fen IS DISTINCT FROM last.amount_fen"),
        f"{p}bid_answers_unexpected": target.unexpected,
    }


async def throwaway(stack: Stack, name: str) -> str:
    admin = await asyncpg.connect(stack.admin_database_url())
    await create_database(admin, name)
    await admin.close()
    return stack.admin_database_url().rsplit("/", 1)[0] + f"/{name}"


async def start(args: list[str], env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, *args, env={**os.environ, **env}, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)


async def run(args: argparse.Namespace, stack: Stack) -> dict:
    tag = uuid.uuid4().hex[:8]
    databases = [f"bench_bids_{tag}", f"bench_row_lock_{tag}"]
    url, peer_url = [await throwaway(stack, name) for name in databases]
    procs: list[asyncio.subprocess.Process] = []
    pools: list[asyncpg.Pool] = []
    figures: dict = {"bench": "bids", "connections": args.connections,
                     "seconds": args.seconds, "rounds": args.rounds}
    try:
        pool = await create_pool(url, min_size=2, max_size=8)
        pools.append(pool)
        peer_pool = await create_pool(peer_url, min_size=2, max_size=8)
        pools.append(peer_pool)
        async with pool.acquire() as conn:
            await migrate(conn, *AUCTION_MIGRATIONS)
        async with peer_pool.acquire() as conn:
            await rowlock_peer.create_schema(conn)
        common = CommonSettings(kafka_bootstrap_servers=stack.bootstrap)
        bidders = [f"bidder-{i:02d}" for i in range(args.connections)]
        tokens = [mint_token(common, b, Role.BUYER, "230100") for b in bidders]
        both = {"TECHEX_LOG_LEVEL": "WARNING", "TECHEX_DEVELOPMENT": "1",
                "TECHEX_BID_RATE": "1000000", "TECHEX_BID_BURST": "1000000"}
        port, peer_port = free_port(), free_port()
        procs.append(await start(["-m", "techex", "serve", "auction", "--port", str(port)], {
            **both, "AUCTION_DATABASE_URL": url, "AUCTION_PORT": str(port),
            "AUCTION_IDLE_SECONDS": str(IDLE_SECONDS),
            "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap, "TECHEX_TOPIC_PREFIX": f"bench{tag}"}))
        procs.append(await start([str(Path(rowlock_peer.__file__)), "--port", str(peer_port)],
                                 {**both, "ROW_LOCK_PEER_DATABASE_URL": peer_url}))

        async def ours(n: int, qualified: list[str]) -> list[uuid.UUID]:
            return await open_auctions(pool, n, qualified)

        async def peers(n: int, qualified: list[str]) -> list[uuid.UUID]:
            now = datetime.now(UTC)
            async with peer_pool.acquire() as conn, conn.transaction():
                return [await rowlock_peer.open_auction(
                    conn, start_price_fen=START, increment_fen=INCREMENT,
                    starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1),
                    bidders=qualified, qualified_at=now) for _ in range(n)]

        service = Target("", procs[0], port, pool, ours,
                         "SELECT NOT EXISTS (SELECT 1 FROM outbox)")
        peer = Target("row_lock_", procs[1], peer_port, peer_pool, peers)
        targets = (service, peer)
        for t in targets:
            await wait_ready(t.port, t.proc)
            t.hot = (await t.open_auctions(1, bidders))[0]
        health = request("GET", "/healthz", tokens[0])
        runs = await alternate(targets, args, lambda t, stats: lambda i: (health, None))
        for t in targets:
            p, m = t.prefix, runs[t.prefix]
            figures[f"{p}trivial_req_per_s"] = round(len(m.stats.latencies) / m.elapsed)
            figures[f"{p}trivial_service_cpu_us"] = round(m.cpu / len(m.stats.latencies) * 1e6)
            figures[f"{p}trivial_p50_ms"] = pct(m.stats.latencies, 50)
            figures[f"{p}trivial_p99_ms"] = pct(m.stats.latencies, 99)

        counters: dict[uuid.UUID, int] = {t.hot: START - INCREMENT for t in targets}

        def bid_on(t: Target, auction: uuid.UUID, stats: Stats, keyed: list | None = None):
            def make(i: int):
                counters[auction] += INCREMENT
                amount = counters[auction]
                key = uuid.uuid4().hex if keyed is not None else None
                raw = request("POST", f"/auctions/{auction}/bids", tokens[i],
                              b'{"amount_fen":%d}' % amount, key)

                def answered(status: int, body: bytes) -> None:
                    if status == 201:
                        stats.accepted.append((auction, json.loads(body)["sequence"], amount))
                    elif status != 409:
                        t.unexpected += 1
                    if keyed is not None:
                        keyed.append((i, raw, status, body))
                return raw, answered
            return make

        for t in targets:  # warm-up
            await drive(t.port, args.connections, 2, bid_on(t, t.hot, Stats()), Stats())
        runs = await alternate(targets, args, lambda t, stats: bid_on(t, t.hot, stats))
        for t in targets:
            p, m = t.prefix, runs[t.prefix]
            figures[f"{p}hot_service_cpu_us"] = round(m.cpu / len(m.stats.latencies) * 1e6)
            figures |= scenario(p, "hot", m)
            figures[f"{p}hot_accepted_share"] = round(
                len(m.stats.accepted) / len(m.stats.latencies), 3)
            figures[f"{p}ratio_to_trivial"] = round(
                figures[f"{p}hot_requests_per_s"] / figures[f"{p}trivial_req_per_s"], 3)
            figures[f"{p}accepted_ratio_to_trivial"] = round(
                figures[f"{p}hot_accepted_bids_per_s"] / figures[f"{p}trivial_req_per_s"], 3)
        hot_rate = {t.prefix: len(runs[t.prefix].stats.latencies) / runs[t.prefix].elapsed
                    for t in targets}

        keyed: dict[str, list] = {t.prefix: [] for t in targets}
        runs = await alternate(targets, args,
                               lambda t, stats: bid_on(t, t.hot, stats, keyed[t.prefix]))
        for t in targets:
            p = t.prefix
            figures |= scenario(p, "keyed", runs[p])
            figures[f"{p}keyed_ratio_to_hot"] = round(
                figures[f"{p}keyed_requests_per_s"] / figures[f"{p}hot_requests_per_s"], 3)
            sample = keyed[p][::max(1, len(keyed[p]) // 500)]
            replay = Connection("127.0.0.1", t.port)
            await replay.open()
            mismatched = 0
            for _, raw, status, body in sample:
                again = await replay.request(raw)
                mismatched += again != (status, body)
            replay.close()
            figures |= {f"{p}keyed_retries_sent": len(sample),
                        f"{p}keyed_retries_mismatched": mismatched}

        runs = await alternate(targets, args, lambda t, stats: bid_on(t, t.hot, stats),
                               rate=lambda t: 0.8 * hot_rate[t.prefix])
        for t in targets:
            figures |= scenario(t.prefix, "paced", runs[t.prefix])

        many = {t.prefix: await t.open_auctions(1000, bidders[:8]) for t in targets}
        figures["many_auctions"] = len(many[""])
        for auctions in many.values():
            counters |= dict.fromkeys(auctions, START - INCREMENT)

        def spread(t: Target, stats: Stats):
            """Each request to the next auction of the connection's stride; its bidder the one
            of the eight whose turn it is on that auction, so no bidder outbids itself (the
            hot auction's bidders never do either) and refusals are races, as there."""
            auctions = many[t.prefix]

            def make(i: int):
                auction = auctions[(i * 7919 + len(stats.latencies)) % len(auctions)]
                turn = (counters[auction] - START) // INCREMENT + 1
                return bid_on(t, auction, stats)(turn % 8)
            return make

        for t in targets:  # warm-up, as the hot auction's: each auction's writer is built
            warm = Stats()
            await drive(t.port, args.connections, 2, spread(t, warm), warm)
        runs = await alternate(targets, args, spread)
        for t in targets:
            p = t.prefix
            figures |= scenario(p, "many", runs[p])
            figures[f"{p}many_to_hot"] = round(
                figures[f"{p}many_accepted_bids_per_s"] / figures[f"{p}hot_accepted_bids_per_s"],
                3)

        figures |= await gc_pauses(service.port)
        if args.idle_auctions:
            figures |= await idle_memory(service, args, tokens[0], IDLE_SECONDS)

        figures["relay_drain_s"] = round(service.drained, 2)
        for t in targets:
            figures |= await verify(t)
        for key, name in (("ratio_to_row_lock", "hot"), ("keyed_ratio_to_row_lock", "keyed"),
                          ("many_ratio_to_row_lock", "many")):
            figures[key] = round(figures[f"{name}_accepted_bids_per_s"]
                                 / max(1, figures[f"row_lock_{name}_accepted_bids_per_s"]), 3)
        # Answers (accepted or refused) per second: each costs the peer its row lock.
        figures["requests_ratio_to_row_lock"] = round(
            figures["hot_requests_per_s"] / figures["row_lock_hot_requests_per_s"], 3)
    finally:
        for proc in procs:
            proc.terminate()
            await proc.wait()
        for p in pools:
            await p.close()
        admin = await asyncpg.connect(stack.admin_database_url())
        for name in databases:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        await delete_topics(stack.bootstrap, f"bench{tag}.")
    return figures


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--rounds", type=int, default=5,
                   help="each scenario's seconds are run in this many turns on each server")
    p.add_argument("--idle-auctions", type=int, default=10_000,
                   help="auctions of the idle-memory scenario (0: leave it out)")
    args = p.parse_args()
    stack = Stack("dev")
    started = stack.up()
    try:
        figures = uvloop.run(run(args, stack))
    finally:
        if started:
            stack.down()
    for p, title in (("", "the auction service (one writer per auction, bids in batches)"),
                     ("row_lock_", "the row-lock peer (one transaction per bid)")):
        f = {k.removeprefix(p): v for k, v in figures.items() if k.startswith(p)}
        print(f"{title}:")
        print(f"  trivial GET: {f['trivial_req_per_s']} req/s, p99 {f['trivial_p99_ms']} ms")
        print(f"  hot auction, {args.connections} bidders: {f['hot_accepted_bids_per_s']} "
              f"accepted bids/s of {f['hot_requests_per_s']} bids/s (accepted to trivial "
              f"{f['accepted_ratio_to_trivial']}), p50 {f['hot_p50_ms']} ms, "
              f"p99 {f['hot_p99_ms']} ms")
        print(f"  with Idempotency-Key: {f['keyed_accepted_bids_per_s']} accepted bids/s of "
              f"{f['keyed_requests_per_s']} bids/s (ratio to unkeyed "
              f"{f['keyed_ratio_to_hot']}), p50 {f['keyed_p50_ms']} ms, p99 "
              f"{f['keyed_p99_ms']} ms; {f['keyed_retries_mismatched']} of "
              f"{f['keyed_retries_sent']} retries answered differently")
        print(f"  server CPU per request: trivial {f['trivial_service_cpu_us']} µs, "
              f"hot bid {f['hot_service_cpu_us']} µs")
        print(f"  paced at 80 %: {f['paced_requests_per_s']} bids/s, p50 "
              f"{f['paced_p50_ms']} ms, p99 {f['paced_p99_ms']} ms")
        print(f"  {figures['many_auctions']:,} auctions: {f['many_accepted_bids_per_s']} accepted "
              f"bids/s ({f['many_to_hot']} of the hot rate), p50 {f['many_p50_ms']} ms, "
              f"p99 {f['many_p99_ms']} ms")
        print(f"  accepted answers missing from the bids table "
              f"{f['accepted_answers_missing_from_db']}, sharing an amount "
              f"{f['accepted_answers_same_amount']}; stored bids not above the previous "
              f"{f['bids_not_rising']}; auction rows not on their last bid "
              f"{f['auction_rows_disagreeing']}; answers neither 201 nor 409 "
              f"{f['bid_answers_unexpected']}")
    if args.idle_auctions:
        g = figures
        print(f"{g['idle_auctions']:,} auctions bid on once: {g['idle_writers_held']:,} writers "
              f"held, {g['idle_memory_per_auction_bytes']:,} bytes of resident memory each; "
              f"{g['idle_writers_after_eviction']} left {g['idle_evicted_after_s']} s after "
              f"({IDLE_SECONDS:g} s idle); all bid on again, each writer rebuilt from the rows "
              f"({g['idle_rebuilt_bids_per_s']} bids/s): "
              f"{g['idle_rebuild_growth_per_auction_bytes']:,} bytes more each")
    print(f"the service's garbage collector until then: {figures['gc_pauses']} pauses "
          f"({figures['gc_full_collections']} full), {figures['gc_pause_total_ms']} ms in all, "
          f"{figures['gc_pauses_over_10ms']} over 10 ms")
    print(f"waited for the service's outbox relay between turns: {figures['relay_drain_s']} s")
    print(f"accepted bids/s, service to peer: hot {figures['ratio_to_row_lock']}, keyed "
          f"{figures['keyed_ratio_to_row_lock']}, 1,000 auctions "
          f"{figures['many_ratio_to_row_lock']}; hot answers/s (accepted or refused) "
          f"{figures['requests_ratio_to_row_lock']}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
