"""`techex demo` drives a real exchange through a trading day: the same code, against the four
service processes of an e2e exchange."""

from __future__ import annotations

import pytest

from techex.demo import Demo
from techex.seed.listing import seed_listing
from tests.support.exchange import Exchange

pytestmark = pytest.mark.timeout(600)


async def test_the_demo_trades_settles_and_registers_on_a_real_exchange(exchange: Exchange):
    counts = await seed_listing(exchange.databases["listing"], now=exchange.now())
    assert counts  # what the seed loaded, by kind
    lines: list[str] = []
    demo = Demo(exchange, say=lines.append)
    deals = await demo.run(auctions=2)
    turnover = await demo.summary()

    routes = sorted(d.route for d in deals)
    assert routes.count("auction") == 2 and "negotiated" in routes and "listing" in routes
    concluded = [d for d in deals if d.deal_id]
    assert {d.route for d in concluded} == {"auction", "negotiated", "listing"}
    # All but one deal are paid, settled and registered; the unpaid one (the listing trade,
    # concluded first) is in default by the end of the day.
    settled = [d for d in concluded if d.settled == "completed"]
    assert len(settled) == len(concluded) - 1
    [unpaid] = [d for d in concluded if d.settled != "completed"]
    assert (unpaid.route, unpaid.settled) == ("listing", "defaulted")
    assert any("did not pay" in line for line in lines)
    assert all(len(d.registration) == 16 for d in settled)
    assert any("last-minute bid" in line for line in lines)
    assert sum(n for n, _ in turnover.values()) == len(settled)
    assert sum(fen for _, fen in turnover.values()) == sum(d.price_fen for d in settled)
