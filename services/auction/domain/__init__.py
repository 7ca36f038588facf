"""The auction service's domain: the three pricing routes (定价方式). Pure: no I/O, no asyncio.

- :mod:`.auction` — ascending auction (增价拍卖) with anti-sniping and proxy bids;
- :mod:`.listing_trade` — listing trade (挂牌交易) with working-day periods and online bidding;
- :mod:`.notice` — negotiated price with public notice and objections (协议定价 + 公示);
- :mod:`.bidding` — the bid ladder the first two share; :mod:`.workdays` — the official calendar.

Money is integer fen; instants are aware and kept in UTC; days and working days are those of
Asia/Shanghai. Transitions return the new state and the events that record them.
"""

from services.auction.domain.auction import Auction, AuctionRules, AuctionTerms
from services.auction.domain.bidding import Bid, BidOutcome, RejectReason
from services.auction.domain.listing_trade import ListingTrade, ListingTradeTerms
from services.auction.domain.notice import BuyerRelation, Notice, NoticeTerms, ObjectionOutcome

__all__ = [
    "Auction",
    "AuctionRules",
    "AuctionTerms",
    "Bid",
    "BidOutcome",
    "BuyerRelation",
    "ListingTrade",
    "ListingTradeTerms",
    "Notice",
    "NoticeTerms",
    "ObjectionOutcome",
    "RejectReason",
]
