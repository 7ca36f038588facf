"""SQL of the achievement listings (科技成果): rows to aggregates and back."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import asyncpg

from services.listing.domain import text
from services.listing.domain.achievement import (
    Achievement,
    Details,
    PricingRoute,
    SecurityReview,
    Status,
    TransferMode,
)
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


async def count_by_status_and_province(db: Executor) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT status, substr(region, 1, 2) || '0000' AS province, count(*) AS n"
        " FROM achievements GROUP BY 1, 2")
