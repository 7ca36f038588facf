"""Every command, event reaction and deadline of the auction service: load (the store), call
the domain, save, publish in the transaction context.

- :mod:`.auctions` — announcing, the commands the bid engine applies, the close deadline;
- :mod:`.engine` — the bid engine, the auctions' handler runtime (one writer per auction);
- :mod:`.trades` — listing trades; :mod:`.notices` — negotiated notices;
- :mod:`.listings` — the listings this service knows; :mod:`.procedures` — settlement's events.
"""

from services.auction.handlers.auctions import (
    CLOSE_DEADLINE,
    CLOSE_RECHECK,
    STEPS,
    Step,
    announce_auction,
    close_auction,
    on_auction_close_due,
    place_bid,
    qualify_bidder,
    reauction,
    register_bidder,
    set_proxy,
)
from services.auction.handlers.engine import BidEngine
from services.auction.handlers.listings import (
    on_listing_created,
    on_listing_gone,
    on_listing_published,
)
from services.auction.handlers.notices import (
    NOTICE_END,
    PENDING_RECHECK,
    file_objection,
    file_public_objection,
    on_notice_end,
    publish_notice,
    resolve_objection,
)
from services.auction.handlers.procedures import (
    WINNER_DEFAULTED,
    on_deal_defaulted,
    on_deposit_confirmed,
)
from services.auction.handlers.trades import (
    BIDDING_CLOSE,
    PERIOD_END,
    announce_trade,
    bid_on_trade,
    on_trade_bidding_close,
    on_trade_period_end,
    qualify_by_deposit,
    register_for_trade,
)

__all__ = [
    "BIDDING_CLOSE",
    "CLOSE_DEADLINE",
    "CLOSE_RECHECK",
    "NOTICE_END",
    "PENDING_RECHECK",
    "PERIOD_END",
    "STEPS",
    "WINNER_DEFAULTED",
    "BidEngine",
    "Step",
    "announce_auction",
    "announce_trade",
    "bid_on_trade",
    "close_auction",
    "file_objection",
    "file_public_objection",
    "on_auction_close_due",
    "on_deal_defaulted",
    "on_deposit_confirmed",
    "on_listing_created",
    "on_listing_gone",
    "on_listing_published",
    "on_notice_end",
    "on_trade_bidding_close",
    "on_trade_period_end",
    "place_bid",
    "publish_notice",
    "qualify_bidder",
    "qualify_by_deposit",
    "reauction",
    "register_bidder",
    "register_for_trade",
    "resolve_objection",
    "set_proxy",
]
