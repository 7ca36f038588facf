"""SQL of the negotiated notice (协议定价 + 公示): its row and its objections."""

from __future__ import annotations

import uuid

import asyncpg

from services.auction.domain.notice import (
    BuyerRelation,
    Notice,
    NoticeStatus,
    NoticeTerms,
    Objection,
    ObjectionOutcome,
)


async def insert_notice(conn: asyncpg.Connection, n: Notice, published_by: str) -> None:
    t = n.terms
    await conn.execute(
        "INSERT INTO notices (id, listing_id, region, published_by, project_name, abstract,"
        " transfer_mode, price_fen, seller_id, buyer_id, buyer_name, buyer_relation,"
        " published_at, days, min_days, inventors, status, ends_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,"
        " $18)",
        n.id, n.listing_id, n.region, published_by, t.project_name, t.abstract,
        t.transfer_mode, t.price_fen, t.seller_id, t.buyer_id, t.buyer_name,
        t.buyer_relation.value, t.published_at, t.days, t.min_days, list(t.inventors),
        n.status.value, n.ends_at)


async def load_notice(conn: asyncpg.Connection, notice_id: uuid.UUID, *, lock: bool = False
                      ) -> Notice | None:
    row = await conn.fetchrow(
        "SELECT * FROM notices WHERE id = $1" + (" FOR UPDATE" if lock else ""), notice_id)
    if row is None:
        return None
    terms = NoticeTerms(
        project_name=row["project_name"], abstract=row["abstract"],
        transfer_mode=row["transfer_mode"], price_fen=row["price_fen"],
        seller_id=row["seller_id"], buyer_id=row["buyer_id"], buyer_name=row["buyer_name"],
        buyer_relation=BuyerRelation(row["buyer_relation"]), published_at=row["published_at"],
        days=row["days"], min_days=row["min_days"], inventors=tuple(row["inventors"]))
    objections = tuple(
        Objection(id=o["id"], filed_by=o["filed_by"], grounds=o["grounds"],
                  filed_at=o["filed_at"],
                  outcome=ObjectionOutcome(o["outcome"]) if o["outcome"] else None,
                  reason=o["reason"], resolved_by=o["resolved_by"],
                  resolved_at=o["resolved_at"])
        for o in await conn.fetch(
            "SELECT * FROM notice_objections WHERE notice_id = $1 ORDER BY seq", notice_id))
    return Notice(id=row["id"], listing_id=row["listing_id"], region=row["region"],
                  terms=terms, objections=objections, status=NoticeStatus(row["status"]),
                  closed_at=row["closed_at"])


async def save_notice(conn: asyncpg.Connection, before: Notice, after: Notice) -> None:
    """Write what a command changed: the status, new objections and new resolutions."""
    if (after.status, after.closed_at) != (before.status, before.closed_at):
        await conn.execute("UPDATE notices SET status = $2, closed_at = $3 WHERE id = $1",
                           after.id, after.status.value, after.closed_at)
    known = {o.id: o for o in before.objections}
    for seq, o in enumerate(after.objections, start=1):
        old = known.get(o.id)
        if old is None:
            await conn.execute(
                "INSERT INTO notice_objections (id, notice_id, seq, filed_by, grounds,"
                " filed_at) VALUES ($1, $2, $3, $4, $5, $6)",
                o.id, after.id, seq, o.filed_by, o.grounds, o.filed_at)
        if o.outcome is not None and (old is None or old.outcome is None):
            await conn.execute(
                "UPDATE notice_objections SET outcome = $2, reason = $3, resolved_by = $4,"
                " resolved_at = $5 WHERE id = $1",
                o.id, o.outcome.value, o.reason, o.resolved_by, o.resolved_at)


async def save_objector(conn: asyncpg.Connection, objection_id: uuid.UUID, name: str,
                        contact: str) -> None:
    """The name and contact of whoever filed a public objection (for the operators only)."""
    await conn.execute(
        "INSERT INTO notice_objectors (objection_id, name, contact) VALUES ($1, $2, $3)",
        objection_id, name, contact)


async def objectors(db, notice_id: uuid.UUID) -> dict[uuid.UUID, tuple[str, str]]:
    """The name and contact of the public objections to the notice, by objection."""
    rows = await db.fetch(
        "SELECT p.objection_id, p.name, p.contact FROM notice_objectors p"
        " JOIN notice_objections o ON o.id = p.objection_id WHERE o.notice_id = $1", notice_id)
    return {r["objection_id"]: (r["name"], r["contact"]) for r in rows}
