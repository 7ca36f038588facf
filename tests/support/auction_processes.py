"""Auction-service processes for end-to-end tests: start, kill, stop; an auction open right now.

A process is ``python -m techex serve auction --port P`` with its environment pointed at a test
database, the test stack's Kafka and the test's own topic prefix, as a deployment runs it.
Processes are started from the test's (main) thread and, on Linux, die with the test process;
a :class:`Fleet` stops whatever is still running when the test ends, however it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.auction.domain.auction import Auction, AuctionRules, AuctionTerms
from services.auction.store import auctions as store
from shared.db import migrate
from shared.scheduler import schedule
from shared.settings import CommonSettings
from techex.client import eventually as poll

REPO = Path(__file__).resolve().parents[2]
from services.auction.api import MIGRATIONS  # noqa: E402

CLOSE = "auction.close"
OWNED_ELSEWHERE = "urn:techex:problem:auction-owned-elsewhere"
BID_REJECTED = "urn:techex:problem:auction-bid-rejected"

START_PRICE = 1_000_000
INCREMENT = 10_000


# -- processes ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _parent_death_signal() -> Callable[[], None] | None:
    """On Linux, a child that gets SIGKILL when the test process dies (PR_SET_PDEATHSIG).

    prctl is looked up here, in the parent: between fork and exec the child only calls it.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def set_it() -> None:
        prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

    return set_it


_DIE_WITH_PARENT = _parent_death_signal()


@dataclass
class ServiceProcess:
    name: str
    port: int
    proc: subprocess.Popen
    log_path: Path
    _log: IO[bytes]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, the leases stay taken until they lapse."""
        if self.alive:
            self.proc.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        if self.alive:
            self.proc.send_signal(signal.SIGTERM)

    async def wait(self, timeout: float = 20) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                break
            await asyncio.sleep(0.05)
        self._log.close()
        return self.proc.returncode

    def reap(self) -> None:
        """Synchronous last resort (fixture teardown): make sure the process is gone."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def spawn(name: str, env: dict[str, str], log_dir: Path) -> ServiceProcess:
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    out = open(log_path, "ab")  # closed by wait() or reap()
    proc = subprocess.Popen(
        [sys.executable, "-m", "techex", "serve", "auction", "--port", str(port)],
        cwd=REPO, env={**os.environ, **env, "AUCTION_PORT": str(port)},
        stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        preexec_fn=_DIE_WITH_PARENT,
    )
    return ServiceProcess(name, port, proc, log_path, out)


@dataclass
class Fleet:
    """The auction-service processes of one test, all pointed at one database."""

    database_url: str
    common: CommonSettings
    log_dir: Path
    lease_seconds: float = 2.0
    processes: list[ServiceProcess] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return self.extra_env | {
            "AUCTION_DATABASE_URL": self.database_url,
            "AUCTION_LEASE_SECONDS": str(self.lease_seconds),
            "AUCTION_DB_POOL_MAX": "10",
            "KAFKA_BOOTSTRAP_SERVERS": self.common.kafka_bootstrap_servers,
            "TECHEX_TOPIC_PREFIX": self.common.topic_prefix,
            "TECHEX_TOPIC_PARTITIONS": str(self.common.topic_partitions),
            "TECHEX_JWT_SECRET": self.common.jwt_secret,
            "TECHEX_LOG_LEVEL": "INFO",
            # The bidders here bid as fast as the processes answer: no per-account bid limit.
            "TECHEX_BID_RATE": "0",
        }

    async def start(self, name: str, timeout: float = 90) -> ServiceProcess:
        """A new process, returned once its ``/readyz`` answers 200."""
        p = spawn(name, self.env(), self.log_dir)
        self.processes.append(p)
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=3) as client:
            while time.monotonic() < deadline:
                if not p.alive:
                    raise AssertionError(f"{name} exited with {p.proc.returncode} while "
                                         f"starting:\n{p.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(p.base + "/readyz")).status_code == 200:
                        return p
                await asyncio.sleep(0.2)
        raise AssertionError(f"{name} was not ready after {timeout:.0f}s:\n{p.log_tail()}")

    async def stop_all(self) -> None:
        for p in self.processes:
            p.terminate()
        for p in self.processes:
            await p.wait()

    def reap_all(self) -> None:
        for p in self.processes:
            p.reap()


# -- the auction, open for bidding now -----------------------------------------------------------

@dataclass(frozen=True)
class OpenAuction:
    id: uuid.UUID
    ends_at: datetime
    bidders: tuple[str, ...]
    start_price_fen: int = START_PRICE
    increment_fen: int = INCREMENT


async def open_auction(database_url: str, *, ends_in: timedelta, extension: timedelta,
                       bidders: Iterable[str]) -> OpenAuction:
    """Migrate the database, insert an auction open since a day, schedule its close, qualify
    ``bidders`` (their deposits confirmed).

    Bidding must last at least the rules' 24 hours (the writer re-checks the terms when it loads
    an auction), so bidding opened 25 hours before ``ends_at``; the announcement was 8 days
    before that (the 7 days' notice). ``extension`` is the anti-sniping window: a bid in it
    moves the end to the bid's time plus the window.
    """
    now = datetime.now(UTC)
    ends_at = now + ends_in
    starts_at = ends_at - timedelta(hours=25)
    terms = AuctionTerms(
        start_price_fen=START_PRICE, increment_fen=INCREMENT, deposit_ratio=Decimal("0.10"),
        announce_at=starts_at - timedelta(days=8), starts_at=starts_at, ends_at=ends_at,
        rules=AuctionRules(extension_window=extension))
    auction, _ = Auction.announce(terms, listing_id=uuid.uuid4(), seller_id="seller-hrb-ti",
                                  region="230102")
    bidders = tuple(bidders)
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn, *MIGRATIONS)
        async with conn.transaction():
            await store.insert_auction(conn, auction)
            await schedule(conn, CLOSE, str(auction.id), auction.ends_at)
            for b in bidders:
                assert await store.confirm_deposit(conn, auction.id, b, now)
    finally:
        await conn.close()
    return OpenAuction(auction.id, auction.ends_at, bidders)


