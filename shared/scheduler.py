"""Durable deadlines: kept in the service's database, fired exactly once with their effect.

``schedule`` and ``cancel`` run in the caller's transaction, so a deadline commits (or not) with
the state change that needs it. There is at most one pending deadline per ``(kind, key)``:
scheduling it again moves it, which is how anti-sniping extends an auction's end.

``Scheduler`` fires due deadlines. One database transaction per batch claims the due rows with
``FOR UPDATE SKIP LOCKED``, marks them fired and runs each one's handler on the same connection.
The effect and the fired mark therefore commit together or not at all: with several schedulers
on one database (the lock keeps their claims disjoint) and with a crash at any point (an
uncommitted claim is rolled back and its lock released), every deadline's effect happens exactly
once. If a handler raises, the batch is rolled back and done again with a savepoint per deadline
(as the consumer runner does with its batches): the failing one is rolled back to its savepoint,
the others carry on, and it is retried later with exponential backoff; after ``max_attempts`` it
is marked fired with its ``last_error`` ("dead") and logged.

The row is marked fired *before* its handler runs, so a handler may schedule its own
``(kind, key)`` again (an auction extended at the last moment): the new row is a fresh pending one.

A handler must do all its work on the connection it is given (publishing events through the
outbox on it too) and must not talk to the outside world directly: it may run more than once
(after a crash, or again in the careful pass), only its database effects are exactly once. Nor
may it commit or roll back the transaction (nested ``conn.transaction()`` blocks are savepoints
and fine). A handler also decides from
the aggregate's own state whether the deadline still applies: a bid that extends an auction at
the very moment the old end fires either commits first (the handler then sees the later end and
does nothing: the moved deadline fires later) or waits for the handler's transaction and finds
the auction closed.

All "now"s come from the ``Clock``: with a ``ManualClock`` tests call ``fire_due`` after moving
the clock instead of sleeping; with a ``SystemClock`` ``run`` sleeps until the next deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from prometheus_client import Counter, Gauge, Histogram

from shared.clock import Clock
from shared.context import Tx
from shared.db import database_unavailable
from shared.outbox import OutboxWriter

log = logging.getLogger(__name__)

CHANNEL = "deadlines"

DEADLINES_FIRED = Counter(
    "techex_deadlines_fired_total",
    "Deadline handler runs by outcome: ok (fired), retry (failed, due again later),"
    " dead (given up)",
    ["service", "kind", "outcome"],
)
DEADLINE_LATENESS = Histogram(
    "techex_deadline_lateness_seconds",
    "Time from a deadline's due_at to the attempt that fired it (the scheduler's clock)",
    ["service", "kind"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
DEADLINES_PENDING = Gauge(
    "techex_deadlines_pending", "Deadlines not fired yet (due or not)", ["service"]
)
DEADLINES_OVERDUE = Gauge(
    "techex_deadlines_overdue", "Pending deadlines whose due_at has passed", ["service"]
)


@dataclass(frozen=True, slots=True)
class Deadline:
    id: int
    kind: str
    key: str
    due_at: datetime
    payload: Any
    attempts: int  # failed attempts before this one (0 on the first firing)
    created_at: datetime


Handler = Callable[[Tx, Deadline], Awaitable[None]]
"""A deadline handler: works in the transaction context; what it publishes is sent with it."""

_COLUMNS = "id, kind, key, due_at, payload, attempts, created_at"

_SCHEDULE = """
WITH upserted AS (
    INSERT INTO deadlines (kind, key, due_at, payload) VALUES ($1, $2, $3, $4::jsonb)
    ON CONFLICT (kind, key) WHERE fired_at IS NULL
    DO UPDATE SET due_at = EXCLUDED.due_at, payload = EXCLUDED.payload,
                  attempts = 0, last_error = NULL
    RETURNING id)
