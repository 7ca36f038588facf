"""The listing trade (挂牌交易): announce, register, bid; the deposit that qualifies; its deadlines.

Bids here are rare (a handful of qualified buyers, and only when two or more qualified), so
each command simply locks the trade's row, rebuilds the domain state from the rows, applies
the domain and writes the difference with its events in one transaction (see
:mod:`services.auction.store`). No in-memory writer, no lease.

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
from datetime import timedelta

from services.auction.domain.bidding import Bid
from services.auction.domain.errors import BidRefused, RegistrationRefused
from services.auction.domain.listing_trade import ListingTrade, ListingTradeTerms, TradeStatus
from services.auction.handlers.listings import check_startable, locked_listing
from services.auction.schemas import ListingTradeIn
from services.auction.store import procedures
from services.auction.store import trades as store
from shared.auth import Principal
from shared.context import Command, Tx
from shared.events.settlement import DepositConfirmed
from shared.problems import not_found
from shared.scheduler import Deadline, schedule

log = logging.getLogger(__name__)

PERIOD_END = "listing_trade.period_end"
BIDDING_CLOSE = "listing_trade.close"


async def _locked(tx: Tx, trade_id: uuid.UUID) -> ListingTrade:
    trade = await store.load_trade(tx.conn, trade_id, lock=True)
    if trade is None:
        raise not_found(f"No listing trade {trade_id}.")
    return trade


# -- commands ---------------------------------------------------------------------------------

async def announce_trade(tx: Command, operator: Principal, body: ListingTradeIn
                         ) -> ListingTrade:
    """Announce a listing trade of a published listing whose pricing route is listing."""
    now = tx.now()
    listing = await locked_listing(tx, body.listing_id, operator)
    await check_startable(tx, listing, "listing")
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
    await store.insert_trade(tx.conn, trade, operator.subject)
    await schedule(tx.conn, PERIOD_END, str(trade.id), trade.period_ends_at)
    tx.publish(*events)
    return trade


async def register_for_trade(tx: Command, trade_id: uuid.UUID, buyer_id: str
                             ) -> tuple[ListingTrade, int]:
    """Register an intended buyer (意向受让方), qualified at once if the deposit is 0; the
    trade after it and the buyer's bid number."""
    now = tx.now()
    before = await _locked(tx, trade_id)
    after, registered = before.register(buyer_id, now)
    tx.publish(registered)
    if before.terms.deposit_fen == 0:
        qualified = after.qualify(buyer_id, now)
        assert qualified is not None
        after, event = qualified
        tx.publish(event)
    await store.save_trade(tx.conn, before, after, now)
    numbers = await store.trade_numbers(tx.conn, trade_id)
    return after, numbers[buyer_id]


async def bid_on_trade(tx: Command, trade_id: uuid.UUID, bidder_id: str, amount_fen: int
                       ) -> tuple[ListingTrade, Bid]:
    """Bid during the online bidding; a bid in the timed period restarts the countdown. A
    refused bid is recorded (its event commits) and refused with :class:`BidRefused`."""
    now = tx.now()
    await procedures.lock_pending_deadline(tx.conn, BIDDING_CLOSE, str(trade_id))
    before = await _locked(tx, trade_id)
    out = before.place_bid(bidder_id, amount_fen, now)
    after = out.state
    tx.publish(*out.events)
    if not out.ok:  # the refusal is recorded (its event commits) and answered 409
        assert out.reason is not None
        high = before.ladder.high if before.ladder else None
        minimum = before.ladder.minimum() if before.ladder else None
        raise tx.refuse(BidRefused(
            detail=f"The bid was rejected: {out.reason.value}.", reason=out.reason.value,
            high_bid_fen=high.amount_fen if high else None, minimum_fen=minimum))
    await store.save_trade(tx.conn, before, after, now)
    if after.ends_at != before.ends_at:
        assert after.ends_at is not None
        await schedule(tx.conn, BIDDING_CLOSE, str(trade_id), after.ends_at)
    return after, out.accepted[0]


# -- the deposit ------------------------------------------------------------------------------

async def qualify_by_deposit(tx: Tx, event: DepositConfirmed) -> bool:
    """Qualify a registered buyer whose deposit for a listing trade was confirmed.

    False if ``event.procedure_id`` is no listing trade. Nothing is published for a
    redelivery, or for a deposit that cannot qualify anyone (too small, unregistered bidder,
    period over): settlement releases such deposits with the others when the trade ends."""
    before = await store.load_trade(tx.conn, event.procedure_id, lock=True)
    if before is None:
        return False
    if event.amount_fen < before.terms.deposit_fen:
        log.warning("deposit %s of %s for listing trade %s is %d fen, below the %d required",
                    event.deposit_id, event.bidder_id, before.id, event.amount_fen,
                    before.terms.deposit_fen)
        return True
    try:
        out = before.qualify(event.bidder_id, event.confirmed_at)
    except RegistrationRefused as exc:
        log.warning("deposit %s of %s cannot qualify for listing trade %s: %s",
                    event.deposit_id, event.bidder_id, before.id, exc)
        return True
    if out is None:
        return True
    after, qualified = out
    await store.save_trade(tx.conn, before, after, event.confirmed_at)
    tx.publish(qualified)
    return True


# -- deadlines: each decides from the trade's own state whether it still applies ----------------

async def on_trade_period_end(tx: Tx, deadline: Deadline) -> None:
    now = tx.now()
    before = await store.load_trade(tx.conn, uuid.UUID(deadline.key), lock=True)
    if before is None or before.status is not TradeStatus.ANNOUNCED:
        return
    if now < before.period_ends_at:  # fired early (clock skew): come back at the end
        await schedule(tx.conn, PERIOD_END, deadline.key, before.period_ends_at)
        return
    after, events = before.end_period(now)
    await store.save_trade(tx.conn, before, after, now)
    if after.status is TradeStatus.ANNOUNCED:  # another cycle
        await schedule(tx.conn, PERIOD_END, deadline.key, after.period_ends_at)
    elif after.status is TradeStatus.BIDDING:
        assert after.ends_at is not None
        await schedule(tx.conn, BIDDING_CLOSE, deadline.key, after.ends_at)
    tx.publish(*events)


async def on_trade_bidding_close(tx: Tx, deadline: Deadline) -> None:
    now = tx.now()
    before = await store.load_trade(tx.conn, uuid.UUID(deadline.key), lock=True)
    if before is None or before.status is not TradeStatus.BIDDING:
        return
    assert before.ends_at is not None
    if now < before.ends_at:
        await schedule(tx.conn, BIDDING_CLOSE, deadline.key, before.ends_at)
        return
    after, events = before.close(now)
    await store.save_trade(tx.conn, before, after, now)
    tx.publish(*events)
