"""Auctions over HTTP: announce, re-auction, read, register to bid."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from services.auction import handlers
from services.auction.domain.anonymity import label
from services.auction.domain.commands import Register, Registration
from services.auction.routes.bids import Engine, run_command
from services.auction.routes.forwarding import FORWARDED
from services.auction.schemas import (
    AuctionIn,
    AuctionOut,
    ReauctionIn,
    RegistrationOut,
    procedure_viewer,
)
from shared.idempotency import Answer, IdempotencyKey, Once
from shared.problems import PROBLEM_RESPONSES
from shared.roles import Anyone, Buyer, Operator
from shared.service import runtime_of

router = APIRouter(tags=["auctions"], responses=PROBLEM_RESPONSES)


@router.post("/auctions", status_code=201, response_model=AuctionOut)
async def announce(body: AuctionIn, request: Request, operator: Operator,
                   key: IdempotencyKey = None) -> Response:
    """Announce an auction of a published listing whose pricing route is auction."""
    once = await Once.of_request(request, operator, key)
    async with runtime_of(request).transaction(once) as tx:
        auction = await handlers.announce_auction(tx, operator, body)
        return tx.answer(201, AuctionOut.of(auction, auction.terms.announce_at,
                                            procedure_viewer(operator, auction)))


@router.post("/auctions/{auction_id}/reauction", status_code=201, response_model=AuctionOut)
async def reauction(auction_id: uuid.UUID, body: ReauctionIn, request: Request,
                    operator: Operator, key: IdempotencyKey = None) -> Response:
    """Auction a failed lot (流拍) again: within 30 days, start price cut by at most 20 %."""
    once = await Once.of_request(request, operator, key)
    async with runtime_of(request).transaction(once) as tx:
        auction = await handlers.reauction(tx, operator, auction_id, body)
        return tx.answer(201, AuctionOut.of(auction, auction.terms.announce_at,
                                            procedure_viewer(operator, auction)))


@router.get("/auctions/{auction_id}", response_model=AuctionOut, responses=FORWARDED)
async def get_auction(auction_id: uuid.UUID, request: Request, principal: Anyone,
                      engine: Engine) -> AuctionOut:
    """The auction as its writer holds it (the high bid and the current end). Bidders are
    shown by bid number; the winner's account only to those who may know it."""
    state, numbers = await engine.view(auction_id)
    return AuctionOut.of(state, runtime_of(request).clock.now(),
                         procedure_viewer(principal, state), numbers)


def _registered(auction_id: uuid.UUID, r: Registration) -> Answer:
    return Answer.json(201, RegistrationOut(auction_id=auction_id, bidder_id=r.bidder_id,
                                            bidder_number=label(r.number),
                                            deposit_fen=r.deposit_fen))


@router.post("/auctions/{auction_id}/registrations", status_code=201,
             response_model=RegistrationOut, responses=FORWARDED)
async def register_bidder(auction_id: uuid.UUID, request: Request, buyer: Buyer,
                          engine: Engine, key: IdempotencyKey = None) -> Response:
    """Register to bid and get your bid number; the bidder qualifies when the settlement
    service confirms the deposit (``cn.techex.deposit.confirmed.v1``)."""
    return await run_command(engine, auction_id, Register(buyer.subject),
                             await Once.of_request(request, buyer, key),
                             lambda r: _registered(auction_id, r))
