"""The whole embedded default (Kafka + PostgreSQL), or the external parts named in the env.

`techex stack up`, `techex up` and the test suite all come through here, so what the tests run
against is what a newcomer runs.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from shared.kafka import dlq_topic, ensure_topics, wait_until_ready
from shared.settings import CommonSettings
from techex.stack.kafka import EmbeddedKafka, running_nodes
from techex.stack.postgres import EmbeddedPostgres
from techex.stack.process import StackError

SERVICES = ("listing", "auction", "settlement", "registry", "records")
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Ports:
    kafka: int
    controller: int
    postgres: int

    def shifted(self, offset: int) -> Ports:
        return Ports(self.kafka + offset, self.controller + offset, self.postgres + offset)


def port_offset(env: Mapping[str, str] | None = None) -> int:
    """``TECHEX_PORT_OFFSET`` moves every embedded port, so two checkouts can run side by side."""
    return int((os.environ if env is None else env).get("TECHEX_PORT_OFFSET", "0"))


PROFILES = {
    "dev": Ports(kafka=19092, controller=19093, postgres=15432),
    "test": Ports(kafka=29092, controller=29093, postgres=25432),
}
NODE_SPACING = 10
"""Node *i* of a profile's Kafka cluster listens ``NODE_SPACING·(i − 1)`` above the profile's
broker and controller ports (dev, three brokers: 19092, 19102, 19112)."""


def kafka_ports(ports: Ports, brokers: int) -> list[tuple[int, int]]:
    """(broker, controller) port of each node of a profile's Kafka of ``brokers`` nodes."""
    return [(ports.kafka + NODE_SPACING * i, ports.controller + NODE_SPACING * i)
            for i in range(brokers)]


def run_sync(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine to completion from sync code, even when a loop runs in this thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def default_topics(settings: CommonSettings) -> list[str]:
    from shared.events import all_event_types

    aggregates = {event.aggregate for event in all_event_types()}
    topics = [settings.topic(a) for a in aggregates]
    return topics + [dlq_topic(t) for t in topics]


class Stack:
    """A profile's stack. ``brokers``: the embedded Kafka's node count (1, or 3 for a cluster
    that rides out the loss of a node); unset, the count of what runs (see running_nodes)."""

    def __init__(self, profile: str = "dev", env: Mapping[str, str] | None = None,
                 brokers: int | None = None) -> None:
        self.env = dict(os.environ if env is None else env)
        self.profile = profile
        ports = PROFILES[profile].shifted(port_offset(self.env))
        base = Path(self.env.get("TECHEX_HOME", REPO / ".techex"))
        self.home = base / profile
        self.brokers = brokers or running_nodes(self.home) or 1
        common = CommonSettings()
        self.kafka = None if "KAFKA_BOOTSTRAP_SERVERS" in self.env else EmbeddedKafka(
            self.home, kafka_ports(ports, self.brokers), common.topic_partitions,
            heap="768m" if self.brokers == 1 else "512m",
        )
        self.settings = common.model_copy(update={"kafka_bootstrap_servers": self.env.get(
            "KAFKA_BOOTSTRAP_SERVERS", self.kafka.bootstrap if self.kafka else "")})
        self.external_db = {
            s: self.env[f"{s.upper()}_DATABASE_URL"]
            for s in SERVICES if f"{s.upper()}_DATABASE_URL" in self.env
        }
        needs_pg = len(self.external_db) < len(SERVICES) or "TECHEX_DATABASE_ADMIN_URL" in self.env
        self.postgres = EmbeddedPostgres(self.home, ports.postgres) if needs_pg else None

    @property
    def bootstrap(self) -> str:
        return self.settings.kafka_bootstrap_servers

    def database_url(self, service: str) -> str:
        if service in self.external_db:
            return self.external_db[service]
        assert self.postgres is not None
        return self.postgres.url(f"techex_{service}")

    def admin_database_url(self) -> str:
        """A URL with the right to create databases (tests make throw-away ones)."""
        if "TECHEX_DATABASE_ADMIN_URL" in self.env:
            return self.env["TECHEX_DATABASE_ADMIN_URL"]
        assert self.postgres is not None, "set TECHEX_DATABASE_ADMIN_URL for an external server"
        return self.postgres.url("postgres")

    def up(self, log=print) -> bool:
        """Bring up what is embedded, create databases and topics; True if anything started."""
        started = False
        running = running_nodes(self.home)
        if self.kafka and running not in (None, self.brokers):
            raise StackError(
                f"the {self.profile} profile's Kafka runs with {running} node(s), not "
                f"{self.brokers}: stop it first (`bin/techex stack down --profile {self.profile}`)."
            )
        if self.postgres:
            started |= self.postgres.up(log)
        if self.kafka:
            started |= self.kafka.up(log)
        run_sync(self._prepare())
        return started

    async def _prepare(self) -> None:
        await wait_until_ready(self.bootstrap, timeout=90,
                               brokers=len(self.kafka.nodes) if self.kafka else 1)
        await ensure_topics(self.bootstrap, default_topics(self.settings),
                            self.settings.topic_partitions, self.settings.topic_replication)
        if self.postgres:
            conn = await asyncpg.connect(self.postgres.url("postgres"))
            try:
                for service in SERVICES:
                    if service not in self.external_db:
                        await create_database(conn, f"techex_{service}")
            finally:
                await conn.close()

    def down(self) -> None:
        if self.kafka:
            self.kafka.down()
        if self.postgres:
            self.postgres.down()

    def status(self) -> dict[str, str]:
        out = {}
        if self.kafka:
            nodes = "" if self.brokers == 1 else f", {self.brokers} nodes"
            out["kafka"] = (f"{'up' if self.kafka.running() else 'down'} {self.bootstrap} "
                            f"(embedded{nodes})")
        else:
            out["kafka"] = f"external {self.bootstrap}"
        if self.postgres:
            state = "up" if self.postgres.running() else "down"
            out["postgres"] = (f"{state} 127.0.0.1:{self.postgres.port} (embedded, "
                               f"{self.postgres.data_dir})")
        for service in SERVICES:
            out[f"db.{service}"] = self.database_url(service)
        return out

    def service_env(self) -> dict[str, str]:
        """Environment that points a service process at this stack."""
        env = {"KAFKA_BOOTSTRAP_SERVERS": self.bootstrap}
        for service in SERVICES:
            env[f"{service.upper()}_DATABASE_URL"] = self.database_url(service)
        return env


async def create_database(conn: asyncpg.Connection, name: str, template: str | None = None) -> bool:
    exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
    if exists:
        return False
    tmpl = f' TEMPLATE "{template}"' if template else ""
    try:
        await conn.execute(f'CREATE DATABASE "{name}"{tmpl}')
    except asyncpg.DuplicateDatabaseError:
        return False
    return True
