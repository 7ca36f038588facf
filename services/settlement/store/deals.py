"""SQL of deals: the aggregate's rows (deal, deposit it counts on, schedule), its receipts
and subsidy assessments, and the views of them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

import asyncpg

from services.settlement.domain.deal import Deal, DealStatus, Deposit, DepositStatus
from services.settlement.domain.subsidy import Assessment, Side
from services.settlement.store import Db
from services.settlement.store.deposits import deposit_of
from shared.events.settlement import Instalment, PaymentReceived, SubsidyAssessed


async def winner_deposit(conn: asyncpg.Connection, procedure_id: uuid.UUID, buyer_id: str
                         ) -> Deposit | None:
    """The deal's buyer's deposit for the procedure, locked, whatever its state."""
    row = await deposit_of(conn, procedure_id, buyer_id, lock=True)
    return None if row is None else Deposit(
        row["deposit_id"], row["amount_fen"], DepositStatus(row["status"]), row["deal_id"],
        row["settled_at"])


async def load(conn: asyncpg.Connection, deal_id: uuid.UUID) -> Deal | None:
    """The deal with its deposit and schedule, its row locked until the transaction ends."""
    row = await conn.fetchrow(
        "SELECT d.*, p.amount_fen AS deposit_held_fen, p.status AS deposit_status,"
        " p.settled_at AS deposit_settled_at FROM deals d"
        " LEFT JOIN deposits p ON p.deposit_id = d.deposit_id"
        " WHERE d.deal_id = $1 FOR UPDATE OF d", deal_id)
    if row is None:
        return None
    deposit = None if row["deposit_id"] is None else Deposit(
        row["deposit_id"], row["deposit_held_fen"], DepositStatus(row["deposit_status"]),
        deal_id, row["deposit_settled_at"])
    schedule = tuple(Instalment(n=i["n"], due_at=i["due_at"], amount_fen=i["amount_fen"])
                     for i in await instalments(conn, deal_id))
    return Deal(
        deal_id=row["deal_id"], procedure_id=row["procedure_id"], listing_id=row["listing_id"],
        route=row["route"], region=row["region"], seller_id=row["seller_id"],
        buyer_id=row["buyer_id"], price_fen=row["price_fen"],
        buyer_fee_fen=row["buyer_fee_fen"], seller_fee_fen=row["seller_fee_fen"],
        concluded_at=row["concluded_at"], deposit=deposit, deposit_fen=row["deposit_fen"],
        paid_fen=row["paid_fen"], schedule=schedule, status=DealStatus(row["status"]),
        overdue_since=row["overdue_since"], completed_at=row["completed_at"],
        defaulted_at=row["defaulted_at"])


async def insert(conn: asyncpg.Connection, d: Deal) -> bool:
    """The deal as opened; False (and nothing written) if it is being settled already."""
    return bool(await conn.fetchval(
        "INSERT INTO deals (deal_id, procedure_id, listing_id, route, region, seller_id,"
        " buyer_id, price_fen, buyer_fee_fen, seller_fee_fen, concluded_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        " ON CONFLICT DO NOTHING RETURNING true",
        d.deal_id, d.procedure_id, d.listing_id, d.route, d.region, d.seller_id, d.buyer_id,
        d.price_fen, d.buyer_fee_fen, d.seller_fee_fen, d.concluded_at))


async def save(conn: asyncpg.Connection, d: Deal) -> None:
    """What a transition may change on the deal's row."""
    await conn.execute(
        "UPDATE deals SET deposit_id = $2, deposit_fen = $3, paid_fen = $4, status = $5,"
        " overdue_since = $6, completed_at = $7, defaulted_at = $8 WHERE deal_id = $1",
        d.deal_id, d.deposit.deposit_id if d.deposit else None, d.deposit_fen, d.paid_fen,
        d.status.value, d.overdue_since, d.completed_at, d.defaulted_at)


async def save_deposit(conn: asyncpg.Connection, d: Deposit) -> None:
    await conn.execute(
        "UPDATE deposits SET status = $2, deal_id = $3, settled_at = $4 WHERE deposit_id = $1",
        d.deposit_id, d.status.value, d.deal_id, d.settled_at)