SELECT pg_notify('deadlines', '') FROM upserted
"""

_CLAIM = f"""
SELECT {_COLUMNS} FROM deadlines
WHERE fired_at IS NULL AND due_at <= $1 AND kind = ANY($2::text[])
ORDER BY due_at, id
LIMIT $3
FOR UPDATE SKIP LOCKED
"""

# The common case in one statement: claim the due rows and mark them fired (handlers then run
# without savepoints). RETURNING gives new values, hence ``attempts - 1``.
_CLAIM_AND_MARK = """
WITH due AS (
    SELECT id FROM deadlines
    WHERE fired_at IS NULL AND due_at <= $1 AND kind = ANY($2::text[])
    ORDER BY due_at, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED)
UPDATE deadlines d SET fired_at = $1, attempts = d.attempts + 1, last_error = NULL
FROM due WHERE d.id = due.id
RETURNING d.id, d.kind, d.key, d.due_at, d.payload, d.attempts - 1 AS attempts, d.created_at
"""

_NEXT_DUE = "SELECT min(due_at) FROM deadlines WHERE fired_at IS NULL AND kind = ANY($1::text[])"
_NEXT_DUE_AFTER = _NEXT_DUE + " AND due_at > $2"

# When due rows exist but were all skipped (another scheduler or a rescheduling transaction holds
# them), look again after this long rather than spin on them.
_HELD_ELSEWHERE_WAIT = 0.05
_GAUGE_INTERVAL = 5.0


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("a deadline's time must be timezone-aware")
    return at


def _seconds(delta: timedelta) -> float:
    return max(0.0, delta.total_seconds())


def _deadline(row: asyncpg.Record) -> Deadline:
    payload = row["payload"]
    return Deadline(
        id=row["id"], kind=row["kind"], key=row["key"], due_at=row["due_at"],
        payload=json.loads(payload) if isinstance(payload, str) else payload,
        attempts=row["attempts"], created_at=row["created_at"],
    )


async def schedule(
    conn: asyncpg.Connection, kind: str, key: str, due_at: datetime, payload: Any = None
) -> None:
    """Schedule (or move, with its new payload) the pending deadline ``(kind, key)``.

    Runs in the caller's transaction; the NOTIFY that wakes sleeping schedulers is delivered
    when it commits (and coalesced to one per transaction).
    """
    await conn.execute(
        _SCHEDULE, kind, key, _aware(due_at), json.dumps({} if payload is None else payload)
    )


async def cancel(conn: asyncpg.Connection, kind: str, key: str) -> bool:
    """Drop the pending deadline ``(kind, key)``; False if there is none (or it already fired).

    No NOTIFY: a scheduler sleeping towards a cancelled deadline just finds nothing due.
    """
    deleted = await conn.fetchval(
        "DELETE FROM deadlines WHERE kind = $1 AND key = $2 AND fired_at IS NULL RETURNING true",
        kind, key,
    )
    return bool(deleted)


async def pending(conn: asyncpg.Connection, kind: str, key: str) -> Deadline | None:
    """The pending deadline ``(kind, key)``, if any."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM deadlines WHERE kind = $1 AND key = $2 AND fired_at IS NULL",
        kind, key,
    )
    return None if row is None else _deadline(row)


@dataclass(frozen=True, slots=True)
class _Outcome:
    deadline: Deadline
    outcome: str  # "ok" | "retry" | "dead"
    lateness: float = 0.0
    error: str | None = None
    retry_at: datetime | None = None


