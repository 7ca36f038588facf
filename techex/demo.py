"""`techex demo`: a trading day on a running exchange, so its metrics and dashboards show life.

It loads the listing seed (five provinces' achievements, demands and interests, through the
listing service's own command handlers and outbox), then drives the four services over their
HTTP APIs the way exchanges, sellers, buyers and registrars would:

- auctions of published achievements in several provinces: announced seven days ahead, buyers
  register and pay deposits, a bid war with proxies and last-minute bids that extend the end;
- a negotiated deal with its public notice and an objection the operator dismisses;
- a listing trade (挂牌) with one qualified buyer;
- settlement of the deals (one left unpaid, to show an outstanding payment), the losers'
  deposits released, and the sellers' contracts filed and registered.

The services run on the simulation clock of `techex up`; the demo moves it forward past
announcements and deadlines instead of waiting a week (see :mod:`shared.clock`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.auth import Role
from techex.client import CallFailed, ExchangeClient
from techex.seed.vocabulary import PARTIES, PartyRow

SHANGHAI = ZoneInfo("Asia/Shanghai")
PROVINCES = ("230000", "130000", "120000", "210000", "350000")
TRANSFERABLE = ("patent_invention", "patent_utility", "patent_application", "trade_secret")
ENTERPRISES = tuple(p for p in PARTIES if p.kind == "enterprise")
BY_SLUG = {p.slug: p for p in PARTIES}


@dataclass
class Deal:
    route: str
    procedure_id: str
    listing: dict[str, Any]
    buyer: PartyRow | None = None
    deal_id: str | None = None
    price_fen: int | None = None
    settled: str = ""
    registration: str = ""


@dataclass
class Demo:
    api: ExchangeClient
    say: Callable[[str], None] = print
    rng: random.Random = field(default_factory=lambda: random.Random(2026))
    deals: list[Deal] = field(default_factory=list)

    def operator(self, region: str) -> dict[str, str]:
        return self.api.as_(Role.OPERATOR, region[:2] + "0000", f"exchange-{region[:2]}")

    def buyer(self, party: PartyRow) -> dict[str, str]:
        return self.api.as_(Role.BUYER, party.region, party.slug)

    def clock(self, what: str) -> None:
        local = self.api.now().astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        self.say(f"\n[{local} Beijing time] {what}")

    # -- finding what to trade --------------------------------------------------------------

    async def published(self, route: str, province: str, count: int) -> list[dict[str, Any]]:
        """Published achievements of ``province`` for ``route`` that a contract can transfer."""
        page = await self.api.call(
            "listing", "GET", "/search/achievements", self.operator(province),
            params={"pricing_route": route, "region": province, "limit": 50,
                    "ip_type": list(TRANSFERABLE)})
        hits = [h for h in page["items"] if h["reference_price_fen"]]
        self.rng.shuffle(hits)
        return [await self.api.call("listing", "GET", f"/achievements/{h['id']}",
                                    self.operator(province)) for h in hits[:count]]

    def bidders(self, n: int, exclude: str) -> list[PartyRow]:
        return self.rng.sample([p for p in ENTERPRISES if p.slug != exclude], n)

    # -- the three routes ---------------------------------------------------------------------

    async def announce_auction(self, listing: dict[str, Any]) -> Deal:
        start = _round(listing["reference_price_fen"] * 0.8, 1_000_000)
        starts = self.api.now() + timedelta(days=7, minutes=10)
        op = self.operator(listing["region"])
        auction = await self.api.once_published("/auctions", {
            "listing_id": listing["id"], "start_price_fen": start,
            "increment_fen": _round(start * 0.02, 100_000), "deposit_ratio": "0.10",
            "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=24)).isoformat(),
        }, op)
        self.say(f"  auction  {listing['title']} ({listing['region']}): start "
                 f"¥{start / 100:,.0f}, deposit ¥{auction['deposit_fen'] / 100:,.0f}")
        for party in self.bidders(3, listing["seller_id"]):
            await self.api.call("auction", "POST", f"/auctions/{auction['id']}/registrations",
                                self.buyer(party), expect=201)
            await self.api.confirm_deposit(op, auction["id"], party.slug, auction["deposit_fen"],
                                           f"DEMO-{party.slug}-{auction['id'][:8]}")
            self.say(f"           {party.name} registered, deposit received")
        deal = Deal("auction", auction["id"], listing)
        self.deals.append(deal)
        return deal

    async def publish_notice(self, listing: dict[str, Any]) -> Deal:
        op = self.operator(listing["region"])
        buyer, objector = self.bidders(2, listing["seller_id"])
        price = listing["reference_price_fen"]
        notice = await self.api.once_published("/notices", {
            "listing_id": listing["id"], "project_name": listing["title"],
            "abstract": listing["abstract"][:500], "transfer_mode": listing["transfer_mode"],
            "price_fen": price, "buyer_id": buyer.slug, "buyer_name": buyer.name,
            "buyer_relation": "none", "days": 15}, op)
        self.say(f"  notice   {listing['title']}: ¥{price / 100:,.0f} to {buyer.name}, 15 days")
        objection = await self.api.call(
            "auction", "POST", f"/notices/{notice['id']}/objections", self.buyer(objector),
            expect=201, json={"grounds": "我公司认为该成果定价明显偏低，请求复核评估报告。"})
        await self.api.call(
            "auction", "POST", f"/notices/{notice['id']}/objections/{objection['id']}/resolve",
            op, json={"outcome": "dismissed",
                      "reason": "经复核，成交价不低于第三方评估价值，异议不成立。"})
        self.say(f"           {objector.name} objected; the operator dismissed it with reasons")
        deal = Deal("negotiated", notice["id"], listing, buyer=buyer)
        self.deals.append(deal)
        return deal

    async def announce_listing_trade(self, listing: dict[str, Any]) -> Deal | None:
        op = self.operator(listing["region"])
        price = listing["reference_price_fen"]
        deposit = _round(price * 0.05, 100_000)
        try:
            trade = await self.api.once_published("/listing-trades", {
                "listing_id": listing["id"], "listed_price_fen": price,
                "increment_fen": _round(price * 0.01, 100_000), "deposit_fen": deposit,
                "working_days": 5}, op)
        except CallFailed as refused:
            if "calendar" not in str(refused):
                raise
            self.say("  (no listing trade: the official working-day calendar of those dates "
                     "is not installed yet)")
            return None
        [buyer] = self.bidders(1, listing["seller_id"])
        await self.api.call("auction", "POST", f"/listing-trades/{trade['id']}/registrations",
                            self.buyer(buyer), expect=201)
        await self.api.confirm_deposit(op, trade["id"], buyer.slug, deposit)
        self.say(f"  listing  {listing['title']}: listed at ¥{price / 100:,.0f} for 5 working "
                 f"days; {buyer.name} registered and paid its deposit")
        deal = Deal("listing", trade["id"], listing, buyer=buyer)
        self.deals.append(deal)
        return deal

    # -- bidding ------------------------------------------------------------------------------

    async def bid_war(self, deal: Deal) -> datetime:
        """Rounds of bids among the registered buyers, one proxy; returns the current end."""
        aid = deal.procedure_id
        state = await self.api.call("auction", "GET", f"/auctions/{aid}",
                                    self.operator(deal.listing["region"]))
        bidders = [BY_SLUG[r["bidder_id"]] for r in await self.api.call(
            "settlement", "GET", "/deposits", self.operator(deal.listing["region"]),
            params={"procedure_id": aid})]
        high, step = None, state["increment_fen"]
        proxy_set = False
        ends_at = _ts(state["ends_at"])
        for _ in range(self.rng.randint(5, 9)):
            party = self.rng.choice(bidders)
            if not proxy_set and high is not None and self.rng.random() < 0.3:
                top = high + step * self.rng.randint(4, 8)
                answer = await self.api.call("auction", "PUT", f"/auctions/{aid}/proxy",
                                             self.buyer(party), json={"max_fen": top})
                proxy_set = True
            else:
                amount = state["start_price_fen"] if high is None else (
                    high + step * self.rng.randint(1, 3))
                r = await self.api.client.post(self.api.url("auction", f"/auctions/{aid}/bids"),
                                               headers=self.buyer(party),
                                               json={"amount_fen": amount})
                answer = r.json()
            if answer.get("high_bid_fen"):
                high = answer["high_bid_fen"]
            if answer.get("ends_at"):
                ends_at = max(ends_at, _ts(answer["ends_at"]))
        return ends_at

    async def snipe(self, deal: Deal) -> datetime:
        """A bid in the last minutes: the end moves to five minutes after it."""
        aid = deal.procedure_id
        state = await self.api.call("auction", "GET", f"/auctions/{aid}",
                                    self.operator(deal.listing["region"]))
        deposits = await self.api.call("settlement", "GET", "/deposits",
                                       self.operator(deal.listing["region"]),
                                       params={"procedure_id": aid})
        for row in deposits:
            amount = (state["high_bid_fen"] or state["start_price_fen"]) + state["increment_fen"]
            r = await self.api.client.post(
                self.api.url("auction", f"/auctions/{aid}/bids"),
                headers=self.buyer(BY_SLUG[row["bidder_id"]]), json={"amount_fen": amount})
            if r.status_code == 201:
                ends = _ts(r.json()["ends_at"])
                self.say(f"  last-minute bid on {deal.listing['title']}: "
                         f"¥{amount / 100:,.0f}, bidding now ends {ends:%H:%M:%S} UTC")
                return ends
        return _ts(state["ends_at"])

    # -- after the close ------------------------------------------------------------------------

    async def outcome(self, deal: Deal) -> None:
        path = {"auction": "/auctions/", "negotiated": "/notices/",
                "listing": "/listing-trades/"}[deal.route] + deal.procedure_id
        op = self.operator(deal.listing["region"])
        body = await self.api.until("auction", path, op, lambda b: b["status"] not in (
            "announced", "open", "published", "bidding"), f"the {deal.route} to end")
        deal.deal_id = body.get("deal_id")
        winner = body.get("winner_id") or body.get("buyer_id")
        deal.buyer = BY_SLUG.get(winner) if winner else None
        deal.price_fen = body.get("hammer_price_fen") or body.get("price_fen")

    async def settle(self, deal: Deal, pay: bool) -> None:
        op = self.operator(deal.listing["region"])
        d = await self.api.until("settlement", f"/deals/{deal.deal_id}", op, lambda b: True,
                                 "the deal to reach settlement")
        if pay and d["outstanding_fen"]:
            await self.api.call("settlement", "POST", f"/deals/{deal.deal_id}/payments", op,
                                expect=201, json={"amount_fen": d["outstanding_fen"],
                                                  "reference": f"DEMO-PAY-{deal.deal_id[:8]}"},
                                headers={"Idempotency-Key": f"demo-{deal.deal_id}"})
            d = await self.api.call("settlement", "GET", f"/deals/{deal.deal_id}", op)
        deal.settled = d["status"]

    async def wait_default(self, deal: Deal) -> None:
        op = self.operator(deal.listing["region"])
        try:
            d = await self.api.until("settlement", f"/deals/{deal.deal_id}", op,
                                     lambda b: b["status"] != "open", "the default", timeout=20)
        except TimeoutError:
            return  # not due yet: it stays open
        deal.settled = d["status"]

    async def register(self, deal: Deal) -> None:
        seller = BY_SLUG[deal.listing["seller_id"]]
        as_seller = self.api.as_(Role.SELLER, seller.region, seller.slug)
        drafts = await self.api.until("registry", "/drafts", as_seller,
                                      lambda ds: any(d["deal_id"] == deal.deal_id for d in ds),
                                      "the contract draft")
        [draft] = [d for d in drafts if d["deal_id"] == deal.deal_id]
        assert deal.buyer is not None and deal.price_fen is not None
        today = self.api.now().date()
        ip = deal.listing["ip_type"]
        terms = {**draft["terms"],
                 "category": "transfer",
                 "subtype": "trade_secret" if ip == "trade_secret" else (
                     "patent_application" if ip == "patent_application" else "patent"),
                 "total_amount_fen": deal.price_fen, "tech_amount_fen": deal.price_fen,
                 "signed_on": today.isoformat(), "valid_from": today.isoformat(),
                 "valid_until": today.replace(year=today.year + 5).isoformat(),
                 "tech_field": deal.listing["field"],
                 "parties": [_party("seller", seller), _party("buyer", deal.buyer)],
                 "ip": {"ip_type": ip, "name": deal.listing["title"],
                        "numbers": deal.listing["ip_numbers"]},
                 "expected_investment_fen": deal.price_fen * 3,
                 "expected_output_fen": deal.price_fen * 12}
        await self.api.call("registry", "POST", f"/contracts/{draft['id']}/submission",
                            as_seller, json=terms)
        registrar = self.api.as_(Role.REGISTRAR, seller.region[:2] + "0000",
                                 f"registrar-{seller.region[:2]}")
        done = await self.api.call("registry", "POST", f"/contracts/{draft['id']}/registration",
                                   registrar)
        deal.registration = done["registration_number"]

    # -- the day ------------------------------------------------------------------------------

    async def run(self, auctions: int = 4) -> list[Deal]:
        self.clock("Morning: the exchanges announce today's procedures")
        for province in PROVINCES[:auctions]:
            for listing in await self.published("auction", province, 1):
                await self.announce_auction(listing)
        for listing in await self.published("negotiated", "230000", 1):
            await self.publish_notice(listing)
        for listing in await self.published("listing", "130000", 1):
            await self.announce_listing_trade(listing)

        auctions_ = [d for d in self.deals if d.route == "auction"]
        if auctions_:
            self.api.advance(timedelta(days=7, minutes=11))
            self.clock("Seven days later: the auctions open")
            ends = [await self.bid_war(d) for d in auctions_]
            for d, end in zip(auctions_, ends, strict=True):
                self.say(f"  {d.listing['title']}: bidding until {end:%Y-%m-%d %H:%M} UTC")
            self.api.advance_to(min(ends) - timedelta(minutes=3))
            self.clock("The last minutes")
            ends = [await self.snipe(d) for d in auctions_]
            self.api.advance_to(max(ends) + timedelta(seconds=10))
            self.clock("Bidding has ended")
        others = [d for d in self.deals if d.route != "auction"]
        if others:
            self.api.advance(timedelta(days=16))
            self.clock("The notice and the listing period have run out")
        for d in self.deals:
            await self.outcome(d)
            result = (f"{d.buyer.name} at ¥{d.price_fen / 100:,.0f}" if d.deal_id and d.buyer
                      else "no deal")
            self.say(f"  {d.route:10} {d.listing['title']}: {result}")

        self.clock("Settlement: buyers pay, sellers and inventor teams are paid out")
        concluded = [d for d in self.deals if d.deal_id]
        for i, d in enumerate(concluded):
            # The last deal (the earliest concluded, when a listing trade ran) stays unpaid.
            await self.settle(d, pay=i < len(concluded) - 1 or len(concluded) == 1)
        self.api.advance(timedelta(hours=25))  # the losers' deposits are released
        unpaid = [d for d in concluded if d.settled == "open"]
        if unpaid:
            self.api.advance(timedelta(days=4))
            self.clock("Days later: an unpaid deal is past its due date and the grace period")
        for d in unpaid:
            await self.wait_default(d)
            if d.settled == "defaulted":
                self.say(f"  {d.buyer.name if d.buyer else '?'} did not pay for "
                         f"{d.listing['title']}: deposit forfeited, the lot is offered again")

        self.clock("Registration: sellers file their contracts, registrars register them")
        for d in concluded:
            if d.settled == "completed":
                await self.register(d)
        return self.deals

    async def summary(self) -> dict[str, tuple[int, int]]:
        """Print the deals and each province's registered turnover; returns the latter as
        ``{province: (contracts, technology transaction amount in fen)}``."""
        self.say("\nThe day's deals")
        for d in self.deals:
            price = f"¥{d.price_fen / 100:,.0f}" if d.price_fen else "-"
            self.say(f"  {d.route:10} {price:>14}  {d.settled or 'no deal':10} "
                     f"{d.registration or '':17} {d.listing['title']}")
        year = self.api.now().astimezone(SHANGHAI).year  # the registrations' year (numbered in it)
        self.say(f"\nRegistered technology-contract turnover, {year}")
        turnover: dict[str, tuple[int, int]] = {}
        for province in PROVINCES:
            reader = self.api.as_(Role.REGULATOR, province, f"regulator-{province}")
            stats = await self.api.call("registry", "GET", "/statistics", reader,
                                        params={"region": province, "year": year})
            self.say(f"  {stats['name']:8} {stats['contracts']:4} contracts  "
                     f"¥{stats['tech_amount_fen'] / 100:>14,.0f}")
            turnover[province] = (stats["contracts"], stats["tech_amount_fen"])
        return turnover


def _party(role: str, p: PartyRow) -> dict[str, Any]:
    return {"role": role, "name": p.name, "party_id": p.slug, "region": p.region,
            "entity_type": p.kind}


def _round(value: float, unit: int) -> int:
    return max(unit, int(value) // unit * unit)


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
