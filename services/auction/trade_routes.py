"""The listing trade (挂牌交易) over HTTP: announce, register, bid, read; and its deadlines.

Bids here are rare (a handful of qualified buyers, and only when two or more qualified), so
each command simply locks the trade's row, rebuilds the domain state from the rows, applies
the domain and writes the difference with its outbox events in one transaction (see
:mod:`~services.auction.procedures_store`). No in-memory writer, no lease.

Two deadlines per trade, both keyed by the trade's id:

- ``listing_trade.period_end`` at the end of the announcement period (moved on each
  extension cycle): extend, fail, deal at the listed price, or start bidding at once;
- ``listing_trade.close`` at the end of the bidding: the free-quote period plus one
  countdown, moved by every bid that restarts the countdown; it closes the bidding.

Buyers qualify when the settlement service confirms their deposit (``DepositConfirmed`` with
``procedure_id`` = the trade's id, see :func:`qualify_by_deposit`); with a deposit of 0 a
buyer qualifies on registering.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from services.auction import procedures_store as store
from services.auction import repository
from services.auction.domain.anonymity import Viewer, label
from services.auction.domain.deals import deal_id_for
from services.auction.domain.errors import RegistrationRefused
from services.auction.domain.listing_trade import (
    MIN_EXTENSION_WORKING_DAYS,
    ListingTrade,
    ListingTradeTerms,
    TradeStatus,
)
from services.auction.routes import BidRefused
from services.auction.views import (
    BidderShown,
    BiddersShown,
    bidder_json,
    bidders_json,
    viewer_of,
)
from shared.auth import Principal, Role, authorize_region, optional_principal, require
from shared.bounds import Fen, PositiveFen, int_field
from shared.events.base import Event
from shared.events.settlement import DepositConfirmed
from shared.idempotency import IdempotencyKey, Once
from shared.problems import PROBLEM_RESPONSES, not_found
from shared.ratelimit import per_account, rate_limited
from shared.scheduler import Deadline, Handler, schedule
from shared.service import Runtime, runtime_of

log = logging.getLogger(__name__)

router = APIRouter(tags=["listing trades"], responses=PROBLEM_RESPONSES)

PERIOD_END = "listing_trade.period_end"
BIDDING_CLOSE = "listing_trade.close"

Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Buyer = Annotated[Principal, Depends(require(Role.BUYER))]


class ListingTradeIn(BaseModel):
    listing_id: uuid.UUID
    listed_price_fen: PositiveFen
    increment_fen: PositiveFen
    deposit_fen: Annotated[Fen, Field(description="保证金 in fen; 0: none")]
    working_days: int = int_field(default=20, ge=1, le=250,
                                  description="announcement period in working days")
    extension_working_days: int = int_field(default=MIN_EXTENSION_WORKING_DAYS,
                                            ge=MIN_EXTENSION_WORKING_DAYS, le=250,
                                            description="length of one extension cycle")
    max_extensions: int = int_field(default=3, ge=0, le=50,
                                    description="extension cycles before failing")
    free_quote_seconds: int = int_field(default=3600, gt=0, le=30 * 86400,
                                        description="自由报价期 length")
    countdown_seconds: int = int_field(default=300, gt=0, le=86400,
                                       description="限时竞价期 countdown, restarted by each bid")


class PublicBid(BidderShown):
    """A quote of the online bidding; its bidder shown by bid number."""

    sequence: int
    amount_fen: int
    at: datetime


class ListingTradeOut(BiddersShown):
    """The public state. Who registered or qualified is not shown (nor how many, until the
    announcement period is over): it would invite collusion."""

    id: uuid.UUID
    listing_id: uuid.UUID
    seller_id: str
    region: str
    status: str
    listed_price_fen: int
    increment_fen: int
    deposit_fen: int
    announced_at: datetime
    working_days: int
    extension_working_days: int
    max_extensions: int
    free_quote_seconds: int
    countdown_seconds: int
    period_ends_at: datetime
    extensions: int
    qualified_buyers: int | None = None
    bidding_opens_at: datetime | None = None
    free_quote_ends_at: datetime | None = None
    bidding_ends_at: datetime | None = None
    high_bid_fen: int | None = None
    bids: list[PublicBid] = Field(default_factory=list)
    failure: str | None = None
    closed_at: datetime | None = None
    price_fen: int | None = None
    deal_id: uuid.UUID | None = None

    @classmethod
    def of(cls, t: ListingTrade, viewer: Viewer, numbers: Mapping[str, int]) -> ListingTradeOut:
        terms, ladder = t.terms, t.ladder
        high = ladder.high if ladder else None

        return cls(
            id=t.id, listing_id=t.listing_id, seller_id=t.seller_id, region=t.region,
            status=t.status.value, listed_price_fen=terms.listed_price_fen,
            increment_fen=terms.increment_fen, deposit_fen=terms.deposit_fen,
            announced_at=terms.announced_at, working_days=terms.working_days,
            extension_working_days=terms.extension_working_days,
            max_extensions=terms.max_extensions,
            free_quote_seconds=int(terms.free_quote.total_seconds()),
            countdown_seconds=int(terms.countdown.total_seconds()),
            period_ends_at=t.period_ends_at, extensions=t.extensions,
            qualified_buyers=None if t.status is TradeStatus.ANNOUNCED else len(t.qualified),
            bidding_opens_at=ladder.opens_at if ladder else None,
            free_quote_ends_at=ladder.opens_at + terms.free_quote if ladder else None,
            bidding_ends_at=ladder.ends_at if ladder else None,
            high_bid_fen=high.amount_fen if high else None,
            bids=[PublicBid(sequence=b.sequence, amount_fen=b.amount_fen, at=b.at,
                            **bidder_json(viewer, b.bidder_id, numbers.get(b.bidder_id)))
                  for b in t.bids],
            failure=t.failure.value if t.failure else None, closed_at=t.closed_at,
            **bidders_json(viewer, numbers, t.winner_id), price_fen=t.price_fen,
            deal_id=deal_id_for(t.id) if t.winner_id else None)


class RegistrationOut(BaseModel):
    listing_trade_id: uuid.UUID
    bidder_id: str
    bidder_number: str = Field(description="your bid number (竞买号) in this trade")
    deposit_fen: int
    qualified: bool


def _viewer(principal: Principal | None, t: ListingTrade) -> Viewer:
    return viewer_of(principal, region=t.region, seller_id=t.seller_id,
                     closed=t.closed_at is not None)


class BidIn(BaseModel):
    amount_fen: PositiveFen


class BidOut(BaseModel):
    accepted: bool
    sequence: int
    amount_fen: int
    high_bid_fen: int
    ends_at: datetime


async def _region(request: Request, trade_id: uuid.UUID) -> str:
    region = await store.procedure_region(runtime_of(request).pool, "listing_trades", trade_id)
    if region is None:
        raise not_found(f"No listing trade {trade_id}.")
    return region


async def _locked(conn: asyncpg.Connection, trade_id: uuid.UUID) -> ListingTrade:
    trade = await store.load_trade(conn, trade_id, lock=True)
    if trade is None:
        raise not_found(f"No listing trade {trade_id}.")
    return trade


# -- commands ---------------------------------------------------------------------------------

@router.post("/listing-trades", status_code=201, response_model=ListingTradeOut)
async def announce(body: ListingTradeIn, request: Request, operator: Operator,
                   key: IdempotencyKey = None) -> Response:
    """Announce a listing trade of a published listing whose pricing route is listing."""
    runtime = runtime_of(request)
    listing = await repository.listing_for_auction(runtime.pool, body.listing_id)
    if listing is None:
        raise not_found(f"No listing {body.listing_id} is known to the auction service.")
    authorize_region(operator, listing["region"])
    now = runtime.clock.now()
    async with runtime.unit_of_work(listing["region"],
                                    await Once.of_request(request, operator, key)) as uow:
        listing = await store.lock_listing(uow.conn, body.listing_id, "listing")
        terms = ListingTradeTerms(
            listed_price_fen=body.listed_price_fen, increment_fen=body.increment_fen,
            deposit_fen=body.deposit_fen, announced_at=now, working_days=body.working_days,
            extension_working_days=body.extension_working_days,
            max_extensions=body.max_extensions,
            free_quote=timedelta(seconds=body.free_quote_seconds),
            countdown=timedelta(seconds=body.countdown_seconds))
        trade, events = ListingTrade.announce(
            terms, listing_id=body.listing_id, seller_id=listing["seller_id"],
            region=listing["region"])
        await store.insert_trade(uow.conn, trade, operator.subject)
        await schedule(uow.conn, PERIOD_END, str(trade.id), trade.period_ends_at)
        uow.publish(*events)
        return uow.answer(201, ListingTradeOut.of(trade, _viewer(operator, trade), {}))


@router.get("/listing-trades/{trade_id}", response_model=ListingTradeOut)
async def get_trade(trade_id: uuid.UUID, request: Request,
                    principal: Annotated[Principal | None, Depends(optional_principal)]
                    ) -> ListingTradeOut:
    """The trade's public state (no token needed): terms, period, bids and the outcome.
    Bidders are shown by bid number; with a token, a buyer sees which bids are its own, and
    the region's operators and regulators (the seller once it is closed) see the accounts."""
    async with runtime_of(request).pool.acquire() as conn, conn.transaction(
            isolation="repeatable_read", readonly=True):
        trade = await store.load_trade(conn, trade_id)
        numbers = await store.trade_numbers(conn, trade_id)
    if trade is None:
        raise not_found(f"No listing trade {trade_id}.")
    return ListingTradeOut.of(trade, _viewer(principal, trade), numbers)


