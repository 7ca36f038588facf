"""The bid engine, the auction's handler runtime: one writer per auction, commands applied in
order in memory, appended in batches.

Every auction this process owns has an actor: a task with a queue. The actor takes all the
commands waiting (up to ``max_batch``; the commands of :mod:`services.auction.domain.commands`),
applies them one after another to the in-memory state (each by its step in
:data:`services.auction.handlers.auctions.STEPS`; the pure domain decides), writes the whole
batch in one transaction (accepted bids, derived columns, the commands' own rows, the moved
close deadline, the claimed Idempotency-Keys with their answers, and the events published in
its :class:`~shared.context.Tx`, flushed to the outbox), and only then answers the callers.
A row lock per bid would cap a hot auction near 1.5k bids/s on two cores; one commit for many
bids does not.

Group commit: the actors do not write their batches themselves. Each hands its batch, applied
in memory, to the engine's :class:`GroupCommit`, which writes the batches of every auction
waiting in one transaction (one UPDATE of the auction rows, one INSERT of the bids, one outbox
insert, one commit and one flush of the log) — so bids spread over a thousand auctions cost
what bids on one hot auction cost. A batch that spoils the group (a key answered before, a
failing write) rolls it back; each batch is then written alone, so only its own callers see
the failure.

Idle writers are evicted: an actor without a command for ``idle`` gives its lease back and is
dropped from memory; the next command rebuilds it from the rows. Memory follows the auctions
being bid on, not the auctions open.

Ownership: a process owns an auction while it holds its lease; each batch is fenced by the
lease's epoch, so a process that lost its lease cannot append (its batch fails and its actor
stops). Another process takes over after the lease lapses and rebuilds the state from the rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import asyncpg

from services.auction.domain.auction import Auction
from services.auction.domain.bidding import Bid
from services.auction.domain.commands import AuctionCommand, Registration
from services.auction.domain.errors import OwnedElsewhere, OwnershipLost, UnknownAuction
from services.auction.handlers.auctions import CLOSE_DEADLINE, STEPS, Step
from services.auction.metrics import BATCH_SIZE, BID_SECONDS, EXTENSIONS, OWNED
from services.auction.store import auctions as store
from shared.clock import Clock
from shared.context import Tx
from shared.db import database_unavailable
from shared.events.base import Event
from shared.idempotency import (
    Answer,
    IdempotencyKeyInProgress,
    Once,
    is_definite,
    remember_many,
    stored,
)
from shared.outbox import OutboxWriter
from shared.scheduler import schedule

log = logging.getLogger(__name__)

Render = Callable[[Any], Answer]
"""How a keyed command's result is answered over HTTP (stored with the batch)."""


@dataclass
class _Pending:
    command: AuctionCommand
    future: asyncio.Future
    once: Once | None = None
    render: Render | None = None
    arrived: float = field(default_factory=lambda: asyncio.get_running_loop().time())

    def answer(self, outcome: Step | BaseException) -> Answer | None:
        """The answer to store for a keyed command; None if there is none to keep."""
        if self.once is None:
            return None
        if isinstance(outcome, BaseException):
            return self.once.refusal(outcome) if is_definite(outcome) else None
        assert self.render is not None
        return self.render(outcome.result)


_RETIRE = object()
"""Put in a writer's queue: the writer ends (see :meth:`_Actor.retire`)."""


class _KeysTaken(Exception):
    """Some keys of the batch were answered before (by another process or auction): the
    batch is rolled back and applied again without them."""

    def __init__(self, taken: set[tuple[str, str]]) -> None:
        super().__init__(f"{len(taken)} idempotency keys taken")
        self.taken = taken


