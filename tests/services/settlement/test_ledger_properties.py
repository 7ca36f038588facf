"""Property: whatever sequence of deposits, deals, payments, releases and defaults (refunds
included) runs against the real database, every entry balances, each account's balance is the
sum of its postings, and the ledger reconciles with the deposits and deals it records.

Hypothesis drives synchronous examples; each runs its steps on its own event loop in a worker
thread (the test session's loop is not running while a sync test body runs, but a thread keeps
the two apart for certain).
"""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import asyncpg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from services.settlement import handlers
from services.settlement.api import MIGRATIONS
from services.settlement.config import SettlementSettings, load_books
from services.settlement.domain.ledger import Account, Ledger, Line, Posting
from services.settlement.store import deals, deposits
from services.settlement.store import ledger as ledger_store
from shared.clock import ManualClock
from shared.context import Tx
from shared.db import migrate
from shared.events.auction import AuctionFailed, DealConcluded
from shared.problems import Problem
from shared.scheduler import Deadline
from techex.stack.stack import create_database
from tests.services.settlement.support import NOW, registered

BIDDERS = ("a-co", "b-co", "c-co")

amounts = st.integers(min_value=1, max_value=50_000_000)
steps = st.lists(st.one_of(
    st.tuples(st.just("deposit"), st.sampled_from(BIDDERS), amounts),
    st.tuples(st.just("deal"), st.sampled_from(BIDDERS), st.integers(1, 400_000_000)),
    st.tuples(st.just("pay"), amounts),
    st.tuples(st.just("pay-rest")),
    st.tuples(st.just("release")),
    st.tuples(st.just("time"), st.integers(1, 30)),
), min_size=1, max_size=14)


