"""Bids per second on the real auction service, against the trivial endpoint of the same server.

Starts the auction service as its own process (one uvicorn worker, as `techex serve auction`)
on the embedded stack with a throw-away database, opens auctions for bidding, and drives it
over HTTP/1.1 keep-alive connections from this process:

  trivial   GET /healthz, the same server, the same connections: the ceiling of the HTTP stack;
  hot       one auction, 64 bidders; each bid asks one increment above the last it assigned, so
            most arrive in order and are accepted (some lose the race and are rejected);
  keyed     the same, each bid with an Idempotency-Key of its own (claimed and answered in the
            batch that writes it); then a sample of them is sent again and must be answered
            with the first answer, byte for byte;
  paced     the hot auction at 80 % of the accepted rate measured, for latency;
  many      1,000 auctions at once, bids spread over them.

Every bid answered 201 is checked against the bids table afterwards (durable before its
answer). A bench bidder bids hundreds of times a second, so the per-account bid limit is set
out of its reach; the limit is still checked on every bid. The last line printed is one JSON
object with the figures.

    .venv/bin/python bench/bids.py [--seconds 10] [--connections 64]
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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import uvloop

from services.auction import store
from services.auction.domain.auction import Auction, AuctionTerms
from shared.auth import Role, mint_token
from shared.db import create_pool, migrate
from shared.kafka import delete_topics
from shared.scheduler import schedule
from shared.settings import CommonSettings
from techex.stack.stack import REPO, Stack, create_database

START, INCREMENT = 1_000_000, 100


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


async def wait_ready(port: int, proc: asyncio.subprocess.Process) -> None:
    for _ in range(300):
        if proc.returncode is not None:
            raise RuntimeError("the auction service exited while starting")
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
    raise RuntimeError("the auction service did not become ready")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def run(args: argparse.Namespace, stack: Stack) -> dict:
    tag = uuid.uuid4().hex[:8]
    admin = await asyncpg.connect(stack.admin_database_url())
    await create_database(admin, f"bench_bids_{tag}")
    await admin.close()
    url = stack.admin_database_url().rsplit("/", 1)[0] + f"/bench_bids_{tag}"
    pool = await create_pool(url, min_size=2, max_size=8)
    async with pool.acquire() as conn:
        await migrate(conn, REPO / "services" / "auction" / "migrations")
    common = CommonSettings(kafka_bootstrap_servers=stack.bootstrap)
    bidders = [f"bidder-{i:02d}" for i in range(args.connections)]
    tokens = [mint_token(common, b, Role.BUYER, "230100") for b in bidders]
    hot = (await open_auctions(pool, 1, bidders))[0]
    port = free_port()
    env = {**os.environ, "AUCTION_DATABASE_URL": url, "AUCTION_PORT": str(port),
           "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap, "TECHEX_TOPIC_PREFIX": f"bench{tag}",
           "TECHEX_LOG_LEVEL": "WARNING", "TECHEX_DEVELOPMENT": "1",
           "TECHEX_BID_RATE": "1000000", "TECHEX_BID_BURST": "1000000"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "techex", "serve", "auction", "--port", str(port), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    figures: dict = {"bench": "bids", "connections": args.connections,
                     "seconds": args.seconds}
    try:
        await wait_ready(port, proc)
        health = request("GET", "/healthz", tokens[0])
        trivial = Stats()
        cpu = cpu_seconds(proc.pid)
        elapsed = await drive(port, args.connections, args.seconds,
                              lambda i: (health, None), trivial)
        figures["trivial_req_per_s"] = round(len(trivial.latencies) / elapsed)
        figures["trivial_service_cpu_us"] = round(
            (cpu_seconds(proc.pid) - cpu) / len(trivial.latencies) * 1e6)

        counters = {hot: START - INCREMENT}

        def bid_on(auction: uuid.UUID, stats: Stats, keyed: list | None = None):
            def make(i: int):
                counters[auction] += INCREMENT
                amount = counters[auction]
                key = uuid.uuid4().hex if keyed is not None else None
                raw = request("POST", f"/auctions/{auction}/bids", tokens[i],
                              b'{"amount_fen":%d}' % amount, key)

                def answered(status: int, body: bytes) -> None:
                    if status == 201:
                        stats.accepted.append((auction, json.loads(body)["sequence"], amount))
                    if keyed is not None:
                        keyed.append((i, raw, status, body))
                return raw, answered
            return make

        await drive(port, args.connections, 2, bid_on(hot, Stats()), Stats())  # warm-up
        hot_stats = Stats()
        cpu = cpu_seconds(proc.pid)
        elapsed = await drive(port, args.connections, args.seconds, bid_on(hot, hot_stats),
                              hot_stats)
        accepted_rate = len(hot_stats.accepted) / elapsed
        figures |= {
            "hot_service_cpu_us": round(
                (cpu_seconds(proc.pid) - cpu) / len(hot_stats.latencies) * 1e6),
            "hot_accepted_bids_per_s": round(accepted_rate),
            "hot_requests_per_s": round(len(hot_stats.latencies) / elapsed),
            "hot_accepted_share": round(len(hot_stats.accepted) / len(hot_stats.latencies), 3),
            "hot_p50_ms": pct(hot_stats.latencies, 50),
            "hot_p99_ms": pct(hot_stats.latencies, 99),
        }
        figures["ratio_to_trivial"] = round(
            figures["hot_requests_per_s"] / figures["trivial_req_per_s"], 3)

        keyed_stats, keyed = Stats(), []
        elapsed = await drive(port, args.connections, args.seconds,
                              bid_on(hot, keyed_stats, keyed), keyed_stats)
        figures |= {
            "keyed_accepted_bids_per_s": round(len(keyed_stats.accepted) / elapsed),
            "keyed_requests_per_s": round(len(keyed_stats.latencies) / elapsed),
            "keyed_p50_ms": pct(keyed_stats.latencies, 50),
            "keyed_p99_ms": pct(keyed_stats.latencies, 99),
        }
        figures["keyed_ratio_to_hot"] = round(
            figures["keyed_requests_per_s"] / figures["hot_requests_per_s"], 3)
        sample = keyed[::max(1, len(keyed) // 500)]
        replay = Connection("127.0.0.1", port)
        await replay.open()
        mismatched = 0
        for _, raw, status, body in sample:
            again = await replay.request(raw)
            mismatched += again != (status, body)
        replay.close()
        figures |= {"keyed_retries_sent": len(sample), "keyed_retries_mismatched": mismatched}

        paced_stats = Stats()
        rate = 0.8 * len(hot_stats.latencies) / elapsed
        elapsed = await drive(port, args.connections, args.seconds, bid_on(hot, paced_stats),
                              paced_stats, rate=rate)
        figures |= {"paced_requests_per_s": round(len(paced_stats.latencies) / elapsed),
                    "paced_accepted_bids_per_s": round(len(paced_stats.accepted) / elapsed),
                    "paced_p50_ms": pct(paced_stats.latencies, 50),
                    "paced_p99_ms": pct(paced_stats.latencies, 99)}

        many = await open_auctions(pool, 1000, bidders[:8])
        for a in many:
            counters[a] = START - INCREMENT
        many_stats = Stats()

        def spread(i: int):
            return bid_on(many[(i * 7919 + len(many_stats.latencies)) % len(many)],
                          many_stats)(i % 8)

        elapsed = await drive(port, args.connections, args.seconds, spread, many_stats)
        figures |= {"many_auctions": len(many),
                    "many_accepted_bids_per_s": round(len(many_stats.accepted) / elapsed),
                    "many_p50_ms": pct(many_stats.latencies, 50),
                    "many_p99_ms": pct(many_stats.latencies, 99)}

        answered = (hot_stats.accepted + keyed_stats.accepted + paced_stats.accepted
                    + many_stats.accepted)
        stored = {(r["auction_id"], r["seq"], r["amount_fen"]) for r in await pool.fetch(
            "SELECT auction_id, seq, amount_fen FROM bids")}
        figures["accepted_answers_missing_from_db"] = sum(
            1 for a in answered if a not in stored)
    finally:
        proc.terminate()
        await proc.wait()
        await pool.close()
        admin = await asyncpg.connect(stack.admin_database_url())
        await admin.execute(f'DROP DATABASE IF EXISTS "bench_bids_{tag}" WITH (FORCE)')
        await admin.close()
        await delete_topics(stack.bootstrap, f"bench{tag}.")
    return figures


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--connections", type=int, default=64)
    args = p.parse_args()
    stack = Stack("dev")
    started = stack.up()
    try:
        figures = uvloop.run(run(args, stack))
    finally:
        if started:
            stack.down()
    print(f"trivial GET: {figures['trivial_req_per_s']} req/s")
    print(f"hot auction, {args.connections} bidders: {figures['hot_accepted_bids_per_s']} "
          f"accepted bids/s of {figures['hot_requests_per_s']} bids/s "
          f"(ratio to trivial {figures['ratio_to_trivial']}), p50 {figures['hot_p50_ms']} ms, "
          f"p99 {figures['hot_p99_ms']} ms")
    print(f"with Idempotency-Key: {figures['keyed_accepted_bids_per_s']} accepted bids/s of "
          f"{figures['keyed_requests_per_s']} bids/s (ratio to unkeyed "
          f"{figures['keyed_ratio_to_hot']}), p50 {figures['keyed_p50_ms']} ms, p99 "
          f"{figures['keyed_p99_ms']} ms; {figures['keyed_retries_mismatched']} of "
          f"{figures['keyed_retries_sent']} retries answered differently")
    print(f"service CPU per request: trivial {figures['trivial_service_cpu_us']} µs, "
          f"hot bid {figures['hot_service_cpu_us']} µs")
    print(f"paced at 80 %: {figures['paced_requests_per_s']} bids/s, p50 "
          f"{figures['paced_p50_ms']} ms, p99 {figures['paced_p99_ms']} ms")
    print(f"1,000 auctions: {figures['many_accepted_bids_per_s']} accepted bids/s, p50 "
          f"{figures['many_p50_ms']} ms, p99 {figures['many_p99_ms']} ms")
    print(f"accepted answers missing from the bids table: "
          f"{figures['accepted_answers_missing_from_db']}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
