"""SQL of technology demands, their proposals and buyers' saved interests."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from services.listing.domain import text
from services.listing.domain.demand import CallMode, Demand, DemandStatus
from services.listing.domain.fields import TechField

Executor = asyncpg.Connection | asyncpg.Pool


# -- demands ---------------------------------------------------------------------------------

_DEMAND_COLUMNS = (
    "id, enterprise_id, region, title, description, field, keywords, mode, budget_fen,"
    " min_trl, deadline, status, awarded_proposal, created_at"
)


async def insert_demand(conn: asyncpg.Connection, d: Demand) -> None:
    await conn.execute(
        f"INSERT INTO demands ({_DEMAND_COLUMNS}, title_words, keyword_words, description_words)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        d.id, d.enterprise_id, d.region, d.title, d.description, d.field.value,
        list(d.keywords), d.mode.value, d.budget_fen, d.min_trl, d.deadline, d.status.value,
        d.awarded_proposal, d.created_at, text.joined(d.title), text.joined(" ".join(d.keywords)),
        text.joined(d.description),
    )


def _demand(row: asyncpg.Record) -> Demand:
    return Demand(
        id=row["id"], enterprise_id=row["enterprise_id"], region=row["region"],
        title=row["title"], description=row["description"], field=TechField(row["field"]),
        keywords=tuple(row["keywords"]), mode=CallMode(row["mode"]),
        budget_fen=row["budget_fen"], min_trl=row["min_trl"], deadline=row["deadline"],
        status=DemandStatus(row["status"]), created_at=row["created_at"],
        awarded_proposal=row["awarded_proposal"],
    )


async def get_demand(db: Executor, demand_id: uuid.UUID, *, lock: bool = False
                     ) -> Demand | None:
    row = await db.fetchrow(
        f"SELECT {_DEMAND_COLUMNS} FROM demands WHERE id = $1"
        + (" FOR UPDATE" if lock else ""), demand_id)
    return _demand(row) if row else None


async def demand_and_proposals_count(db: Executor, demand_id: uuid.UUID
                                     ) -> tuple[Demand, int] | None:
    """The demand and how many proposals answered it, in one statement (the public view)."""
    row = await db.fetchrow(
        f"SELECT {_DEMAND_COLUMNS}, (SELECT count(*) FROM proposals p WHERE p.demand_id = d.id)"
        " AS proposals_count FROM demands d WHERE d.id = $1", demand_id)
    return (_demand(row), row["proposals_count"]) if row else None


async def set_demand_status(conn: asyncpg.Connection, d: Demand) -> None:
    await conn.execute("UPDATE demands SET status = $2, awarded_proposal = $3 WHERE id = $1",
                       d.id, d.status.value, d.awarded_proposal)


async def insert_proposal(conn: asyncpg.Connection, *, proposal_id: uuid.UUID,
                          demand_id: uuid.UUID, provider_id: str, listing_id: uuid.UUID | None,
                          price_fen: int | None, summary: str, now: datetime) -> bool:
    """False when this provider already answered the demand."""
    done = await conn.fetchval(
        "INSERT INTO proposals (id, demand_id, provider_id, listing_id, price_fen, summary,"
        " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (demand_id, provider_id) DO NOTHING RETURNING true",
        proposal_id, demand_id, provider_id, listing_id, price_fen, summary, now)
    return bool(done)


async def proposals_of(db: Executor, demand_id: uuid.UUID) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT id, provider_id, listing_id, price_fen, summary, created_at FROM proposals"
        " WHERE demand_id = $1 ORDER BY created_at", demand_id)


async def get_proposal(db: Executor, proposal_id: uuid.UUID) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT id, demand_id, provider_id, listing_id, price_fen, summary, created_at"
        " FROM proposals WHERE id = $1", proposal_id)


# -- interests -------------------------------------------------------------------------------

async def insert_interest(conn: asyncpg.Connection, *, interest_id: uuid.UUID, buyer_id: str,
                          region: str, query: str, field: str | None, min_trl: int | None,
                          max_price_fen: int | None, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO interests (id, buyer_id, region, query, query_words, field, min_trl,"
        " max_price_fen, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        interest_id, buyer_id, region, query, sorted(set(text.words(query))), field, min_trl,
        max_price_fen, now)


async def interests_for(conn: asyncpg.Connection, province_prefix: str) -> list[asyncpg.Record]:
    """Saved interests of buyers of the province (every sub-platform sees its province)."""
    return await conn.fetch(
        "SELECT id, buyer_id, region, query, query_words, field, min_trl, max_price_fen"
        " FROM interests WHERE region LIKE $1 || '%'", province_prefix)


async def buyer_interests(db: Executor, buyer_id: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT id, buyer_id, region, query, field, min_trl, max_price_fen, created_at"
        " FROM interests WHERE buyer_id = $1 ORDER BY created_at DESC", buyer_id)
