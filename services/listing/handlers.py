"""Listing commands and the reactions to other services' events.

Each command runs inside a unit of work (one transaction: state change + outbox events), locks
the aggregate it changes, and takes the clock from the caller so tests control time.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import asyncpg

from services.listing import repository, text
from services.listing.domain.achievement import Achievement, Details
from services.listing.domain.demand import CallMode, Demand
from services.listing.domain.errors import DemandProblem, NotTheOwner
from services.listing.domain.fields import TechField
from services.listing.domain.interest import Interest, match
from shared.auth import Principal, authorize_region
from shared.events.listing import ListingInterestMatched
from shared.outbox import OutboxWriter
from shared.problems import not_found
from shared.uow import UnitOfWork


async def _owned(uow: UnitOfWork, achievement_id: uuid.UUID, seller: Principal) -> Achievement:
    a = await repository.lock_achievement(uow.conn, achievement_id)
    if a is None:
        raise not_found(f"No achievement {achievement_id}.")
    if a.seller_id != seller.subject:
        raise NotTheOwner(detail="Only the seller who filed the listing may change it.")
    return a


async def _reviewable(uow: UnitOfWork, achievement_id: uuid.UUID, operator: Principal
                      ) -> Achievement:
    a = await repository.lock_achievement(uow.conn, achievement_id)
    if a is None:
        raise not_found(f"No achievement {achievement_id}.")
    authorize_region(operator, a.region)
    return a


async def create_achievement(uow: UnitOfWork, seller: Principal, *, region: str,
                             details: Details, now: datetime) -> Achievement:
    authorize_region(seller, region)
    a, event = Achievement.draft(seller_id=seller.subject, region=region, details=details,
                                 now=now)
    await repository.insert_achievement(uow.conn, a)
    uow.publish(event)
    return a


async def edit_achievement(uow: UnitOfWork, seller: Principal, achievement_id: uuid.UUID,
                           details: Details, now: datetime) -> Achievement:
    a, event = (await _owned(uow, achievement_id, seller)).edit(details, now=now,
                                                                 actor=seller.subject)
    await repository.save_achievement(uow.conn, a)
    uow.publish(event)
    return a


async def submit_achievement(uow: UnitOfWork, seller: Principal, achievement_id: uuid.UUID,
                             now: datetime) -> Achievement:
    a, event = (await _owned(uow, achievement_id, seller)).submit(now=now, actor=seller.subject)
    await repository.save_achievement(uow.conn, a)
    uow.publish(event)
    return a


async def withdraw_achievement(uow: UnitOfWork, seller: Principal, achievement_id: uuid.UUID,
                               now: datetime) -> Achievement:
    a, event = (await _owned(uow, achievement_id, seller)).withdraw(now=now,
                                                                     actor=seller.subject)
    await repository.save_achievement(uow.conn, a)
    uow.publish(event)
    return a


async def start_review(uow: UnitOfWork, operator: Principal, achievement_id: uuid.UUID,
                       now: datetime) -> Achievement:
    a, event = (await _reviewable(uow, achievement_id, operator)).start_review(
        now=now, actor=operator.subject)
    await repository.save_achievement(uow.conn, a)
    uow.publish(event)
    return a


async def record_security_review(uow: UnitOfWork, reviewer: Principal,
                                 achievement_id: uuid.UUID, *, outcome: str, reference: str,
                                 now: datetime) -> Achievement:
    a, event = (await _reviewable(uow, achievement_id, reviewer)).record_security_review(
        outcome=outcome, reference=reference, now=now, actor=reviewer.subject)
    await repository.save_achievement(uow.conn, a)
    uow.publish(event)
    return a


async def approve_achievement(uow: UnitOfWork, operator: Principal, achievement_id: uuid.UUID,
                              *, validity: timedelta, now: datetime) -> Achievement:
    a, event = (await _reviewable(uow, achievement_id, operator)).approve(
        now=now, actor=operator.subject, validity=validity)
    await repository.save_achievement(uow.conn, a)
    uow.publish(event)
    uow.publish(*await _interest_matches(uow.conn, a, now))
    return a


async def reject_achievement(uow: UnitOfWork, operator: Principal, achievement_id: uuid.UUID,
                             *, reason: str, now: datetime) -> Achievement:
    a, event = (await _reviewable(uow, achievement_id, operator)).reject(
        reason=reason, now=now, actor=operator.subject)
    await repository.save_achievement(uow.conn, a)
    uow.publish(event)
    return a


async def _interest_matches(conn: asyncpg.Connection, a: Achievement, now: datetime
                            ) -> list[ListingInterestMatched]:
    d = a.details
    listing_words = set(text.words(f"{d.title} {' '.join(d.keywords)} {d.abstract}"))
    found = []
    for row in await repository.interests_for(conn, a.region[:2]):
        interest = Interest(id=row["id"], buyer_id=row["buyer_id"],
                            query_words=frozenset(row["query_words"]), field=row["field"],
                            min_trl=row["min_trl"], max_price_fen=row["max_price_fen"])
        m = match(interest, d, listing_words)
        if m is not None:
            found.append(ListingInterestMatched(
                listing_id=a.id, region=a.region, occurred_at=now, actor="listing",
                interest_id=row["id"], buyer_id=row["buyer_id"], score=m.score,
                reasons=m.reasons))
    return found


async def expire_due(pool: asyncpg.Pool, outbox: OutboxWriter, now: datetime) -> int:
    """Expire published listings whose period ended; returns how many."""
    async with pool.acquire() as conn, conn.transaction():
        due = await repository.due_for_expiry(conn, now)
        for a in due:
            expired, event = a.expire(now=now)
            await repository.save_achievement(conn, expired)
            await outbox.add(conn, [event], region=a.region)
    return len(due)


# -- demands ---------------------------------------------------------------------------------

async def post_demand(uow: UnitOfWork, enterprise: Principal, *, region: str, title: str,
                      description: str, field: TechField, keywords: tuple[str, ...],
                      mode: CallMode, budget_fen: int | None, min_trl: int, deadline: datetime,
                      now: datetime) -> Demand:
    authorize_region(enterprise, region)
    d, event = Demand.post(enterprise_id=enterprise.subject, region=region, title=title,
                           description=description, field=field, keywords=keywords, mode=mode,
                           budget_fen=budget_fen, min_trl=min_trl, deadline=deadline, now=now)
    await repository.insert_demand(uow.conn, d)
    uow.publish(event)
    return d


async def _demand(uow: UnitOfWork, demand_id: uuid.UUID) -> Demand:
    d = await repository.get_demand(uow.conn, demand_id, lock=True)
    if d is None:
        raise not_found(f"No demand {demand_id}.")
    return d


async def submit_proposal(uow: UnitOfWork, provider: Principal, demand_id: uuid.UUID, *,
                          listing_id: uuid.UUID | None, price_fen: int | None, summary: str,
                          now: datetime) -> uuid.UUID:
    d = await _demand(uow, demand_id)
    if listing_id is not None:
        listing = await repository.get_achievement(uow.conn, listing_id)
        if listing is None or listing.seller_id != provider.subject:
            raise not_found(f"The proposal names listing {listing_id}, not one of yours.")
    proposal_id, event = d.accept_proposal(provider_id=provider.subject, listing_id=listing_id,
                                           price_fen=price_fen, now=now)
    if not await repository.insert_proposal(
        uow.conn, proposal_id=proposal_id, demand_id=d.id, provider_id=provider.subject,
        listing_id=listing_id, price_fen=price_fen, summary=summary, now=now,
    ):
        raise DemandProblem(detail="You have already answered this demand.",
                            slug="demand-duplicate-proposal", title="Duplicate proposal")
    uow.publish(event)
    return proposal_id


async def award_demand(uow: UnitOfWork, enterprise: Principal, demand_id: uuid.UUID,
                       proposal_id: uuid.UUID, now: datetime) -> Demand:
    d = await _demand(uow, demand_id)
    proposal = await repository.get_proposal(uow.conn, proposal_id)
    if proposal is None or proposal["demand_id"] != d.id:
        raise not_found(f"No proposal {proposal_id} for demand {demand_id}.")
    d, event = d.award(proposal_id=proposal_id, provider_id=proposal["provider_id"],
                       actor=enterprise.subject, now=now)
    await repository.set_demand_status(uow.conn, d)
    uow.publish(event)
    return d


async def close_demand(uow: UnitOfWork, enterprise: Principal, demand_id: uuid.UUID,
                       now: datetime) -> Demand:
    d, event = (await _demand(uow, demand_id)).close(reason="withdrawn",
                                                      actor=enterprise.subject, now=now)
    await repository.set_demand_status(uow.conn, d)
    uow.publish(event)
    return d


async def save_interest(uow: UnitOfWork, buyer: Principal, *, query: str, field: str | None,
                        min_trl: int | None, max_price_fen: int | None, now: datetime
                        ) -> uuid.UUID:
    interest_id = uuid.uuid4()
    await repository.insert_interest(
        uow.conn, interest_id=interest_id, buyer_id=buyer.subject, region=buyer.region.code,
        query=query, field=field, min_trl=min_trl, max_price_fen=max_price_fen, now=now)
    return interest_id