async def overdue_count(db: Db) -> int:
    """Open deals with a payment overdue."""
    return await db.fetchval(
        "SELECT count(*) FROM deals WHERE status = 'open' AND overdue_since IS NOT NULL")


async def row(db: Db, deal_id: uuid.UUID) -> asyncpg.Record | None:
    """The deal's row as the views show it (with what is outstanding)."""
    return await db.fetchrow(
        "SELECT *, price_fen + buyer_fee_fen - deposit_fen - paid_fen AS outstanding_fen"
        " FROM deals WHERE deal_id = $1", deal_id)


async def instalments(db: Db, deal_id: uuid.UUID) -> list[asyncpg.Record]:
    """The schedule with each instalment's cumulative amount."""
    return await db.fetch(
        "SELECT n, due_at, amount_fen, sum(amount_fen) OVER (ORDER BY n)::bigint AS cumulative_fen"
        " FROM instalments WHERE deal_id = $1 ORDER BY n", deal_id)


async def replace_instalments(conn: asyncpg.Connection, deal_id: uuid.UUID,
                              rows: Sequence[Instalment]) -> None:
    await conn.execute("DELETE FROM instalments WHERE deal_id = $1", deal_id)
    await conn.executemany(
        "INSERT INTO instalments (deal_id, n, due_at, amount_fen) VALUES ($1, $2, $3, $4)",
        [(deal_id, i.n, i.due_at, i.amount_fen) for i in rows])


async def insert_payment(conn: asyncpg.Connection, e: PaymentReceived) -> None:
    """The receipt the event announces."""
    await conn.execute(
        "INSERT INTO payments (payment_id, deal_id, amount_fen, source, reference, received_at)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        e.payment_id, e.deal_id, e.amount_fen, e.source, e.reference, e.received_at)


async def payments(db: Db, deal_id: uuid.UUID) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT payment_id, amount_fen, source, reference, received_at FROM payments"
        " WHERE deal_id = $1 ORDER BY received_at, payment_id", deal_id)


# -- subsidy assessments ---------------------------------------------------------------------
async def assessments_of(conn: asyncpg.Connection, policy_id: str, project_id: str, year: int
                         ) -> list[Assessment]:
    # Lock the project's earlier assessments: "one side per project per year" is decided
    # against them, so two settlements of the same project are assessed one after the other.
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))",
                       f"subsidy:{policy_id}:{project_id}:{year}")
    return [Assessment(r["policy_id"], r["project_id"], r["year"], Side(r["side"]),
                       r["received_fen"], r["amount_fen"], r["commissioner_share_fen"],
                       tuple(json.loads(r["reasons"])))
            for r in await conn.fetch(
                "SELECT * FROM subsidy_assessments WHERE policy_id = $1 AND project_id = $2"
                " AND year = $3 ORDER BY assessed_at, side", policy_id, project_id, year)]


async def insert_assessment(conn: asyncpg.Connection, e: SubsidyAssessed) -> bool:
    """The assessment the event announces; False if it is recorded already."""
    return bool(await conn.fetchval(
        "INSERT INTO subsidy_assessments (assessment_id, deal_id, policy_id, project_id, year,"
        " side, recipient_id, region, received_fen, amount_fen, commissioner_share_fen,"
        " reasons, assessed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        " ON CONFLICT DO NOTHING RETURNING true",
        e.assessment_id, e.deal_id, e.policy_id, e.project_id, e.year, e.side, e.recipient_id,
        e.region, e.received_fen, e.amount_fen, e.commissioner_share_fen,
        json.dumps(e.reasons), e.assessed_at))


async def subsidy_report(db: Db, prefix: str, year: int) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT region, policy_id, side, count(*) AS assessed,"
        " count(*) FILTER (WHERE amount_fen > 0) AS granted,"
        " sum(received_fen)::bigint AS received_fen, sum(amount_fen)::bigint AS amount_fen,"
        " sum(commissioner_share_fen)::bigint AS commissioner_share_fen"
        " FROM subsidy_assessments WHERE region LIKE $1 AND year = $2"
        " GROUP BY region, policy_id, side ORDER BY region, policy_id, side",
        prefix + "%", year)
