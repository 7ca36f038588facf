"""A trade across a provincial border, driven over two deployments' HTTP APIs: a Tianjin
university lists an achievement; Hebei's search finds it (Tianjin's public catalog, mirrored);
a Hebei enterprise registers, pays its deposit and wins the Tianjin auction with its own Hebei
token (Tianjin trusts Hebei's token issuer); the deal is settled and the contract registered in
Tianjin, which counts it as an outflow to Hebei, and Hebei as an inflow from Tianjin.

Used by `techex demo --federation` and the federation's end-to-end tests. Both deployments run
on one simulation clock, so moving it on one side moves the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.auth import Role
from shared.federation import NATIONAL_STAFF_REGION
from techex.client import ExchangeClient, eventually

SHANGHAI = ZoneInfo("Asia/Shanghai")
START_FEN = 80_000_000        # ¥800,000
INCREMENT_FEN = 2_000_000     # ¥20,000
SELLER, SELLER_REGION, SELLER_NAME = "tju", "120104", "天津大学"                # 南开区
RIVAL, RIVAL_REGION = "tj-binhai-coatings", "120116"                           # 滨海新区
BUYER, BUYER_REGION, BUYER_NAME = "jizhong-steel", "130109", "冀中钢铁有限公司"  # 藁城区
IP_NUMBER = "ZL201910034567.3"


def achievement(marker: str) -> dict[str, Any]:
    """A Tianjin achievement whose title carries ``marker`` (so a search finds this one)."""
    return {
        "title": f"高强度耐候钢连铸工艺 {marker}",
        "abstract": "面向京津冀钢铁企业的高强度耐候钢连铸控冷工艺，屈服强度提升15%，"
                    "已在中试线验证。",
        "region": SELLER_REGION,
        "field": "new_materials",
        "industry": "钢铁冶炼",
        "keywords": ["耐候钢", "连铸", "京津冀"],
        "ip_type": "patent_invention",
        "ip_numbers": [IP_NUMBER],
        "trl": 6,
        "holders": [{"name": SELLER_NAME, "kind": "university"}],
        "inventors": ["王强", "刘洋"],
        "transfer_mode": "transfer",
        "pricing_route": "auction",
        "reference_price_fen": START_FEN,
    }


@dataclass
class Trade:
    marker: str
    listing_id: str = ""
    auction_id: str = ""
    deal_id: str = ""
    price_fen: int = 0
    registration_number: str = ""
    bidder_id: str = ""
    """The Hebei buyer as Tianjin knows it: ``<partner alias>:<subject>``."""


@dataclass
class CrossBorder:
    seller_side: ExchangeClient
    """Tianjin: where the achievement is listed, auctioned, settled and registered."""
    buyer_side: ExchangeClient
    """Hebei: whose enterprise bids, with a token of Hebei's."""
    buyer_alias: str = "hebei"
    say: Callable[[str], None] = print
    steps: list[str] = field(default_factory=list)

    def _say(self, line: str) -> None:
        self.steps.append(line)
        self.say(line)

    @property
    def operator(self) -> dict[str, str]:
        return self.seller_side.as_(Role.OPERATOR, "120000", "tianjin-exchange")

    @property
    def seller(self) -> dict[str, str]:
        return self.seller_side.as_(Role.SELLER, SELLER_REGION, SELLER)

    @property
    def rival(self) -> dict[str, str]:
        return self.seller_side.as_(Role.BUYER, RIVAL_REGION, RIVAL)

    @property
    def buyer(self) -> dict[str, str]:
        """A Hebei token: minted by Hebei's issuer, not Tianjin's."""
        return self.buyer_side.as_(Role.BUYER, BUYER_REGION, BUYER)

    async def list(self, marker: str) -> Trade:
        """List and approve the achievement in Tianjin."""
        trade = Trade(marker)
        api = self.seller_side
        trade.listing_id = (await api.call("listing", "POST", "/achievements", self.seller,
                                           expect=201, json=achievement(marker)))["id"]
        for step, who in (("submit", self.seller), ("review", self.operator),
                          ("approve", self.operator)):
            await api.call("listing", "POST", f"/achievements/{trade.listing_id}/{step}", who)
        self._say(f"Tianjin: {SELLER_NAME} lists 高强度耐候钢连铸工艺 {marker} "
                  f"({trade.listing_id}), approved and published")
        return trade

    async def found_in_partner(self, trade: Trade, timeout: float = 60) -> dict[str, Any]:
        """The listing as Hebei's public search shows it (it came through the catalog)."""
        async def look() -> dict[str, Any] | None:
            r = await self.buyer_side.client.get(
                self.buyer_side.url("listing", "/public/achievements"),
                params={"q": trade.marker, "origin": "partners"})
            r.raise_for_status()
            hits = [i for i in r.json()["items"] if i["id"] == trade.listing_id]
            return hits[0] if hits else None
        hit = await eventually(look, "Hebei's search to find the Tianjin listing", timeout)
        self._say(f"Hebei: the search finds it, from {hit['origin']['name']}: "
                  f"{hit.get('origin_url')}")
        return hit

    async def auction(self, trade: Trade) -> Trade:
        """Announce, register both bidders (the Hebei one with its Hebei token), pay their
        deposits, run a short bid war that the Hebei enterprise wins, close."""
        api = self.seller_side
        starts = api.now() + timedelta(days=7, minutes=1)
        auction = await api.once_published("/auctions", {
            "listing_id": trade.listing_id, "start_price_fen": START_FEN,
            "increment_fen": INCREMENT_FEN, "deposit_ratio": "0.10",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=24)).isoformat()}, self.operator)
        trade.auction_id, deposit = auction["id"], auction["deposit_fen"]
        self._say(f"Tianjin: auction {trade.auction_id} announced, deposit ¥{deposit // 100:,}")
        registered = await api.call("auction", "POST",
                                    f"/auctions/{trade.auction_id}/registrations", self.buyer,
                                    expect=201)
        trade.bidder_id = registered.get("bidder_id") or f"{self.buyer_alias}:{BUYER}"
        await api.call("auction", "POST", f"/auctions/{trade.auction_id}/registrations",
                       self.rival, expect=201)
        for bidder in (trade.bidder_id, RIVAL):
            await api.confirm_deposit(self.operator, trade.auction_id, bidder, deposit,
                                      f"BOC-{bidder}")
        self._say(f"Tianjin: {BUYER_NAME} registers with its Hebei token as {trade.bidder_id}; "
                  "both deposits paid")

        api.advance(timedelta(days=7, minutes=2))
        path = f"/auctions/{trade.auction_id}/bids"

        async def opening_bid() -> dict[str, Any] | None:  # once the deposit reached auction
            r = await api.client.post(api.url("auction", path), headers=self.rival,
                                      json={"amount_fen": START_FEN})
            if r.status_code == 201:
                return r.json()
            if r.json().get("reason") != "not-qualified":
                raise AssertionError(r.text)
            return None
        first = await eventually(opening_bid, "the rival to qualify")
        high, last = START_FEN, first
        for who in (self.buyer, self.rival, self.buyer):
            high += INCREMENT_FEN
            last = await self._bid(path, who, high)
        self._say(f"Tianjin: bid war, {BUYER_NAME} leads at ¥{high // 100:,}")

        api.advance_to(_ts(last["ends_at"]) + timedelta(seconds=5))
        closed = await api.until("auction", f"/auctions/{trade.auction_id}", self.operator,
                                 lambda a: a["status"] in ("closed", "failed"), "the close")
        if closed["status"] != "closed" or closed["winner_id"] != trade.bidder_id:
            raise AssertionError(f"the auction did not go to {trade.bidder_id}: {closed}")
        trade.deal_id, trade.price_fen = closed["deal_id"], closed["hammer_price_fen"]
        self._say(f"Tianjin: hammer at ¥{trade.price_fen // 100:,} to {trade.bidder_id}")
        return trade

    async def _bid(self, path: str, who: dict[str, str], amount: int) -> dict[str, Any]:
        async def place() -> dict[str, Any] | None:
            r = await self.seller_side.client.post(self.seller_side.url("auction", path),
                                                   headers=who, json={"amount_fen": amount})
            if r.status_code == 201:
                return r.json()
            if r.json().get("reason") != "not-qualified":
                raise AssertionError(r.text)
            return None
        return await eventually(place, f"a bid of {amount}")

    async def settle_and_register(self, trade: Trade) -> Trade:
        """Pay the deal in Tianjin; the seller files the contract and Tianjin registers it."""
        api = self.seller_side
        deal = await api.until("settlement", f"/deals/{trade.deal_id}", self.operator,
                               lambda d: True, "the deal to reach settlement")
        await api.call("settlement", "POST", f"/deals/{trade.deal_id}/payments", self.operator,
                       expect=201, json={"amount_fen": deal["outstanding_fen"],
                                         "reference": f"BOC-{trade.deal_id[:8]}"},
                       headers={"Idempotency-Key": f"pay-{trade.deal_id}"})
        drafts = await api.until("registry", "/drafts", self.seller,
                                 lambda ds: any(d["deal_id"] == trade.deal_id for d in ds),
                                 "the contract draft")
        [draft] = [d for d in drafts if d["deal_id"] == trade.deal_id]
        today = api.now().date()
        terms = {**draft["terms"],
                 "category": "transfer", "subtype": "patent",
                 "tech_amount_fen": trade.price_fen, "total_amount_fen": trade.price_fen,
                 "tech_field": "new_materials",
                 "parties": [
                     {"role": "seller", "name": SELLER_NAME, "party_id": SELLER,
                      "region": SELLER_REGION, "entity_type": "university"},
                     {"role": "buyer", "name": BUYER_NAME, "party_id": trade.bidder_id,
                      "region": BUYER_REGION, "entity_type": "enterprise"}],
                 "ip": {"ip_type": "patent_invention", "numbers": [IP_NUMBER]},
                 "expected_investment_fen": trade.price_fen * 3,
                 "expected_output_fen": trade.price_fen * 12,
                 "signed_on": today.isoformat(), "valid_from": today.isoformat(),
                 "valid_until": today.replace(year=today.year + 5).isoformat()}
        submitted = await api.call("registry", "POST", f"/contracts/{draft['id']}/submission",
                                   self.seller, json=terms)
        if submitted["status"] != "filed":
            raise AssertionError(f"the contract was not filed: {submitted}")
        registrar = api.as_(Role.REGISTRAR, "120000", "tianjin-registrar")
        done = await api.call("registry", "POST", f"/contracts/{draft['id']}/registration",
                              registrar)
        trade.registration_number = done["registration_number"]
        self._say(f"Tianjin: paid, contract {trade.registration_number} registered "
                  f"(seller 120000 → buyer 130000)")
        return trade

    async def counted(self, trade: Trade, hub: ExchangeClient, timeout: float = 90) -> None:
        """Wait until Tianjin counts the contract as an outflow to Hebei, Hebei as an inflow
        from Tianjin and the hub in its matrix's Tianjin → Hebei cell; say the figures."""
        year = self.seller_side.now().astimezone(SHANGHAI).year

        async def look() -> tuple[dict, dict, dict] | None:
            t = await flows(self.seller_side, "120000", year)
            h = await flows(self.buyer_side, "130000", year)
            m = await matrix(hub, year)
            ok = (t["outflow"].get("130000") and h["inflow"].get("120000")
                  and m.get(("120000", "130000")))
            return (t, h, m) if ok else None
        t, h, m = await eventually(look, "both sides and the hub to count the contract",
                                   timeout)
        self._say(f"Tianjin counts {t['outflow']['130000']} contract(s) out to Hebei this year; "
                  f"Hebei {h['inflow']['120000']} in from Tianjin; the national hub's "
                  f"Tianjin → Hebei cell: {m[('120000', '130000')]}")

    async def run(self, marker: str) -> Trade:
        trade = await self.list(marker)
        await self.found_in_partner(trade)
        await self.auction(trade)
        return await self.settle_and_register(trade)


async def flows(api: ExchangeClient, region: str, year: int) -> dict[str, dict[str, int]]:
    """A deployment's cross-province flows of ``year`` in ``region``: ``inflow`` and
    ``outflow``, each partner province -> contracts."""
    who = api.as_(Role.REGULATOR, region, f"regulator-{region}")
    stats = await api.call("registry", "GET", "/statistics", who,
                           params={"region": region, "year": year})
    found = stats["cross_province"]
    return {direction: {row["region"]: row["contracts"] for row in found[direction]}
            for direction in ("inflow", "outflow")}


async def matrix(hub: ExchangeClient, year: int) -> dict[tuple[str, str], int]:
    """The national hub's province × province matrix of ``year``: (seller's, buyer's) ->
    contracts."""
    who = hub.as_(Role.REGULATOR, NATIONAL_STAFF_REGION, "national-regulator")
    body = await hub.call("registry", "GET", "/statistics/matrix", who, params={"year": year})
    return {(c["seller_province"], c["buyer_province"]): c["contracts"] for c in body["cells"]}


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