@router.post("/listing-trades/{trade_id}/registrations", status_code=201,
             response_model=RegistrationOut)
async def register(trade_id: uuid.UUID, request: Request, buyer: Buyer,
                   key: IdempotencyKey = None) -> Response:
    """Register as an intended buyer (意向受让方) while the announcement runs. The buyer
    qualifies when the settlement service confirms the deposit
    (``cn.techex.deposit.confirmed.v1``), at once if the deposit is 0."""
    runtime = runtime_of(request)
    now = runtime.clock.now()
    async with runtime.unit_of_work(await _region(request, trade_id),
                                    await Once.of_request(request, buyer, key)) as uow:
        before = await _locked(uow.conn, trade_id)
        after, registered = before.register(buyer.subject, now)
        uow.publish(registered)
        if before.terms.deposit_fen == 0:
            qualified = after.qualify(buyer.subject, now)
            assert qualified is not None
            after, event = qualified
            uow.publish(event)
        await store.save_trade(uow.conn, before, after, now)
        numbers = await store.trade_numbers(uow.conn, trade_id)
        return uow.answer(201, RegistrationOut(
            listing_trade_id=trade_id, bidder_id=buyer.subject,
            bidder_number=label(numbers[buyer.subject]), deposit_fen=after.terms.deposit_fen,
            qualified=buyer.subject in after.qualified))