class Scheduler:
    """Fires the deadlines of ``handlers``' kinds in one service's database.

    Kinds without a handler are left alone (not dead-lettered): during a rolling deploy an older
    process does not give up on a kind only the newer code knows.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        database_url: str,
        clock: Clock,
        handlers: Mapping[str, Handler],
        *,
        service: str,
        batch: int = 100,
        poll_interval: float = 1.0,
        max_attempts: int = 8,
        retry_backoff: float = 1.0,
        max_backoff: float = 300.0,
        outbox: OutboxWriter | None = None,
    ) -> None:
        if batch < 1 or max_attempts < 1:
            raise ValueError("batch and max_attempts must be at least 1")
        self.pool = pool
        self.database_url = database_url
        self.clock = clock
        self.handlers = dict(handlers)
        self.service = service
        self.outbox = outbox or OutboxWriter(service)
        self.batch = batch
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        self.retry_backoff = retry_backoff
        self.max_backoff = max_backoff
        self._kinds = sorted(self.handlers)
        self._wake = asyncio.Event()
        self.ready = asyncio.Event()  # set while run() is listening for NOTIFY

    # -- the loop ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Fire deadlines until cancelled; reconnects and carries on after database failures."""
        while True:
            try:
                await self._run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("deadline scheduler of %s failed; retrying", self.service)
                await asyncio.sleep(1.0)
            finally:
                self.ready.clear()

    async def _run_once(self) -> None:
        # A dedicated connection LISTENs (pooled connections carry no session state) and answers
        # the "when is the next one" question; a dead connection surfaces as an error here.
        conn = await asyncpg.connect(self.database_url)
        try:
            await conn.add_listener(CHANNEL, self._notified)
            self.ready.set()
            last_gauges = float("-inf")
            while True:
                self._wake.clear()  # before looking, so a NOTIFY from now on is not missed
                claimed = await self.fire_due()
                if claimed >= self.batch:
                    continue  # more may be due right now
                if time.monotonic() - last_gauges >= _GAUGE_INTERVAL:
                    await self.update_gauges(conn)
                    last_gauges = time.monotonic()
                next_due = await conn.fetchval(_NEXT_DUE, self._kinds)
                if next_due is None:
                    delay = self.poll_interval
                else:
                    delay = (next_due - self.clock.now()).total_seconds()
                    if delay <= 0:
                        if claimed:
                            continue  # e.g. a handler rescheduled its key to now
                        delay = await self._held_elsewhere_delay(conn)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), min(delay, self.poll_interval))
        finally:
            with contextlib.suppress(Exception):
                await conn.close()

    async def _held_elsewhere_delay(self, conn: asyncpg.Connection) -> float:
        """Due rows exist but this scheduler could take none: another one (or a transaction
        moving them) holds them. Look again shortly, or when the next later one is due."""
        now = self.clock.now()
        later = await conn.fetchval(_NEXT_DUE_AFTER, self._kinds, now)
        if later is None:
            return _HELD_ELSEWHERE_WAIT
        return min(_HELD_ELSEWHERE_WAIT, max(0.0, (later - now).total_seconds()))

    def _notified(self, *_args: object) -> None:
        self._wake.set()

    async def update_gauges(self, conn: asyncpg.Connection | None = None) -> None:
        query = ("SELECT count(*), count(*) FILTER (WHERE due_at <= $1)"
                 " FROM deadlines WHERE fired_at IS NULL")
        executor = conn if conn is not None else self.pool
        count, overdue = await executor.fetchrow(query, self.clock.now())
        DEADLINES_PENDING.labels(self.service).set(count)
        DEADLINES_OVERDUE.labels(self.service).set(overdue)

    # -- firing --------------------------------------------------------------------------------

    async def fire_due(self) -> int:
        """Fire up to ``batch`` deadlines due by the clock's now, in one transaction.

        Returns how many due deadlines this call took: fired, put back for a retry, or given up.
        Rows another scheduler holds are skipped, not waited for.

        If a handler raises, the whole batch is rolled back and done again deadline by deadline,
        each in a savepoint; so handlers may run more than once, their database effects commit
        once. (Savepoints only then: no per-deadline round trips in the common case, and no
        batch of 100 subtransactions overflowing PostgreSQL's per-backend subxid cache.)
        """
        if not self._kinds:
            return 0
        outcomes = await self._fire_fast()
        if outcomes is None:
            outcomes = await self._fire_carefully()
        for o in outcomes:  # only what committed is counted and reported
            self._report(o)
        return len(outcomes)

    async def _fire_fast(self) -> list[_Outcome] | None:
        """Claim, mark and fire a batch in one transaction; None (nothing kept) if a handler
        raised."""
        now = self.clock.now()
        async with self.pool.acquire() as conn:
            try:
                async with conn.transaction():
                    rows = await conn.fetch(_CLAIM_AND_MARK, now, self._kinds, self.batch)
                    deadlines = sorted(map(_deadline, rows), key=lambda d: (d.due_at, d.id))
                    for deadline in deadlines:
                        await self._call(conn, deadline)
                    if deadlines:
                        # A handler that swallowed a database error leaves the transaction
                        # aborted, and COMMIT would then roll back without a word: ask first.
                        await conn.execute("SELECT 1")
            except Exception as exc:
                if conn.is_closed() or database_unavailable(exc):
                    raise  # the database is gone: nothing was committed, run() retries
                log.info("%s: a deadline handler failed (%s); firing the batch one by one",
                         self.service, type(exc).__name__)
                return None
        return [_Outcome(d, "ok", lateness=_seconds(now - d.due_at)) for d in deadlines]

    async def _fire_carefully(self) -> list[_Outcome]:
        outcomes: list[_Outcome] = []
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(_CLAIM, self.clock.now(), self._kinds, self.batch)
            for row in rows:
                outcomes.append(await self._fire(conn, _deadline(row)))
        return outcomes

    async def _call(self, conn: asyncpg.Connection, deadline: Deadline) -> None:
        tx = Tx(conn, self.clock)
        await self.handlers[deadline.kind](tx, deadline)
        await tx.flush(self.outbox)

    async def _fire(self, conn: asyncpg.Connection, deadline: Deadline) -> _Outcome:
        now = self.clock.now()
        # A savepoint of our own rather than a nested conn.transaction(): that one, when its
        # RELEASE fails (a handler swallowed a database error), leaves the batch aborted.
        await conn.execute("SAVEPOINT deadline")
        try:
            # Marked fired first: the handler may schedule the same (kind, key) again.
            await conn.execute(
                "UPDATE deadlines SET fired_at = $2, attempts = attempts + 1, last_error = NULL"
                " WHERE id = $1",
                deadline.id, now,
            )
            await self._call(conn, deadline)
            await conn.execute("RELEASE SAVEPOINT deadline")
            return _Outcome(deadline, "ok", lateness=_seconds(now - deadline.due_at))
        except Exception as exc:
            if conn.is_closed() or database_unavailable(exc):
                raise  # the database is gone, not the handler's fault: nothing was committed
            await conn.execute("ROLLBACK TO SAVEPOINT deadline; RELEASE SAVEPOINT deadline")
            error = f"{type(exc).__name__}: {exc}"[:4000]
            attempts = deadline.attempts + 1
            if attempts >= self.max_attempts:
                await conn.execute(
                    "UPDATE deadlines SET fired_at = $2, attempts = $3, last_error = $4"
                    " WHERE id = $1",
                    deadline.id, self.clock.now(), attempts, error,
                )
                return _Outcome(deadline, "dead", error=error)
            delay = min(self.max_backoff, self.retry_backoff * 2 ** (attempts - 1))
            retry_at = self.clock.now() + timedelta(seconds=delay)
            await conn.execute(
                "UPDATE deadlines SET due_at = $2, attempts = $3, last_error = $4 WHERE id = $1",
                deadline.id, retry_at, attempts, error,
            )
            return _Outcome(deadline, "retry", error=error, retry_at=retry_at)

    def _report(self, o: _Outcome) -> None:
        d = o.deadline
        DEADLINES_FIRED.labels(self.service, d.kind, o.outcome).inc()
        if o.outcome == "ok":
            DEADLINE_LATENESS.labels(self.service, d.kind).observe(o.lateness)
        elif o.outcome == "retry":
            log.warning("%s: deadline %s/%s failed (attempt %d of %d), retrying at %s: %s",
                        self.service, d.kind, d.key, d.attempts + 1, self.max_attempts,
                        o.retry_at.isoformat() if o.retry_at else "?", o.error)
        else:
            log.error("%s: deadline %s/%s (id %d) is dead after %d attempts: %s",
                      self.service, d.kind, d.key, d.id, d.attempts + 1, o.error)
