"""Every listing command, the reactions to other services' events and the expiry deadline.

Each works in the transaction context it is given (an HTTP command's, the consumer's, the
scheduler's, or the seed's own): it locks the aggregate it changes, calls the domain, saves and
publishes the events, which commit with the change. Every time comes from ``tx.now()``, the
clock of whoever opened the transaction, so tests (and the seed) control it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.listing.domain import text
from services.listing.domain.achievement import Achievement, Details, Status
from services.listing.domain.demand import CallMode, Demand
from services.listing.domain.errors import DuplicateProposal, NotEditable, NotTheOwner
from services.listing.domain.fields import TechField
from services.listing.domain.interest import Interest, match
from services.listing.metrics import EXPIRED
from services.listing.store import achievements, demands
from shared.auth import Principal, authorize_region
from shared.context import Tx
from shared.events import Event
from shared.events.auction import AuctionAnnounced, AuctionFailed, DealConcluded
from shared.events.listing import ListingInterestMatched
from shared.events.registry import ContractRegistered
from shared.problems import not_found
from shared.scheduler import Deadline, schedule

EXPIRY = "listing-expiry"
"""The deadline kind of a published listing's end of period; its key is the listing id."""


# -- achievements ----------------------------------------------------------------------------

async def _save(tx: Tx, a: Achievement, *events: Event) -> Achievement:
    """Write the changed listing and publish its events; a listing (again) published has its
    expiry deadline scheduled (or moved) in the same transaction."""
    await achievements.save_achievement(tx.conn, a)
    tx.publish(*events)
    if a.status is Status.PUBLISHED and a.expires_at is not None:
        await schedule(tx.conn, EXPIRY, str(a.id), a.expires_at)
    return a


async def _lock(tx: Tx, achievement_id: uuid.UUID) -> Achievement:
    a = await achievements.lock_achievement(tx.conn, achievement_id)
    if a is None:
        raise not_found(f"No achievement {achievement_id}.")
    return a


def _own(a: Achievement, seller: Principal) -> Achievement:
    if a.seller_id != seller.subject:
        raise NotTheOwner(detail="Only the seller who filed the listing may change it.")
    return a


async def _owned(tx: Tx, achievement_id: uuid.UUID, seller: Principal) -> Achievement:
    return _own(await _lock(tx, achievement_id), seller)


async def _reviewable(tx: Tx, achievement_id: uuid.UUID, operator: Principal) -> Achievement:
    a = await _lock(tx, achievement_id)
    authorize_region(operator, a.region)
    return a


async def create_achievement(tx: Tx, seller: Principal, *, region: str,
                             details: Details) -> Achievement:
    authorize_region(seller, region)
    a, event = Achievement.draft(seller_id=seller.subject, region=region, details=details,
                                 now=tx.now())
    await achievements.insert_achievement(tx.conn, a)
    tx.publish(event)
    return a


async def edit_achievement(tx: Tx, seller: Principal, achievement_id: uuid.UUID,
                           details: Details, *, region: str) -> Achievement:
    """Replace the listing's details; ``region``, as the seller sent it, must be its own."""
    a = await _lock(tx, achievement_id)
    if region != a.region:
        raise NotEditable(detail="A listing's region cannot change; file a new one.")
    a = _own(a, seller)
    return await _save(tx, *a.edit(details, now=tx.now(), actor=seller.subject))


async def submit_achievement(tx: Tx, seller: Principal, achievement_id: uuid.UUID
                             ) -> Achievement:
    a = await _owned(tx, achievement_id, seller)
    return await _save(tx, *a.submit(now=tx.now(), actor=seller.subject))


async def withdraw_achievement(tx: Tx, seller: Principal, achievement_id: uuid.UUID
                               ) -> Achievement:
    a = await _owned(tx, achievement_id, seller)
    return await _save(tx, *a.withdraw(now=tx.now(), actor=seller.subject))


async def start_review(tx: Tx, operator: Principal, achievement_id: uuid.UUID) -> Achievement:
    a = await _reviewable(tx, achievement_id, operator)
    return await _save(tx, *a.start_review(now=tx.now(), actor=operator.subject))


async def record_security_review(tx: Tx, reviewer: Principal, achievement_id: uuid.UUID, *,
                                 outcome: str, reference: str) -> Achievement:
    a = await _reviewable(tx, achievement_id, reviewer)
    return await _save(tx, *a.record_security_review(
        outcome=outcome, reference=reference, now=tx.now(), actor=reviewer.subject))


async def approve_achievement(tx: Tx, operator: Principal, achievement_id: uuid.UUID, *,
                              validity: timedelta) -> Achievement:
    """Publish the listing for ``validity``; buyers' saved interests it matches are told."""
    now = tx.now()
    a, event = (await _reviewable(tx, achievement_id, operator)).approve(
        now=now, actor=operator.subject, validity=validity)
    return await _save(tx, a, event, *await _interest_matches(tx.conn, a, now))


async def reject_achievement(tx: Tx, operator: Principal, achievement_id: uuid.UUID, *,
                             reason: str) -> Achievement:
    a = await _reviewable(tx, achievement_id, operator)
    return await _save(tx, *a.reject(reason=reason, now=tx.now(), actor=operator.subject))


async def _interest_matches(conn: asyncpg.Connection, a: Achievement, now: datetime
                            ) -> list[ListingInterestMatched]:
    d = a.details
    listing_words = set(text.words(f"{d.title} {' '.join(d.keywords)} {d.abstract}"))
    found = []
    for row in await demands.interests_for(conn, a.region[:2]):
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


# -- the end of a listing's period -----------------------------------------------------------

