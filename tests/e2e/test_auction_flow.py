"""The main flow of the exchange, end to end, across the four service processes and watched by
a real Prometheus: list → approve → announce → two buyers pay deposits and qualify → a bid war
with an anti-sniping extension → close → settlement (price, fee, split, the loser's deposit
released) → the contract filed and registered → statistics for the county, its city and the
province → the listing reads "traded"."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from shared.auth import Role
from techex.stack.prometheus import PrometheusServer
from tests.support.auction_processes import free_port
from tests.support.exchange import Exchange, wait_for
from tests.support.listing import achievement

pytestmark = pytest.mark.timeout(420)

START = 150_000_000      # ¥1,500,000
INCREMENT = 5_000_000    # ¥50,000
SELLER, SELLER_REGION = "hit", "230102"                           # 道里区, 哈尔滨
WINNER, WINNER_REGION = "longjiang-coatings", "230103"            # 南岗区, 哈尔滨
LOSER, LOSER_REGION = "jizhong-materials", "130102"               # 长安区, 石家庄


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_an_auctioned_achievement_is_settled_registered_and_counted(
        exchange: Exchange, tmp_path):
    ex = exchange
    seller = ex.as_(Role.SELLER, SELLER_REGION, SELLER)
    operator = ex.as_(Role.OPERATOR, "230100", "harbin-exchange")
    winner = ex.as_(Role.BUYER, WINNER_REGION, WINNER)
    loser = ex.as_(Role.BUYER, LOSER_REGION, LOSER)
    registrar = ex.as_(Role.REGISTRAR, "230100", "harbin-registrar")
    regulator = ex.as_(Role.REGULATOR, "230000", "hlj-kjt")

    prometheus = PrometheusServer(
        tmp_path / "prometheus", free_port(),
        {s: f"127.0.0.1:{port}" for s, port in ex.ports.items()}, scrape_interval="1s")
    prometheus.start()
    try:
        # -- list and approve ------------------------------------------------------------------
        lid = (await ex.call("listing", "POST", "/achievements", seller, expect=201,
                             json=achievement(reference_price_fen=START)))["id"]
        await ex.call("listing", "POST", f"/achievements/{lid}/submit", seller)
        await ex.call("listing", "POST", f"/achievements/{lid}/review", operator)
        await ex.call("listing", "POST", f"/achievements/{lid}/approve", operator)

        # -- announce: seven days ahead, a day of bidding --------------------------------------
        starts = ex.now() + timedelta(days=7, minutes=1)
        auction = await ex.once_published("/auctions", {
            "listing_id": lid, "start_price_fen": START, "increment_fen": INCREMENT,
            "deposit_ratio": "0.10", "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=24)).isoformat()}, operator)
        aid, deposit = auction["id"], auction["deposit_fen"]
        assert deposit == START // 10

        # -- two buyers register and pay their deposits; the settlement service qualifies them
        for buyer, name in ((winner, WINNER), (loser, LOSER)):
            registered = await ex.call("auction", "POST", f"/auctions/{aid}/registrations",
                                       buyer, expect=201)
            assert registered["deposit_fen"] == deposit

            confirmed = await ex.confirm_deposit(operator, aid, name, deposit, f"ICBC-{name}")
            assert confirmed["status"] == "held"

        # -- the auction opens; a bid war --------------------------------------------------------
        ex.advance(timedelta(days=7, minutes=2))

        async def bid(who: dict, amount: int) -> dict:
            return await ex.call("auction", "POST", f"/auctions/{aid}/bids", who, expect=201,
                                 json={"amount_fen": amount})

        async def qualified_bid():  # the deposit events reach the auction service
            r = await ex.client.post(ex.url("auction", f"/auctions/{aid}/bids"), headers=winner,
                                     json={"amount_fen": START})
            if r.status_code == 201:
                return r.json()
            assert r.json().get("reason") == "not-qualified", r.text
            return None
        first = await wait_for(qualified_bid, "the winner to qualify")
        assert first["sequence"] == 1
        high = START
        for i in range(4):
            high += INCREMENT
            await bid(loser if i % 2 == 0 else winner, high)
        original_end = _ts(first["ends_at"])

        # -- a sniper in the last minutes moves the end ----------------------------------------
        ex.advance(original_end - ex.now() - timedelta(minutes=2))
        high += INCREMENT
        sniped = await bid(loser, high)
        assert _ts(sniped["ends_at"]) > original_end
        high += 2 * INCREMENT
        final = await bid(winner, high)
        assert final["sequence"] == 7
        end = _ts(final["ends_at"])
        assert end - ex.now() > timedelta(minutes=4)  # 5 minutes after the last bid

        # -- the close fires after the extended end --------------------------------------------
        ex.advance(end - ex.now() + timedelta(seconds=5))
        closed = await ex.until("auction", f"/auctions/{aid}", operator,
                                lambda a: a["status"] in ("closed", "failed"), "the close")
        assert (closed["status"], closed["winner_id"], closed["hammer_price_fen"]) == (
            "closed", WINNER, high)
        deal_id = closed["deal_id"]

        # -- settlement: the winner's deposit counts, the rest is paid --------------------------
        deal = await ex.until("settlement", f"/deals/{deal_id}", operator, lambda d: True,
                              "the deal to reach the settlement service")
        assert deal["price_fen"] == high and deal["deposit_fen"] == deposit
        assert deal["buyer_fee_fen"] > 0 and deal["seller_fee_fen"] > 0
        assert deal["outstanding_fen"] == high + deal["buyer_fee_fen"] - deposit
        await ex.call("settlement", "POST", f"/deals/{deal_id}/payments", operator, expect=201,
                      json={"amount_fen": deal["outstanding_fen"], "reference": "ICBC-7788"},
                      headers={"Idempotency-Key": "pay-7788"})
        settled = await ex.call("settlement", "GET", f"/deals/{deal_id}", operator)
        assert settled["status"] == "completed" and settled["outstanding_fen"] == 0

        # The loser's deposit goes back within a day; the winner's went into the price.
        ex.advance(timedelta(hours=25))

        async def released():
            rows = await ex.call("settlement", "GET", "/deposits", operator,
                                 params={"procedure_id": aid})
            by_bidder = {r["bidder_id"]: r["status"] for r in rows}
            return by_bidder if by_bidder.get(LOSER) == "released" else None
        deposits = await wait_for(released, "the loser's deposit to be released")
        assert deposits[WINNER] != "released"

        # The ledger balances, and the inventors got at least 70 % of the seller's net.
        trial = await ex.call("settlement", "GET", "/ledger/trial-balance", operator)
        assert trial["balanced"] is True
        accounts = {a["account"]: a for a in trial["accounts"]}
        net = high - settled["seller_fee_fen"]
        inventors = accounts[f"inventor_team:{SELLER}"]
        assert 0.7 * net <= inventors["credit_fen"] < net
        assert inventors["balance_fen"] == 0  # paid out
        assert accounts["fee_income"]["credit_fen"] == (settled["buyer_fee_fen"]
                                                        + settled["seller_fee_fen"])

        # -- the contract: a draft for the seller, completed, registered -------------------------
        draft = await ex.until("registry", "/drafts", seller, lambda ds: ds, "the draft")
        [draft] = [d for d in draft if d["deal_id"] == deal_id]
        cid = draft["id"]
        terms = draft["terms"]
        today = ex.now().date()
        completed = {
            "category": "transfer", "subtype": "patent", "tech_amount_fen": high,
            "total_amount_fen": high,
            "parties": [
                {"role": "seller", "name": "哈尔滨工业大学", "party_id": SELLER,
                 "region": SELLER_REGION, "entity_type": "university"},
                {"role": "buyer", "name": "龙江涂料有限公司", "party_id": WINNER,
                 "region": WINNER_REGION, "entity_type": "enterprise"}],
            "ip": {"ip_type": "patent_invention", "numbers": ["ZL201510012345.3"]},
            "expected_investment_fen": 800_000_000, "expected_output_fen": 3_000_000_000,
            "signed_on": today.isoformat(), "valid_from": today.isoformat(),
            "valid_until": today.replace(year=today.year + 5).isoformat(),
        }
        submitted = await ex.call("registry", "POST", f"/contracts/{cid}/submission", seller,
                                  json={**terms, **completed})
        assert submitted["status"] == "filed", submitted
        registered = await ex.call("registry", "POST", f"/contracts/{cid}/registration",
                                   registrar)
        number = registered["registration_number"]
        assert len(number) == 16 and number.isdigit() and number[4:10] == "230100"
        assert registered["tax"]["vat_exempt"] is True

        # -- statistics: the county, its city and the province --------------------------------
        year = str(_ts(registered["registered_at"]).year)
        rows = {}
        for region in ("230102", "230100", "230000"):
            stats = await ex.call("registry", "GET", "/statistics", regulator,
                                  params={"region": region, "year": year})
            assert (stats["contracts"], stats["tech_amount_fen"]) == (1, high), stats
            rows[region] = {r["key"]: r["tech_amount_fen"] for r in stats["rows"]}
        assert rows["230000"] == {"230100": high}  # the province by city
        assert rows["230100"] == {"230102": high}  # the city by county
        flow = await ex.call("registry", "GET", "/statistics", regulator,
                             params={"region": "230100", "year": year, "by": "flow"})
        assert {r["key"]: r["contracts"] for r in flow["rows"]} == {"internal": 1}

        # -- the listing is traded --------------------------------------------------------------
        await ex.until("listing", f"/achievements/{lid}", seller,
                       lambda a: a["status"] == "traded", "the listing to read traded")

        # -- Prometheus scraped the business figures -------------------------------------------
        def figure(promql: str, want: float) -> float:
            def value() -> float:
                result = prometheus.query(promql)
                return float(result[0]["value"][1]) if result else 0.0
            got, deadline = value(), time.monotonic() + 30
            while got != want and time.monotonic() < deadline:
                time.sleep(0.5)
                got = value()
            return got

        assert figure('sum(techex_auction_bids_total{outcome="accepted"})', 7) == 7
        assert figure('sum(techex_settlement_settled_fen_total{province="230000"})',
                      high) == high
        assert figure('sum(techex_registry_turnover_fen_total{province="230000"})',
                      high) == high
        assert figure('sum(up{job="techex"})', len(ex.ports)) == len(ex.ports)
    finally:
        prometheus.stop()