@router.post("/listing-trades/{trade_id}/bids", status_code=201, response_model=BidOut,
             dependencies=[per_account("bids")], responses=rate_limited("bids"))
async def place_bid(trade_id: uuid.UUID, body: BidIn, request: Request, buyer: Buyer,
                    key: IdempotencyKey = None) -> Response:
    """Bid during the online bidding (qualified buyers only). A bid in the timed period
    restarts the countdown. A refused bid is answered 409 and recorded (``bid_rejected``)."""
    runtime = runtime_of(request)
    now = runtime.clock.now()
    async with runtime.unit_of_work(await _region(request, trade_id),
                                    await Once.of_request(request, buyer, key)) as uow:
        await store.lock_pending_deadline(uow.conn, BIDDING_CLOSE, str(trade_id))
        before = await _locked(uow.conn, trade_id)
        out = before.place_bid(buyer.subject, body.amount_fen, now)
        after = out.state
        uow.publish(*out.events)
        if not out.ok:  # the refusal is recorded (its event commits) and answered 409
            assert out.reason is not None
            high = before.ladder.high if before.ladder else None
            minimum = before.ladder.minimum() if before.ladder else None
            raise uow.refuse(BidRefused(
                detail=f"The bid was rejected: {out.reason.value}.", reason=out.reason.value,
                high_bid_fen=high.amount_fen if high else None, minimum_fen=minimum))
        await store.save_trade(uow.conn, before, after, now)
        if after.ends_at != before.ends_at:
            assert after.ends_at is not None
            await schedule(uow.conn, BIDDING_CLOSE, str(trade_id), after.ends_at)
        bid = out.accepted[0]
        assert after.ends_at is not None
        return uow.answer(201, BidOut(accepted=True, sequence=bid.sequence,
                                      amount_fen=bid.amount_fen, high_bid_fen=bid.amount_fen,
                                      ends_at=after.ends_at))