class _Actor:
    def __init__(self, engine: BidEngine, state: Auction, epoch: int,
                 numbers: dict[str, int]) -> None:
        self.engine = engine
        self.state = state
        self.epoch = epoch
        self.numbers = numbers
        """Bid numbers of the bidders known to this writer (what the live view shows)."""
        self.queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self.running: set[tuple[str, str]] = set()
        """Idempotency keys of the commands queued or being written."""
        self.busy = False
        self.last_used = asyncio.get_running_loop().time()
        self.task = asyncio.create_task(self._run(), name=f"auction-{state.id}")

    def put(self, pending: _Pending) -> None:
        once = pending.once
        if once is not None:
            claim = (once.scope, once.key)
            if claim in self.running:
                raise IdempotencyKeyInProgress(once.key)
            self.running.add(claim)
            pending.future.add_done_callback(lambda _: self.running.discard(claim))
        self.queue.put_nowait(pending)

    def retire(self) -> None:
        """Stop once the queue is empty (evicted: no command can reach this writer any more).
        Ended this way rather than cancelled, the task keeps no exception whose traceback
        holds the writer: its memory is freed at once, without waiting for a full collection."""
        self.queue.put_nowait(_RETIRE)  # type: ignore[arg-type]

    async def _run(self) -> None:
        while True:
            first = await self.queue.get()
            if first is _RETIRE:
                return
            batch = [first]
            while len(batch) < self.engine.max_batch and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                await self._process(batch)
            except Exception as exc:
                # The lease is lost, or the database went away in mid-batch (whose commit may
                # or may not have happened): the state in memory can no longer be trusted.
                # Answer everyone waiting and step aside; the next command rebuilds the
                # state from the rows.
                if not isinstance(exc, OwnershipLost):
                    log.warning("the writer of auction %s stops: %r", self.state.id, exc)
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(exc)
                self.engine._forget(self.state.id, self)
                self._fail_waiting(exc)
                return

    def _fail_waiting(self, exc: Exception) -> None:
        while not self.queue.empty():
            p = self.queue.get_nowait()
            if not p.future.done():
                p.future.set_exception(exc)

    async def _learn_qualifications(self, batch: list[_Pending]) -> None:
        """Deposits are confirmed by events that any process may consume; the writer reads a
        bidder's qualification from the rows the first time that bidder shows up."""
        state = self.state
        unknown = {b for p in batch if (b := getattr(p.command, "bidder_id", None))
                   and b not in state.qualified}
        if not unknown:
            return
        async with self.engine.pool.acquire() as conn:
            found = await store.qualified_among(conn, state.id, sorted(unknown))
        if found:
            self.numbers.update(found)
            self.state = replace(state, registered=state.registered | set(found),
                                 qualified=state.qualified | set(found))

    async def _process(self, batch: list[_Pending]) -> None:
        self.busy = True
        try:
            await self._learn_qualifications(batch)
            while batch:
                batch = await self._write(batch)
        finally:
            self.busy = False
            self.last_used = asyncio.get_running_loop().time()

    def _apply(self, batch: list[_Pending]) -> _Unit:
        """Apply ``batch`` in order to the state in memory (the pure domain decides each step)."""
        now = self.engine.clock.now()
        before = self.state
        state = before
        steps: list[tuple[_Pending, Step | BaseException]] = []
        for p in batch:
            try:
                step = STEPS[type(p.command)](state, p.command, now)
            except Exception as exc:  # a refused command (a Problem): answer it, go on
                steps.append((p, exc))
                continue
            state = step.state
            steps.append((p, step))
        unit = _Unit(self, before, state, steps,
                     new_bids=state.ladder.since(before.ladder.count),
                     done=asyncio.get_running_loop().create_future())
        # Keyed commands: claimed and answered in the same transaction.
        for i, (p, s) in enumerate(steps):
            if p.once is not None and (a := p.answer(s)) is not None:
                unit.answers[i] = a
        return unit

    async def _write(self, batch: list[_Pending]) -> list[_Pending]:
        """Apply ``batch`` and have it written (with other auctions' batches), then answer it;
        returns what is left to apply again (nothing, unless some of its keys were taken)."""
        unit = self._apply(batch)
        try:
            await self.engine.group.write(unit)
        except OwnershipLost:
            raise
        except _KeysTaken as exc:
            async with self.engine.pool.acquire() as conn:
                return await self._answer_taken(conn, batch, exc.taken)
        except Exception as exc:
            if database_unavailable(exc):
                raise
            log.exception("writing a batch of auction %s failed", self.state.id)
            for p, _ in unit.steps:
                if not p.future.done():
                    p.future.set_exception(exc)
            return []  # the in-memory state stays as it was before the batch
        state = self.state = unit.state
        steps, answers = unit.steps, unit.answers
        for _, s in steps:
            if isinstance(s, Step) and isinstance(s.result, Registration):
                self.numbers[s.result.bidder_id] = s.result.number
        if state.ends_at != unit.before.ends_at and state.closed_at is None:
            EXTENSIONS.inc()
        done = asyncio.get_running_loop().time()
        BATCH_SIZE.observe(len(batch))
        for i, (p, s) in enumerate(steps):
            BID_SECONDS.observe(done - p.arrived)
            if p.future.done():
                continue
            if i in answers:
                p.future.set_result(answers[i])
            elif isinstance(s, BaseException):
                p.future.set_exception(s)
            else:
                p.future.set_result(s.result)
        self.engine._notify(state, unit.new_bids, self.numbers)
        return []

    async def _answer_taken(self, conn: asyncpg.Connection, batch: list[_Pending],
                            taken: set[tuple[str, str]]) -> list[_Pending]:
        """Answer the commands whose keys were used before (their first answer, or 422 for
        another request), and give back the others to apply again."""
        again = []
        for p in batch:
            if p.once is None or (p.once.scope, p.once.key) not in taken:
                again.append(p)
                continue
            try:
                first = await stored(conn, p.once)
            except Exception as exc:  # IdempotencyKeyReused
                p.future.set_exception(exc)
                continue
            if first is None:  # its writer rolled back meanwhile: apply it as new
                again.append(p)
            else:
                p.future.set_result(first)
        return again


