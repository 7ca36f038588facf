"""The auction service's business metrics (Prometheus)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from services.auction.store import procedures
from shared.service import Runtime

BIDS = Counter("techex_auction_bids_total", "Bids by outcome and reject reason",
               ["outcome", "reason"])
BATCH_SIZE = Histogram("techex_auction_batch_size", "Commands written per batch",
                       buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024))
BID_SECONDS = Histogram("techex_auction_bid_seconds", "From a bid's arrival to its durable answer",
                        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
EXTENSIONS = Counter("techex_auction_extensions_total", "Anti-sniping extensions of an end")
OWNED = Gauge("techex_auction_owned", "Auctions whose writer runs in this process")
PROCEDURES = Gauge("techex_auction_procedures", "Pricing procedures by route and status",
                   ["route", "status"])


async def count_procedures(runtime: Runtime) -> None:
    """Keep the procedures gauge (active auctions, trades, notices) current."""
    for r in await procedures.counts(runtime.pool):
        PROCEDURES.labels(r["route"], r["status"]).set(r["n"])