@pytest.fixture(scope="module")
def ledger_db(stack):
    """One migrated database for all examples (each example uses fresh procedure ids)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin_url = stack.admin_database_url()

    async def make() -> None:
        admin = await asyncpg.connect(admin_url)
        try:
            await create_database(admin, name)
        finally:
            await admin.close()
        conn = await asyncpg.connect(admin_url.rsplit("/", 1)[0] + "/" + name)
        try:
            await migrate(conn, *MIGRATIONS)
        finally:
            await conn.close()

    async def drop() -> None:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    _in_thread(make())
    yield admin_url.rsplit("/", 1)[0] + "/" + name
    _in_thread(drop())


def _in_thread(coro):
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _run(url: str, ops: list[tuple]) -> set[str]:
    clock = ManualClock(NOW)
    books = load_books(SettlementSettings(database_url=url))
    proc = uuid.uuid4()
    deal_id: uuid.UUID | None = None
    conn = await asyncpg.connect(url)
    try:
        for op in ops:
            try:
                async with conn.transaction():
                    tx = Tx(conn, clock)
                    match op:
                        case ("deposit", name, fen):
                            bidder = f"{name}@{proc.hex[:8]}"  # accounts of this example
                            await handlers.on_bidder_registered(tx, registered(proc, bidder, fen))
                            reg = await deposits.registration(conn, proc, bidder)
                            await handlers.confirm_deposit(tx, proc, bidder, reg["deposit_fen"],
                                                           None)
                        case ("deal", name, price):
                            if deal_id is None:
                                e = _deal(proc, f"{name}@{proc.hex[:8]}", price, clock)
                                await handlers.on_deal_concluded(tx, e, books)
                                deal_id = e.deal_id
                        case ("pay", fen) if deal_id:
                            await handlers.record_payment(tx, deal_id, fen, source="operator",
                                                          reference=None, books=books)
                        case ("pay-rest",) if deal_id:
                            d = await deals.row(conn, deal_id)
                            await handlers.record_payment(tx, deal_id, d["outstanding_fen"],
                                                          source="bank", reference="x",
                                                          books=books)
                        case ("release",):
                            await handlers.on_auction_failed(tx, _failed(proc))
                        case ("time", days):  # deadlines: overdue, then default
                            clock.advance(timedelta(days=days))
                            if deal_id:
                                due = _due(deal_id)
                                await handlers.on_payment_due(tx, due, books)
                                await handlers.on_grace_over(tx, due, books)
            except Problem:
                pass  # refused (overpayment, closed deal, …): rolled back, nothing posted
            await _check(conn)
        return {r["status"] for r in await conn.fetch(
            "SELECT status FROM deals WHERE deal_id = $1", deal_id)} if deal_id else set()
    finally:
        await conn.close()


def _failed(proc) -> AuctionFailed:
    return AuctionFailed(procedure_id=proc, listing_id=uuid.uuid4(), region="230102",
                         reason="no-bid", failed_at=NOW)


def _due(deal_id: uuid.UUID) -> Deadline:
    return Deadline(id=0, kind=handlers.OVERDUE, key=str(deal_id), due_at=NOW, payload=None,
                    attempts=0, created_at=NOW)


def _deal(proc, winner, price, clock) -> DealConcluded:
    return DealConcluded(deal_id=uuid.uuid5(proc, "deal"), procedure_id=proc,
                         listing_id=uuid.uuid4(), route="auction", region="230102",
                         seller_id="hit-university", buyer_id=winner, price_fen=price,
                         concluded_at=clock.now())


async def _check(conn: asyncpg.Connection) -> None:
    assert await ledger_store.unbalanced_entries(conn) == []
    rows = await conn.fetch("SELECT entry_id, account, debit_fen, credit_fen FROM lines"
                            " ORDER BY id")
    entries: dict[str, list[Line]] = {}
    for r in rows:
        entries.setdefault(r["entry_id"], []).append(
            Line(Account.parse(r["account"]), r["debit_fen"], r["credit_fen"]))
    ledger = Ledger(tuple(Posting(e, tuple(lines)) for e, lines in entries.items()))
    trial = await ledger_store.trial_balance(conn)
    assert sum(t["debit_fen"] for t in trial) == sum(t["credit_fen"] for t in trial)
    for t in trial:  # the database's balances are the domain ledger's replay of the postings
        assert t["debit_fen"] - t["credit_fen"] == ledger.balance(Account.parse(t["account"]))
    # the ledger reconciles with what the tables say is held and owed
    held = await conn.fetchval(
        "SELECT coalesce(sum(amount_fen), 0) FROM deposits WHERE status = 'held'")
    assert await ledger_store.deposits_held_fen(conn) == held
    for d in await conn.fetch("SELECT * FROM deals"):
        owes = await ledger_store.balance(conn, f"buyer:{d['buyer_id']}")
        expected = (d["price_fen"] + d["buyer_fee_fen"] - d["paid_fen"]
                    if d["status"] == "open" else 0)
        assert owes == expected, dict(d)
        assert d["deposit_fen"] + d["paid_fen"] <= d["price_fen"] + d["buyer_fee_fen"]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=steps)
@example(ops=[("deposit", "a-co", 1_000), ("deposit", "b-co", 2_000), ("deal", "a-co", 5_000),
              ("pay", 100), ("time", 30)])
@example(ops=[("deposit", "a-co", 1_000), ("deal", "a-co", 5_000_000), ("pay-rest",),
              ("release",)])
def test_any_sequence_keeps_the_ledger_balanced_and_reconciled(ledger_db, ops):
    SEEN.update(_in_thread(_run(ledger_db, ops)))


SEEN: set[str] = set()


def test_the_examples_reached_completions_and_defaults():
    """The property above ran deals to each end (its explicit examples make sure of it)."""
    assert SEEN >= {"completed", "defaulted"}, SEEN


def test_the_database_refuses_an_unbalanced_entry_and_any_rewrite(ledger_db):
    async def attempt() -> None:
        conn = await asyncpg.connect(ledger_db)
        try:
            with pytest.raises(asyncpg.CheckViolationError, match="does not balance"):
                async with conn.transaction():
                    await conn.execute("INSERT INTO entries (entry_id, posted_at)"
                                       " VALUES ('bad', now())")
                    await conn.execute(
                        "INSERT INTO lines (entry_id, account, debit_fen) VALUES"
                        " ('bad', 'bank', 5)")
                    await conn.execute(
                        "INSERT INTO lines (entry_id, account, credit_fen) VALUES"
                        " ('bad', 'fee_income', 4)")
            assert await conn.fetchval("SELECT count(*) FROM entries WHERE entry_id = 'bad'") == 0
            async with conn.transaction():
                await conn.execute("INSERT INTO entries (entry_id, posted_at)"
                                   " VALUES ('good', now())")
                await conn.execute("INSERT INTO lines (entry_id, account, debit_fen, credit_fen)"
                                   " VALUES ('good', 'bank', 5, 0), ('good', 'fee_income', 0, 5)")
            with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
                await conn.execute("UPDATE lines SET debit_fen = 6 WHERE entry_id = 'good'")
            with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
                await conn.execute("DELETE FROM lines WHERE entry_id = 'good'")
        finally:
            await conn.close()

    _in_thread(attempt())