@dataclass(eq=False)
class _Unit:
    """One auction's batch, applied in memory, waiting to be written."""

    actor: _Actor
    before: Auction
    state: Auction
    steps: list[tuple[_Pending, Step | BaseException]]
    new_bids: tuple[Bid, ...]
    done: asyncio.Future
    """Resolved once the batch is durable; its exception if it was not written."""
    answers: dict[int, Answer] = field(default_factory=dict)
    """The answers stored for the batch's keyed commands, by their place in the batch."""

    @property
    def events(self) -> list[Event]:
        return [e for _, s in self.steps if isinstance(s, Step) for e in s.events]

    def keyed(self) -> list[tuple[Once, Answer]]:
        return [(p.once, self.answers[i]) for i, (p, _) in enumerate(self.steps)
                if p.once is not None and i in self.answers]


class GroupCommit:
    """Writes the batches of many auctions in one transaction.

    ``lanes`` transactions may be open at once; each takes every batch waiting when it
    starts (up to ``max_units``). A process writes one batch per auction at a time, so no
    two batches of a group touch the same auction and events stay in each auction's order.
    """

    def __init__(self, pool: asyncpg.Pool, outbox: OutboxWriter, clock: Clock, *,
                 lease: timedelta, lanes: int = 2, max_units: int = 512) -> None:
        self.pool = pool
        self.lease = lease
        self.outbox = outbox
        self.clock = clock
        self.max_units = max_units
        self.lanes = lanes
        self._queue: asyncio.Queue[_Unit] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []

    async def write(self, unit: _Unit) -> None:
        """Queue the batch; returns once it is durable, raises why it was not written."""
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._lane(), name=f"group-commit-{i}")
                           for i in range(self.lanes)]
        self._queue.put_nowait(unit)
        await unit.done

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []

    async def _lane(self) -> None:
        queue = self._queue
        while True:
            units = [await queue.get()]
            while len(units) < self.max_units and not queue.empty():
                units.append(queue.get_nowait())
            await self._commit(units)
            del units  # not held while waiting: an evicted writer is freed at once

    async def _commit(self, units: list[_Unit]) -> None:
        try:
            async with self.pool.acquire() as conn:
                if len(units) > 1:
                    try:
                        await self._write(conn, units)
                        return
                    except Exception as exc:
                        if database_unavailable(exc):
                            raise
                        # One batch spoiled the group (all of it rolled back): write each
                        # alone, so that only its own callers see its failure.
                for u in units:
                    try:
                        await self._write(conn, [u])
                    except Exception as exc:
                        if database_unavailable(exc):
                            raise
                        if not u.done.done():
                            u.done.set_exception(exc)
        except BaseException as exc:
            for u in units:
                if not u.done.done():
                    u.done.set_exception(exc)
            if not isinstance(exc, Exception):
                raise

    async def _write(self, conn: asyncpg.Connection, units: list[_Unit]) -> None:
        """One transaction for ``units``: the fenced auction rows and their bids, the
        commands' own rows, the events, the moved close deadlines and the keyed answers."""
        tx = Tx(conn, self.clock)
        async with conn.transaction():
            owned = await store.append_batches(
                conn, [(u.state, u.actor.epoch, u.new_bids) for u in units],
                self.clock.now() + self.lease)
            live = [u for u in units if u.state.id in owned]
            for u in live:
                for _, s in u.steps:
                    if isinstance(s, Step) and s.write is not None:
                        await s.write(tx)
                tx.publish(*u.events)
            await tx.flush(self.outbox)
            for u in live:
                state = u.state
                if state.ends_at != u.before.ends_at and state.closed_at is None:
                    await schedule(conn, CLOSE_DEADLINE, str(state.id), state.ends_at)
            keyed = [k for u in live for k in u.keyed()]
            if keyed and (taken := await remember_many(conn, keyed)):
                raise _KeysTaken(taken)
        for u in units:
            if u.done.done():  # its writer was stopped meanwhile
                continue
            if u in live:
                u.done.set_result(None)
            else:
                u.done.set_exception(
                    OwnershipLost(detail=f"Auction {u.state.id} is written elsewhere now."))


