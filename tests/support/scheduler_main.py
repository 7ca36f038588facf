"""A deadline scheduler in a process of its own, for tests that kill it: ``python -m
tests.support.scheduler_main DATABASE_URL NAME``.

It fires deadlines of kind ``KIND`` with ``recorder(NAME)`` on the system clock and prints
``ready`` once it listens for NOTIFY. A deadline whose payload is ``{"hold": S, "holder": NAME}``
makes this process's handler, after writing its effect, print ``holding <key>`` and sleep S
seconds inside the still-open transaction (a window for a test to kill the process in).
"""

from __future__ import annotations

import asyncio
import sys

from shared.clock import SystemClock
from shared.context import Tx
from shared.db import create_pool
from shared.scheduler import Deadline, Handler, Scheduler

KIND = "test.effect"

# Every firing leaves a row, so tests can count effects (and who caused them).
EFFECTS_TABLE = """
CREATE TABLE IF NOT EXISTS effects (
    n      bigserial PRIMARY KEY,
    kind   text NOT NULL,
    key    text NOT NULL,
    by     text NOT NULL,
    due_at timestamptz NOT NULL
)"""


def recorder(by: str) -> Handler:
    async def handle(tx: Tx, deadline: Deadline) -> None:
        await tx.conn.execute(
            "INSERT INTO effects (kind, key, by, due_at) VALUES ($1, $2, $3, $4)",
            deadline.kind, deadline.key, by, deadline.due_at,
        )
        payload = deadline.payload or {}
        hold = payload.get("hold")
        if hold and payload.get("holder") == by:
            print(f"holding {deadline.key}", flush=True)
            await asyncio.sleep(hold)

    return handle


async def main(url: str, name: str) -> None:
    pool = await create_pool(url, min_size=1, max_size=4)
    scheduler = Scheduler(pool, url, SystemClock(), {KIND: recorder(name)}, service=name,
                          poll_interval=0.5)
    task = asyncio.create_task(scheduler.run())
    await scheduler.ready.wait()
    print("ready", flush=True)
    await task


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
