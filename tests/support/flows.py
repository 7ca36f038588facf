"""The steps that bring a whole exchange to a running auction, through its APIs: an approved
listing, an announced auction, bidders registered and their deposits confirmed, the clock
moved to the opening."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from shared.auth import Role
from techex.client import ExchangeClient, eventually
from tests.support.listing import achievement

START = 150_000_000      # ¥1,500,000
INCREMENT = 5_000_000    # ¥50,000
SELLER, SELLER_REGION = "hit", "230102"
BUYER_REGION = "230103"


def operator(ex: ExchangeClient) -> dict[str, str]:
    return ex.as_(Role.OPERATOR, "230100", "harbin-exchange")


def buyer(ex: ExchangeClient, name: str) -> dict[str, str]:
    return ex.as_(Role.BUYER, BUYER_REGION, name)


async def approved_listing(ex: ExchangeClient, **overrides: Any) -> str:
    """A published achievement of the seller, priced by auction; its id."""
    seller = ex.as_(Role.SELLER, SELLER_REGION, SELLER)
    body = achievement(reference_price_fen=START, **overrides)
    lid = (await ex.call("listing", "POST", "/achievements", seller, expect=201, json=body))["id"]
    await ex.call("listing", "POST", f"/achievements/{lid}/submit", seller)
    await ex.call("listing", "POST", f"/achievements/{lid}/review", operator(ex))
    await ex.call("listing", "POST", f"/achievements/{lid}/approve", operator(ex))
    return lid


async def announced_auction(ex: ExchangeClient, listing_id: str, *, hours: float = 24
                            ) -> dict[str, Any]:
    """An auction of the listing opening in seven days and a minute, ``hours`` long."""
    starts = ex.now() + timedelta(days=7, minutes=1)
    return await ex.once_published("/auctions", {
        "listing_id": listing_id, "start_price_fen": START, "increment_fen": INCREMENT,
        "deposit_ratio": "0.10", "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=hours)).isoformat()}, operator(ex))


async def register(ex: ExchangeClient, auction_id: str, names: Iterable[str]) -> None:
    for name in names:
        await ex.call("auction", "POST", f"/auctions/{auction_id}/registrations",
                      buyer(ex, name), expect=201)


async def qualify(ex: ExchangeClient, auction: dict[str, Any], names: Iterable[str]) -> None:
    """Register the bidders and confirm their deposits."""
    names = list(names)
    await register(ex, auction["id"], names)
    for name in names:
        await ex.confirm_deposit(operator(ex), auction["id"], name, auction["deposit_fen"],
                                 f"ICBC-{name}")


async def first_bid(ex: ExchangeClient, auction_id: str, name: str, amount: int = START
                    ) -> dict[str, Any]:
    """The bidder's first bid, placed once the deposit's event has qualified it at the
    auction service."""
    async def accepted() -> dict[str, Any] | None:
        r = await ex.client.post(ex.url("auction", f"/auctions/{auction_id}/bids"),
                                 headers=buyer(ex, name), json={"amount_fen": amount})
        if r.status_code == 201:
            return r.json()
        assert r.json().get("reason") == "not-qualified", r.text
        return None
    return await eventually(accepted, f"{name} to qualify")


async def auction_open_for_bidding(ex: ExchangeClient, bidders: Iterable[str]
                                   ) -> dict[str, Any]:
    """An auction of a fresh listing with ``bidders`` qualified, the clock moved into its
    bidding time; the auction as announced."""
    auction = await announced_auction(ex, await approved_listing(ex))
    await qualify(ex, auction, bidders)
    ex.advance(timedelta(days=7, minutes=2))
    return auction