@dataclass(eq=False)
class _Opening:
    """The lock that lets one task rebuild an auction's writer, while anyone waits on it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class BidEngine:
    def __init__(
        self,
        pool: asyncpg.Pool,
        outbox: OutboxWriter,
        clock: Clock,
        *,
        owner: str | None = None,
        url: str | None = None,
        lease: timedelta = timedelta(seconds=10),
        max_batch: int = 1024,
        idle: timedelta = timedelta(minutes=1),
        commit_lanes: int = 2,
    ) -> None:
        self.pool = pool
        self.outbox = outbox
        self.clock = clock
        self.owner = owner or f"auction-{uuid.uuid4().hex[:12]}"
        self.url = url
        """Where other processes reach this one (see services.auction.routes.forwarding)."""
        self.lease = lease
        self.max_batch = max_batch
        self.idle = idle
        """How long a writer stays in memory without a command (see :meth:`evict_idle`)."""
        self.group = GroupCommit(pool, outbox, clock, lease=lease, lanes=commit_lanes)
        self._actors: dict[uuid.UUID, _Actor] = {}
        self._opening: dict[uuid.UUID, _Opening] = {}
        self._watchers: dict[uuid.UUID, set[asyncio.Queue]] = {}
        self.watch_queue_size = 1000
        """Bids a live-view reader may lag behind before its queue drops some."""

    # -- commands ---------------------------------------------------------------------------
    async def run(self, auction_id: uuid.UUID, command: AuctionCommand,
                  once: Once | None = None, render: Render | None = None) -> Any:
        """Apply ``command`` in order with every other command on the auction; returns its
        result once the batch holding it is durable.

        With ``once`` (a keyed request) the result is the :class:`Answer` ``render`` makes of
        it, stored with the batch — or the answer stored before for that key. A command
        refused with a definite problem is answered, not raised, then."""
        actor = await self._actor(auction_id)
        future = asyncio.get_running_loop().create_future()
        actor.put(_Pending(command, future, once, render))
        return await future

    async def submit(self, auction_id: uuid.UUID, command: AuctionCommand) -> asyncio.Future:
        """Queue ``command`` without waiting for it; the future resolves when it is durable."""
        actor = await self._actor(auction_id)
        future = asyncio.get_running_loop().create_future()
        actor.queue.put_nowait(_Pending(command, future))
        return future

    async def state(self, auction_id: uuid.UUID) -> Auction:
        return (await self._actor(auction_id)).state

    async def view(self, auction_id: uuid.UUID) -> tuple[Auction, Mapping[str, int]]:
        """The state and the bid numbers of its bidders, as this writer holds them."""
        actor = await self._actor(auction_id)
        return actor.state, actor.numbers

    # -- ownership --------------------------------------------------------------------------
    async def _actor(self, auction_id: uuid.UUID) -> _Actor:
        actor = self._actors.get(auction_id)
        if actor is not None:
            return actor
        opening = self._opening.setdefault(auction_id, _Opening())
        opening.users += 1
        try:
            async with opening.lock:
                return self._actors.get(auction_id) or await self._open(auction_id)
        finally:
            opening.users -= 1
            if not opening.users:
                del self._opening[auction_id]

    async def _open(self, auction_id: uuid.UUID) -> _Actor:
        """Take the auction's lease and rebuild its state from the rows."""
        async with self.pool.acquire() as conn, conn.transaction():
            epoch = await store.claim(conn, auction_id, self.owner, self.lease,
                                      self.clock.now(), self.url)
            if epoch is None:
                owner = await store.current_owner(conn, auction_id)
                if owner is None:
                    raise UnknownAuction(detail=f"No auction {auction_id}.")
                raise OwnedElsewhere(detail=f"Auction {auction_id} is written by "
                                     f"{owner['owner']}; send the bid there.",
                                     owner=owner["owner"]).at(owner["owner_url"])
            loaded = await store.load_with_numbers(conn, auction_id)
        assert loaded is not None
        state, numbers = loaded
        actor = _Actor(self, state, epoch, numbers)
        self._actors[auction_id] = actor
        OWNED.set(len(self._actors))
        log.debug("%s took auction %s (epoch %d, %d bids)", self.owner, auction_id, epoch,
                  state.ladder.count)
        return actor

    def _forget(self, auction_id: uuid.UUID, actor: _Actor) -> None:
        if self._actors.get(auction_id) is actor:
            del self._actors[auction_id]
            OWNED.set(len(self._actors))

    async def renew_leases(self) -> None:
        """Keep the leases of the auctions this process writes; drop the ones it lost."""
        held = {aid: a.epoch for aid, a in self._actors.items()}
        async with self.pool.acquire() as conn:
            lost = await store.renew(conn, self.owner, held, self.lease, self.clock.now())
        for aid in lost:
            actor = self._actors.get(aid)
            if actor is not None and actor.epoch == held[aid]:  # not one rebuilt meanwhile
                log.warning("%s lost auction %s", self.owner, aid)
                actor.task.cancel()
                actor._fail_waiting(OwnershipLost(detail=f"Auction {aid} moved."))
                self._forget(aid, actor)

    async def evict_idle(self) -> int:
        """Drop the writers that have had no command for ``idle`` and give their leases back
        (fenced by epoch: a writer rebuilt meanwhile keeps its own); the number dropped."""
        horizon = asyncio.get_running_loop().time() - self.idle.total_seconds()
        idle = [a for a in self._actors.values()
                if not a.busy and a.queue.empty() and a.last_used < horizon]
        for a in idle:
            a.retire()
            self._forget(a.state.id, a)
        if idle:
            async with self.pool.acquire() as conn:
                await store.release_epochs(conn, self.owner, {a.state.id: a.epoch for a in idle})
            log.debug("%s evicted %d idle auction writers", self.owner, len(idle))
        return len(idle)

    async def keep_leases(self) -> None:
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            try:
                await self.evict_idle()
                await self.renew_leases()
            except Exception:
                log.exception("renewing auction leases failed")

    async def stop(self, release: bool = True) -> None:
        """Stop every writer; hand the auctions back at once unless this is a crash test."""
        actors = list(self._actors.values())
        for a in actors:
            a.task.cancel()
        for a in actors:
            with contextlib.suppress(asyncio.CancelledError):
                await a.task
        await self.group.stop()
        if release and actors:
            async with self.pool.acquire() as conn:
                await store.release(conn, self.owner, [a.state.id for a in actors])
        self._actors.clear()
        OWNED.set(0)

    # -- live view --------------------------------------------------------------------------
    def watch(self, auction_id: uuid.UUID) -> asyncio.Queue:
        """A queue of ``(bid, bid number, end)`` for each bid accepted from now on. A queue
        that is full (its reader is slow) drops bids; the reader sees the gap in the
        sequence and reads the missing bids from the table."""
        q: asyncio.Queue = asyncio.Queue(maxsize=self.watch_queue_size)
        self._watchers.setdefault(auction_id, set()).add(q)
        return q

    def unwatch(self, auction_id: uuid.UUID, q: asyncio.Queue) -> None:
        watchers = self._watchers.get(auction_id)
        if watchers is not None:
            watchers.discard(q)
            if not watchers:
                del self._watchers[auction_id]

    def _notify(self, state: Auction, new_bids: tuple[Bid, ...],
                numbers: Mapping[str, int]) -> None:
        for q in self._watchers.get(state.id, ()):
            for b in new_bids:
                with contextlib.suppress(asyncio.QueueFull):
                    q.put_nowait((b, numbers.get(b.bidder_id), state.ends_at))