# -- events and deadlines ---------------------------------------------------------------------

async def qualify_by_deposit(conn: asyncpg.Connection, event: DepositConfirmed
                             ) -> tuple[str, list[Event]] | None:
    """Qualify a registered buyer whose deposit for a listing trade was confirmed.

    None if ``event.procedure_id`` is no listing trade; else the trade's region and the events
    to publish (none for a redelivery, or for a deposit that cannot qualify anyone: too small,
    unregistered bidder, period over; settlement releases such deposits with the others when
    the trade ends)."""
    before = await store.load_trade(conn, event.procedure_id, lock=True)
    if before is None:
        return None
    if event.amount_fen < before.terms.deposit_fen:
        log.warning("deposit %s of %s for listing trade %s is %d fen, below the %d required",
                    event.deposit_id, event.bidder_id, before.id, event.amount_fen,
                    before.terms.deposit_fen)
        return before.region, []
    try:
        out = before.qualify(event.bidder_id, event.confirmed_at)
    except RegistrationRefused as exc:
        log.warning("deposit %s of %s cannot qualify for listing trade %s: %s",
                    event.deposit_id, event.bidder_id, before.id, exc)
        return before.region, []
    if out is None:
        return before.region, []
    after, qualified = out
    await store.save_trade(conn, before, after, event.confirmed_at)
    return before.region, [qualified]


def deadline_handlers(runtime: Runtime) -> dict[str, Handler]:
    """The trade's deadline handlers, for the service's scheduler. Each decides from the
    trade's own state whether its deadline still applies."""

    async def period_end(conn: asyncpg.Connection, deadline: Deadline) -> None:
        now = runtime.clock.now()
        before = await store.load_trade(conn, uuid.UUID(deadline.key), lock=True)
        if before is None or before.status is not TradeStatus.ANNOUNCED:
            return
        if now < before.period_ends_at:  # fired early (clock skew): come back at the end
            await schedule(conn, PERIOD_END, deadline.key, before.period_ends_at)
            return
        after, events = before.end_period(now)
        await store.save_trade(conn, before, after, now)
        if after.status is TradeStatus.ANNOUNCED:  # another cycle
            await schedule(conn, PERIOD_END, deadline.key, after.period_ends_at)
        elif after.status is TradeStatus.BIDDING:
            assert after.ends_at is not None
            await schedule(conn, BIDDING_CLOSE, deadline.key, after.ends_at)
        await runtime.outbox.add(conn, events, region=after.region)

    async def bidding_close(conn: asyncpg.Connection, deadline: Deadline) -> None:
        now = runtime.clock.now()
        before = await store.load_trade(conn, uuid.UUID(deadline.key), lock=True)
        if before is None or before.status is not TradeStatus.BIDDING:
            return
        assert before.ends_at is not None
        if now < before.ends_at:
            await schedule(conn, BIDDING_CLOSE, deadline.key, before.ends_at)
            return
        after, events = before.close(now)
        await store.save_trade(conn, before, after, now)
        await runtime.outbox.add(conn, events, region=after.region)

    return {PERIOD_END: period_end, BIDDING_CLOSE: bidding_close}
