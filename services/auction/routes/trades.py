"""The listing trade (挂牌交易) over HTTP: announce, read, register, bid."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from services.auction import handlers
from services.auction.domain.anonymity import label
from services.auction.schemas import (
    BidIn,
    ListingTradeBidOut,
    ListingTradeIn,
    ListingTradeOut,
    ListingTradeRegistrationOut,
    procedure_viewer,
)
from services.auction.store import trades as store
from shared.auth import Principal, optional_principal
from shared.idempotency import IdempotencyKey, Once
from shared.problems import PROBLEM_RESPONSES, not_found
from shared.ratelimit import per_account, rate_limited
from shared.roles import Buyer, Operator
from shared.service import runtime_of

router = APIRouter(tags=["listing trades"], responses=PROBLEM_RESPONSES)


@router.post("/listing-trades", status_code=201, response_model=ListingTradeOut)
async def announce(body: ListingTradeIn, request: Request, operator: Operator,
                   key: IdempotencyKey = None) -> Response:
    """Announce a listing trade of a published listing whose pricing route is listing."""
    once = await Once.of_request(request, operator, key)
    async with runtime_of(request).transaction(once) as tx:
        trade = await handlers.announce_trade(tx, operator, body)
        return tx.answer(201, ListingTradeOut.of(trade, procedure_viewer(operator, trade), {}))


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
    return ListingTradeOut.of(trade, procedure_viewer(principal, trade), numbers)


@router.post("/listing-trades/{trade_id}/registrations", status_code=201,
             response_model=ListingTradeRegistrationOut)
async def register(trade_id: uuid.UUID, request: Request, buyer: Buyer,
                   key: IdempotencyKey = None) -> Response:
    """Register as an intended buyer (意向受让方) while the announcement runs. The buyer
    qualifies when the settlement service confirms the deposit
    (``cn.techex.deposit.confirmed.v1``), at once if the deposit is 0."""
    once = await Once.of_request(request, buyer, key)
    async with runtime_of(request).transaction(once) as tx:
        trade, number = await handlers.register_for_trade(tx, trade_id, buyer.subject)
        return tx.answer(201, ListingTradeRegistrationOut(
            listing_trade_id=trade_id, bidder_id=buyer.subject, bidder_number=label(number),
            deposit_fen=trade.terms.deposit_fen, qualified=buyer.subject in trade.qualified))


@router.post("/listing-trades/{trade_id}/bids", status_code=201,
             response_model=ListingTradeBidOut, dependencies=[per_account("bids")],
             responses=rate_limited("bids"))
async def place_bid(trade_id: uuid.UUID, body: BidIn, request: Request, buyer: Buyer,
                    key: IdempotencyKey = None) -> Response:
    """Bid during the online bidding (qualified buyers only). A bid in the timed period
    restarts the countdown. A refused bid is answered 409 and recorded (``bid_rejected``)."""
    once = await Once.of_request(request, buyer, key)
    async with runtime_of(request).transaction(once) as tx:
        trade, bid = await handlers.bid_on_trade(tx, trade_id, buyer.subject, body.amount_fen)
        assert trade.ends_at is not None
        return tx.answer(201, ListingTradeBidOut(
            accepted=True, sequence=bid.sequence, amount_fen=bid.amount_fen,
            high_bid_fen=bid.amount_fen, ends_at=trade.ends_at))
