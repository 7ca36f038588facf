"""SQL of partners' listings (``partner_listings``): the latest revision of each wins."""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg

from services.listing.domain import text
from shared.events.public.catalog import CatalogListingPublished

SHOWN = ("published", "in_transaction")
"""The statuses of a partner's listing that the search shows."""


async def put_published(conn: asyncpg.Connection, origin: str, e: CatalogListingPublished,
                        now: datetime) -> bool:
    """Keep ``e``'s content; its status only if it is the newest revision (an older one fills
    the content of a row that has none, its status stays). True if anything changed."""
    return bool(await conn.fetchval(
        """INSERT INTO partner_listings AS p (origin, id, revision, status, region, path, title,
               abstract, field, industry, keywords, ip_type, trl, holders, transfer_mode,
               pricing_route, reference_price_fen, seller_id, published_at, expires_at,
               updated_at, title_words, keyword_words, abstract_words)
           VALUES ($1, $2, $3, 'published', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                   $15, $16, $17, $18, $19, $20, $21, $22, $23)
           ON CONFLICT (origin, id) DO UPDATE SET
               status = CASE WHEN p.revision < EXCLUDED.revision THEN 'published'
                             ELSE p.status END,
               revision = GREATEST(p.revision, EXCLUDED.revision),
               region = EXCLUDED.region, path = EXCLUDED.path, title = EXCLUDED.title,
               abstract = EXCLUDED.abstract, field = EXCLUDED.field,
               industry = EXCLUDED.industry, keywords = EXCLUDED.keywords,
               ip_type = EXCLUDED.ip_type, trl = EXCLUDED.trl, holders = EXCLUDED.holders,
               transfer_mode = EXCLUDED.transfer_mode, pricing_route = EXCLUDED.pricing_route,
               reference_price_fen = EXCLUDED.reference_price_fen,
               seller_id = EXCLUDED.seller_id, published_at = EXCLUDED.published_at,
               expires_at = EXCLUDED.expires_at, updated_at = EXCLUDED.updated_at,
               title_words = EXCLUDED.title_words, keyword_words = EXCLUDED.keyword_words,
               abstract_words = EXCLUDED.abstract_words
           WHERE p.revision < EXCLUDED.revision OR p.published_at IS NULL
           RETURNING true""",
        origin, e.listing_id, e.revision, e.region, e.path, e.title, e.abstract, e.field,
        e.industry, list(e.keywords), e.ip_type, e.trl,
        json.dumps([h.model_dump() for h in e.holders], ensure_ascii=False), e.transfer_mode,
        e.pricing_route, e.reference_price_fen, e.seller_id, e.published_at, e.expires_at, now,
        text.joined(e.title), text.joined(" ".join(e.keywords) + " " + e.industry),
        text.joined(e.abstract)))


async def put_status(conn: asyncpg.Connection, origin: str, listing_id: object, *,
                     revision: int, status: str, region: str, path: str, now: datetime) -> bool:
    """Set the listing's status if ``revision`` is newer than the row's (a row without content
    is kept for the revision, so an older publication arriving later stays out)."""
    return bool(await conn.fetchval(
        """INSERT INTO partner_listings AS p (origin, id, revision, status, region, path,
               updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (origin, id) DO UPDATE SET revision = EXCLUDED.revision,
               status = EXCLUDED.status, updated_at = EXCLUDED.updated_at
           WHERE p.revision < EXCLUDED.revision
           RETURNING true""",
        origin, listing_id, revision, status, region, path, now))


async def partner_listing(db: asyncpg.Pool | asyncpg.Connection, origin: str,
                          listing_id: object) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT * FROM partner_listings WHERE origin = $1 AND id = $2", origin, listing_id)