async def on_expiry_due(tx: Tx, deadline: Deadline) -> None:
    """Expire the listing whose period ended, if it is still published.

    Otherwise nothing: withdrawn, in a transaction or traded since (a listing a failed
    procedure returns to published has its expiry scheduled again, see ``_save``). A deadline
    that finds the period not yet over waits for its end.
    """
    a = await achievements.lock_achievement(tx.conn, uuid.UUID(deadline.key))
    if a is None or a.status is not Status.PUBLISHED or a.expires_at is None:
        return
    now = tx.now()
    if now < a.expires_at:
        await schedule(tx.conn, EXPIRY, deadline.key, a.expires_at)
        return
    expired, event = a.expire(now=now)
    await achievements.save_achievement(tx.conn, expired)
    tx.publish(event)
    EXPIRED.inc()


# -- other services' procedures on a listing -------------------------------------------------

async def _apply(tx: Tx, listing_id: uuid.UUID | None, change: Any) -> None:
    """Lock the listing, apply ``change``; a listing unknown here is someone else's."""
    if listing_id is None:
        return
    a = await achievements.lock_achievement(tx.conn, listing_id)
    if a is None:
        return
    result = change(a, tx.now())
    if result is None:
        return  # already in that state: a redelivered or reordered event
    await _save(tx, *result)


async def on_announced(tx: Tx, e: AuctionAnnounced) -> None:
    await _apply(tx, e.listing_id, lambda a, now: Achievement.enter_transaction(
        a, procedure_id=str(e.procedure_id), cause=e.ce_type(), now=now))


async def on_failed(tx: Tx, e: AuctionFailed) -> None:
    await _apply(tx, e.listing_id, lambda a, now: a.return_from_transaction(
        procedure_id=str(e.procedure_id), cause=e.ce_type(), now=now))


async def on_deal(tx: Tx, e: DealConcluded) -> None:
    # A negotiated deal may conclude without an announcement having been seen first.
    await _apply(tx, e.listing_id, lambda a, now: None if a.status.value in (
        "in_transaction", "traded") else a.enter_transaction(
            procedure_id=str(e.procedure_id), cause=e.ce_type(), now=now))


async def on_registered(tx: Tx, e: ContractRegistered) -> None:
    await _apply(tx, e.listing_id, lambda a, now: a.trade(
        procedure_id=str(e.deal_id or e.contract_id), cause=e.ce_type(), now=now))


# -- demands and interests -------------------------------------------------------------------

async def post_demand(tx: Tx, enterprise: Principal, *, region: str, title: str,
                      description: str, field: TechField, keywords: tuple[str, ...],
                      mode: CallMode, budget_fen: int | None, min_trl: int, deadline: datetime
                      ) -> Demand:
    authorize_region(enterprise, region)
    d, event = Demand.post(enterprise_id=enterprise.subject, region=region, title=title,
                           description=description, field=field, keywords=keywords, mode=mode,
                           budget_fen=budget_fen, min_trl=min_trl, deadline=deadline,
                           now=tx.now())
    await demands.insert_demand(tx.conn, d)
    tx.publish(event)
    return d


async def _demand(tx: Tx, demand_id: uuid.UUID) -> Demand:
    d = await demands.get_demand(tx.conn, demand_id, lock=True)
    if d is None:
        raise not_found(f"No demand {demand_id}.")
    return d


async def submit_proposal(tx: Tx, provider: Principal, demand_id: uuid.UUID, *,
                          listing_id: uuid.UUID | None, price_fen: int | None, summary: str
                          ) -> tuple[uuid.UUID, Demand]:
    """Answer the demand's call; the new proposal's id and the demand it answers."""
    now = tx.now()
    d = await _demand(tx, demand_id)
    if listing_id is not None:
        listing = await achievements.get_achievement(tx.conn, listing_id)
        if listing is None or listing.seller_id != provider.subject:
            raise not_found(f"The proposal names listing {listing_id}, not one of yours.")
    proposal_id, event = d.accept_proposal(provider_id=provider.subject, listing_id=listing_id,
                                           price_fen=price_fen, now=now)
    if not await demands.insert_proposal(
        tx.conn, proposal_id=proposal_id, demand_id=d.id, provider_id=provider.subject,
        listing_id=listing_id, price_fen=price_fen, summary=summary, now=now,
    ):
        raise DuplicateProposal(detail="You have already answered this demand.")
    tx.publish(event)
    return proposal_id, d


async def award_demand(tx: Tx, enterprise: Principal, demand_id: uuid.UUID,
                       proposal_id: uuid.UUID) -> Demand:
    d = await _demand(tx, demand_id)
    proposal = await demands.get_proposal(tx.conn, proposal_id)
    if proposal is None or proposal["demand_id"] != d.id:
        raise not_found(f"No proposal {proposal_id} for demand {demand_id}.")
    d, event = d.award(proposal_id=proposal_id, provider_id=proposal["provider_id"],
                       actor=enterprise.subject, now=tx.now())
    await demands.set_demand_status(tx.conn, d)
    tx.publish(event)
    return d


async def close_demand(tx: Tx, enterprise: Principal, demand_id: uuid.UUID) -> Demand:
    d, event = (await _demand(tx, demand_id)).close(reason="withdrawn",
                                                    actor=enterprise.subject, now=tx.now())
    await demands.set_demand_status(tx.conn, d)
    tx.publish(event)
    return d


async def save_interest(tx: Tx, buyer: Principal, *, query: str, field: str | None,
                        min_trl: int | None, max_price_fen: int | None) -> uuid.UUID:
    interest_id = uuid.uuid4()
    await demands.insert_interest(
        tx.conn, interest_id=interest_id, buyer_id=buyer.subject, region=buyer.region.code,
        query=query, field=field, min_trl=min_trl, max_price_fen=max_price_fen, now=tx.now())
    return interest_id
