"""The whole exchange for end-to-end tests: the four services as processes, started by the
same code as `techex up`, over the test stack's Kafka and PostgreSQL.

Each exchange has fresh databases, a topic prefix of its own and its own simulation clock (a
shift file, see :mod:`shared.clock`): a test moves the clock past a seven-day announcement and
the services' schedulers fire what fell due, as they would a week later. Calls go through the
product's own :class:`~techex.client.ExchangeClient`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from shared.settings import CommonSettings
from techex.cli import start_services, stop_services
from techex.client import ExchangeClient, eventually
from techex.stack.stack import SERVICES, Stack
from tests.support.auction_processes import free_port


class Exchange(ExchangeClient):
    def __init__(self, stack: Stack, workdir: Path, databases: dict[str, str]) -> None:
        common = CommonSettings(kafka_bootstrap_servers=stack.bootstrap,
                                topic_prefix=f"e{uuid.uuid4().hex[:10]}", topic_partitions=2)
        super().__init__({s: free_port() for s in SERVICES}, common, workdir / "clock-shift")
        self.stack, self.workdir, self.databases = stack, workdir, databases
        self.procs: dict = {}

    @property
    def env(self) -> dict[str, str]:
        env = {"TECHEX_TOPIC_PREFIX": self.common.topic_prefix, "TECHEX_TOPIC_PARTITIONS": "2",
               "TECHEX_CLOCK_SHIFT_FILE": str(self.clock_file)}
        for s in SERVICES:
            env[f"{s.upper()}_PORT"] = str(self.ports[s])
            env[f"{s.upper()}_DATABASE_URL"] = self.databases[s]
        return env

    async def start(self, extra_env: dict[str, str] | None = None) -> None:
        self.procs = await asyncio.to_thread(
            start_services, self.stack, self.workdir / "logs", {**self.env, **(extra_env or {})})

    async def stop(self) -> None:
        await self.aclose()
        if self.procs:
            await asyncio.to_thread(stop_services, self.procs)
            self.procs = {}


async def wait_for(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 60) -> Any:
    return await eventually(check, what, timeout)
