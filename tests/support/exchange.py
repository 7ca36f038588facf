"""The whole exchange for end-to-end tests: the four services as processes, started by the
same code as `techex up`, over the test stack's Kafka and PostgreSQL.

Each exchange has fresh databases, a topic prefix of its own and its own simulation clock (a
shift file, see :mod:`shared.clock`): a test moves the clock past a seven-day announcement and
the services' schedulers fire what fell due, as they would a week later. Calls go through the
product's own :class:`~techex.client.ExchangeClient`.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from shared.settings import CommonSettings
from techex.cli import start_services, stop_services, supervisor_for
from techex.client import ExchangeClient, eventually
from techex.stack.stack import SERVICES, Stack
from techex.supervisor import Supervisor
from tests.support.auction_processes import free_port


class Exchange(ExchangeClient):
    def __init__(self, stack: Stack, workdir: Path, databases: dict[str, str]) -> None:
        common = CommonSettings(kafka_bootstrap_servers=stack.bootstrap,
                                topic_prefix=f"e{uuid.uuid4().hex[:10]}", topic_partitions=2)
        super().__init__({s: free_port() for s in SERVICES}, common, workdir / "clock-shift")
        self.stack, self.workdir, self.databases = stack, workdir, databases
        self.procs: dict = {}
        self.extra_env: dict[str, str] = {}
        self.supervisor: Supervisor | None = None
        self.supervisor_error: BaseException | None = None
        self.said: list[str] = []
        self._stopping = threading.Event()
        self._supervising: threading.Thread | None = None

    @property
    def env(self) -> dict[str, str]:
        env = {"TECHEX_TOPIC_PREFIX": self.common.topic_prefix, "TECHEX_TOPIC_PARTITIONS": "2",
               "TECHEX_CLOCK_SHIFT_FILE": str(self.clock_file)}
        for s in SERVICES:
            env[f"{s.upper()}_PORT"] = str(self.ports[s])
            env[f"{s.upper()}_DATABASE_URL"] = self.databases[s]
        return env

    async def start(self, extra_env: dict[str, str] | None = None) -> None:
        self.extra_env = {**self.env, **(extra_env or {})}
        self.procs = await asyncio.to_thread(
            start_services, self.stack, self.workdir / "logs", self.extra_env)

    def supervise(self) -> Supervisor:
        """Watch the processes with the supervisor of `techex up`, in a thread, until
        :meth:`stop`; its console lines go to ``said``, a crash loop to ``supervisor_error``."""
        self.supervisor = supervisor_for(self.stack, self.workdir / "logs", self.procs,
                                         self.extra_env, say=self.said.append)

        def run() -> None:
            try:
                self.supervisor.run(self._stopping.is_set, interval=0.2)
            except BaseException as exc:
                self.supervisor_error = exc

        self._supervising = threading.Thread(target=run, name="supervisor", daemon=True)
        self._supervising.start()
        return self.supervisor

    @property
    def supervising(self) -> bool:
        return self._supervising is not None and self._supervising.is_alive()

    async def stop(self) -> None:
        await self.aclose()
        if self._supervising is not None:  # the supervisor stops the services it watches
            self._stopping.set()
            await asyncio.to_thread(self._supervising.join)
            self._supervising = None
        if self.procs:
            await asyncio.to_thread(stop_services, self.procs)
            self.procs = {}


async def wait_for(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 60) -> Any:
    return await eventually(check, what, timeout)