async def query(database_url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def stored_bids(database_url: str, auction_id: uuid.UUID) -> list[asyncpg.Record]:
    return await query(database_url, "SELECT seq, bidder_id, amount_fen, at, automatic FROM bids"
                       " WHERE auction_id = $1 ORDER BY seq", auction_id)


async def auction_row(database_url: str, auction_id: uuid.UUID) -> asyncpg.Record:
    return (await query(database_url, "SELECT * FROM auctions WHERE id = $1", auction_id))[0]


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float, what: str) -> Any:
    """Poll ``check`` until it returns something truthy (returned), at most ``timeout`` s."""
    return await poll(check, what, timeout)


# -- bidding over HTTP ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Answer:
    """One bid request and what came of it (``status`` None: no answer, the connection broke)."""

    process: str
    bidder: str
    amount_fen: int
    status: int | None
    body: dict | None
    error: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status == 201

    @property
    def problem(self) -> str | None:
        return (self.body or {}).get("type") if self.status and self.status >= 400 else None


async def place_bid(client: httpx.AsyncClient, process: ServiceProcess, auction_id: uuid.UUID,
                    bidder: str, amount_fen: int, headers: dict) -> Answer:
    try:
        r = await client.post(f"{process.base}/auctions/{auction_id}/bids",
                              json={"amount_fen": amount_fen}, headers=headers)
    except httpx.TransportError as exc:
        return Answer(process.name, bidder, amount_fen, None, None, type(exc).__name__)
    try:
        body = r.json()
    except json.JSONDecodeError:
        body = {"raw": r.text}
    return Answer(process.name, bidder, amount_fen, r.status_code, body)


# -- what reached Kafka --------------------------------------------------------------------------

@dataclass(frozen=True)
class Record:
    topic: str
    type: str
    id: str
    subject: str
    data: dict


async def topic_records(common: CommonSettings, aggregates: Iterable[str]) -> list[Record]:
    """Every record of the topics ``<prefix>.<aggregate>``, read from the beginning to the end
    offsets of the moment."""
    consumer = AIOKafkaConsumer(bootstrap_servers=common.kafka_bootstrap_servers,
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        # The services create their topics with the common number of partitions.
        parts = [TopicPartition(common.topic(a), p) for a in aggregates
                 for p in range(common.topic_partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = await consumer.end_offsets(parts)
        out: list[Record] = []
        deadline = time.monotonic() + 60
        while True:
            behind = [tp for tp in parts if await consumer.position(tp) < end[tp]]
            if not behind:
                return out
            assert time.monotonic() < deadline, "reading the topics took over 60 s"
            batches = await consumer.getmany(*behind, timeout_ms=500)
            for tp, messages in batches.items():
                for m in messages:
                    if m.offset >= end[tp]:
                        continue
                    h = {k: v.decode() for k, v in m.headers if v is not None}
                    out.append(Record(tp.topic, h.get("ce_type", ""), h.get("ce_id", ""),
                                      h.get("ce_subject", ""), json.loads(m.value or b"{}")))
    finally:
        await consumer.stop()
