"""Auctions: announcing and re-auctioning, the commands the bid engine applies, the close.

Commands on an announced auction (register, qualify, bid, proxy, close) go through its writer,
the bid engine (:mod:`.engine`): it applies each one to the state in memory with the function
of :data:`STEPS`, which calls the domain and says what to write, and writes the whole batch in
one transaction. Announcing (a new auction or a failed lot again) is an ordinary command.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from services.auction.domain.auction import Auction, AuctionTerms
from services.auction.domain.commands import (
    BidAnswer,
    Close,
    PlaceBid,
    Qualify,
    Register,
    Registration,
    SetProxy,
)
from services.auction.domain.errors import OwnedElsewhere
from services.auction.handlers.listings import check_startable, locked_listing
from services.auction.metrics import BIDS
from services.auction.schemas import AuctionIn, ReauctionIn
from services.auction.store import auctions as store
from shared.auth import Principal, authorize_region
from shared.context import Command, Tx
from shared.events.base import Event
from shared.problems import not_found
from shared.scheduler import Deadline, schedule

if TYPE_CHECKING:
    from services.auction.handlers.engine import BidEngine

CLOSE_DEADLINE = "auction.close"

CLOSE_RECHECK = timedelta(seconds=1)
"""How soon a fired close deadline looks again whether its auction now reads closed."""


# -- announcing -------------------------------------------------------------------------------

async def announce_auction(tx: Command, operator: Principal, body: AuctionIn) -> Auction:
    """Announce an auction of a published listing whose pricing route is auction."""
    listing = await locked_listing(tx, body.listing_id, operator)
    terms = AuctionTerms(start_price_fen=body.start_price_fen, increment_fen=body.increment_fen,
                         deposit_ratio=body.deposit_ratio, announce_at=tx.now(),
                         starts_at=body.starts_at, ends_at=body.ends_at,
                         reserve_fen=body.reserve_fen)
    await check_startable(tx, listing, "auction")
    auction, events = Auction.announce(terms, listing_id=body.listing_id,
                                       seller_id=listing["seller_id"], region=listing["region"])
    await _start(tx, auction, events)
    return auction


async def reauction(tx: Command, operator: Principal, auction_id: uuid.UUID,
                    body: ReauctionIn) -> Auction:
    """Auction a failed lot (流拍) again (the domain says within which time and price)."""
    previous = await store.load(tx.conn, auction_id)
    if previous is None:
        raise not_found(f"No auction {auction_id}.")
    authorize_region(operator, previous.region)
    now = tx.now()
    listing = await locked_listing(tx, previous.listing_id)
    await check_startable(tx, listing, "auction")
    auction, events = Auction.reauction(previous, body.start_price_fen, now,
                                        starts_at=body.starts_at, ends_at=body.ends_at)
    await _start(tx, auction, events)
    return auction


async def _start(tx: Tx, auction: Auction, events: tuple[Event, ...]) -> None:
    await store.insert_auction(tx.conn, auction)
    await schedule(tx.conn, CLOSE_DEADLINE, str(auction.id), auction.ends_at)
    tx.publish(*events)


# -- the commands the bid engine applies --------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """What one command did to the state: written together with the rest of its batch."""

    state: Auction
    events: tuple[Event, ...] = ()
    result: Any = None
    write: Callable[[Tx], Awaitable[None]] | None = None
    """The command's own rows, written in the batch's transaction."""


def place_bid(state: Auction, command: PlaceBid, now: datetime) -> Step:
    out = state.place_bid(command.bidder_id, command.amount_fen, now)
    new = out.state
    high = new.high_bid
    BIDS.labels("accepted" if out.ok else "rejected",
                out.reason.value if out.reason else "").inc()
    return Step(new, out.events, BidAnswer(
        accepted=out.ok, reason=out.reason.value if out.reason else None,
        sequence=out.accepted[0].sequence if out.accepted else None,
        amount_fen=command.amount_fen, high_bid_fen=high.amount_fen if high else None,
        ends_at=new.ends_at, automatic_bids=max(0, len(out.accepted) - 1)))


def set_proxy(state: Auction, command: SetProxy, now: datetime) -> Step:
    out = state.set_proxy(command.bidder_id, command.max_fen, now)
    new = out.state
    high = new.high_bid
    order = new.proxies.by_bidder[command.bidder_id].order

    async def write(tx: Tx) -> None:
        await store.save_proxy(tx.conn, state.id, command.bidder_id, command.max_fen, order,
                               now)

    return Step(new, out.events, BidAnswer(
        accepted=True, reason=None,
        sequence=out.accepted[-1].sequence if out.accepted else None,
        amount_fen=out.accepted[-1].amount_fen if out.accepted else 0,
        high_bid_fen=high.amount_fen if high else None, ends_at=new.ends_at,
        automatic_bids=len(out.accepted)), write)


def close_auction(state: Auction, command: Close, now: datetime) -> Step:
    if state.closed_at is not None or now < state.ends_at:
        return Step(state, (), False)
    new, events = state.close(now)

    async def write(tx: Tx) -> None:
        await store.save_close(tx.conn, new)
    return Step(new, events, True, write)


def register_bidder(state: Auction, command: Register, now: datetime) -> Step:
    new, event = state.register(command.bidder_id, now)
    result = Registration(command.bidder_id, state.terms.deposit_fen)

    async def write(tx: Tx) -> None:
        result.number = await store.add_bidder(tx.conn, state.id, command.bidder_id, now)
    return Step(new, (event,), result, write)


def qualify_bidder(state: Auction, command: Qualify, now: datetime) -> Step:
    out = state.qualify(command.bidder_id, now)
    if out is None:
        return Step(state, (), False)
    new, event = out
    result = Registration(command.bidder_id, state.terms.deposit_fen)

    async def write(tx: Tx) -> None:
        result.number = await store.add_bidder(tx.conn, state.id, command.bidder_id, now)
        await store.qualify_bidder(tx.conn, state.id, command.bidder_id, now)
    return Step(new, (event,), result, write)


STEPS: Mapping[type, Callable[[Auction, Any, datetime], Step]] = {
    PlaceBid: place_bid,
    SetProxy: set_proxy,
    Register: register_bidder,
    Qualify: qualify_bidder,
    Close: close_auction,
}
"""How the bid engine applies each command of :mod:`services.auction.domain.commands`."""


# -- the close deadline -------------------------------------------------------------------------

async def on_auction_close_due(tx: Tx, deadline: Deadline, engine: BidEngine) -> None:
    """Hand the close to the auction's writer and look again shortly, without waiting.

    Waiting here would hold this deadline's row lock while the writer may be saving a
    last-second bid that moves this very deadline, and needs that lock: each would wait
    for the other. So the close is queued (a no-op if the end moved or it is closed),
    and the deadline is due again after CLOSE_RECHECK until the auction reads closed.
    """
    auction_id = uuid.UUID(deadline.key)
    status = await store.status(tx.conn, auction_id)
    if status is None or status in ("closed", "failed"):
        return
    # Every process's scheduler may take the deadline; only the writer can close. A process
    # that does not write the auction just looks again later (or takes it over once a dead
    # writer's lease has lapsed).
    with contextlib.suppress(OwnedElsewhere):
        await engine.submit(auction_id, Close())
    await schedule(tx.conn, CLOSE_DEADLINE, deadline.key, tx.now() + CLOSE_RECHECK)


__all__ = ["CLOSE_DEADLINE", "CLOSE_RECHECK", "STEPS", "Step",
           "announce_auction", "close_auction", "on_auction_close_due", "place_bid",
           "qualify_bidder", "reauction", "register_bidder", "set_proxy"]
