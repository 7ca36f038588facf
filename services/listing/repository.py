"""asyncpg SQL for achievements, demands, proposals and interests."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import asyncpg

from services.listing import text
from services.listing.domain.achievement import (
    Achievement,
    Details,
    PricingRoute,
    SecurityReview,
    Status,
    TransferMode,
)
from services.listing.domain.demand import CallMode, Demand, DemandStatus
from services.listing.domain.fields import TechField
from services.listing.domain.ip import IpType
from shared.events.listing import Holder

Executor = asyncpg.Connection | asyncpg.Pool

_ACHIEVEMENT_COLUMNS = (
    "id, seller_id, region, status, title, abstract, field, industry, keywords, ip_type,"
    " ip_numbers, trl, holders, inventors, transfer_mode, pricing_route, reference_price_fen,"
    " dual_use, public_welfare, cross_border, security_review, reject_reason, published_at,"
    " expires_at, procedure_id, version, created_at, updated_at"
)


def _achievement_values(a: Achievement) -> tuple:
    d = a.details
    review = None
    if a.security_review:
        r = a.security_review
        review = json.dumps({"outcome": r.outcome, "reference": r.reference,
                             "reviewer": r.reviewer, "at": r.at.isoformat()},
                            ensure_ascii=False)
    return (
        a.id, a.seller_id, a.region, a.status.value, d.title, d.abstract, d.field.value,
        d.industry, list(d.keywords), d.ip_type.value, list(d.ip_numbers), d.trl,
        json.dumps([h.model_dump() for h in d.holders], ensure_ascii=False), list(d.inventors),
        d.transfer_mode.value, d.pricing_route.value, d.reference_price_fen, d.dual_use,
        d.public_welfare, d.cross_border, review, a.reject_reason, a.published_at,
        a.expires_at, a.procedure_id, a.version, a.created_at, a.updated_at,
        text.joined(d.title), text.joined(" ".join(d.keywords) + " " + d.industry),
        text.joined(d.abstract),
    )


async def insert_achievement(conn: asyncpg.Connection, a: Achievement) -> None:
    placeholders = ", ".join(f"${i}" for i in range(1, 32))
    await conn.execute(
        f"INSERT INTO achievements ({_ACHIEVEMENT_COLUMNS}, title_words, keyword_words,"
        f" abstract_words) VALUES ({placeholders})",
        *_achievement_values(a),
    )


async def save_achievement(conn: asyncpg.Connection, a: Achievement) -> None:
    """Write a changed achievement; the caller holds its row lock (``lock_achievement``)."""
    columns = [c.strip() for c in _ACHIEVEMENT_COLUMNS.split(",")] + [
        "title_words", "keyword_words", "abstract_words"]
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=1) if c != "id")
    await conn.execute(f"UPDATE achievements SET {sets} WHERE id = $1",
                       *_achievement_values(a))


def _achievement(row: asyncpg.Record) -> Achievement:
    review = None
    if row["security_review"]:
        r = json.loads(row["security_review"])
        review = SecurityReview(outcome=r["outcome"], reference=r["reference"],
                                reviewer=r["reviewer"], at=datetime.fromisoformat(r["at"]))
    details = Details(
        title=row["title"], abstract=row["abstract"], field=TechField(row["field"]),
        industry=row["industry"], keywords=tuple(row["keywords"]),
        ip_type=IpType(row["ip_type"]), ip_numbers=tuple(row["ip_numbers"]), trl=row["trl"],
        holders=tuple(Holder(**h) for h in json.loads(row["holders"])),
        inventors=tuple(row["inventors"]), transfer_mode=TransferMode(row["transfer_mode"]),
        pricing_route=PricingRoute(row["pricing_route"]),
        reference_price_fen=row["reference_price_fen"], dual_use=row["dual_use"],
        public_welfare=row["public_welfare"], cross_border=row["cross_border"],
    )
    return Achievement(
        id=row["id"], seller_id=row["seller_id"], region=row["region"],
        status=Status(row["status"]), details=details, created_at=row["created_at"],
        updated_at=row["updated_at"], version=row["version"],
        reject_reason=row["reject_reason"], security_review=review,
        published_at=row["published_at"], expires_at=row["expires_at"],
        procedure_id=row["procedure_id"],
    )


async def get_achievement(db: Executor, achievement_id: uuid.UUID) -> Achievement | None:
    row = await db.fetchrow(
        f"SELECT {_ACHIEVEMENT_COLUMNS} FROM achievements WHERE id = $1", achievement_id)
    return _achievement(row) if row else None


async def lock_achievement(conn: asyncpg.Connection, achievement_id: uuid.UUID
                           ) -> Achievement | None:
    """The achievement, row-locked for the rest of the transaction (commands serialise)."""
    row = await conn.fetchrow(
        f"SELECT {_ACHIEVEMENT_COLUMNS} FROM achievements WHERE id = $1 FOR UPDATE",
        achievement_id)
    return _achievement(row) if row else None


async def seller_achievements(db: Executor, seller_id: str, limit: int = 100
                              ) -> list[Achievement]:
    rows = await db.fetch(
        f"SELECT {_ACHIEVEMENT_COLUMNS} FROM achievements WHERE seller_id = $1"
        " ORDER BY created_at DESC LIMIT $2", seller_id, limit)
    return [_achievement(r) for r in rows]


async def review_queue(db: Executor, region_prefix: str, limit: int = 100) -> list[Achievement]:
    """Listings awaiting review in a region's subtree, oldest first."""
    rows = await db.fetch(
        f"SELECT {_ACHIEVEMENT_COLUMNS} FROM achievements"
        " WHERE status IN ('submitted', 'under_review') AND region LIKE $1 || '%'"
        " ORDER BY updated_at LIMIT $2", region_prefix, limit)
    return [_achievement(r) for r in rows]


async def due_for_expiry(conn: asyncpg.Connection, now: datetime, limit: int = 500
                         ) -> list[Achievement]:
    rows = await conn.fetch(
        f"SELECT {_ACHIEVEMENT_COLUMNS} FROM achievements"
        " WHERE status = 'published' AND expires_at <= $1 ORDER BY expires_at LIMIT $2"
        " FOR UPDATE SKIP LOCKED", now, limit)
    return [_achievement(r) for r in rows]


async def count_by_status_and_province(db: Executor) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT status, substr(region, 1, 2) || '0000' AS province, count(*) AS n"
        " FROM achievements GROUP BY 1, 2")


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
