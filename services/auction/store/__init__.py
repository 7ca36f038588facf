"""All SQL of the auction service, a module per aggregate (asyncpg).

- :mod:`.auctions` — auctions: ownership leases, the state rebuilt from its rows, bid batches;
- :mod:`.trades` — listing trades (挂牌); :mod:`.notices` — negotiated notices (协议定价 + 公示);
- :mod:`.listings` — the listings this service knows, read from the listing service's events;
- :mod:`.procedures` — what the three procedures share: bid numbers, deadline locks, defaults.

Persistence is by rows, not by snapshot: a procedure's row holds its terms and the scalar part
of its state; bidders, bids and objections have rows of their own. ``load_*`` rebuilds the pure
domain object from them (replaying the bids through the ladder, so the bidding end is derived,
never trusted); ``save_*`` writes the difference between the state before and after a command.
The derived columns (``period_ends_at``, ``high_bid_fen``, …) are for reads only.

Commands on a listing trade or notice lock in one order, the procedure's pending deadline row
first (if they may move it), then the procedure row. The scheduler holds the deadline row while
its handler locks the procedure row, so the same order on both sides rules out a deadlock
between a bid and the close firing at that moment; and since the scheduler claims with
``SKIP LOCKED``, it simply comes back for a deadline a command is moving.
"""
