"""The record, end to end: the auction flow across the service processes with the records
service archiving it; the exchange's topics are then deleted and the processes restarted, and
the dossier is still whole and tells the flow step by step; the certificates verify online, a
cancelled contract's reads cancelled, a forged PDF fails the hash check; the annual report's
amounts are the settlement's; and `techex records verify` names the first bad row of a
changed, a removed and two swapped rows."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
from datetime import datetime, timedelta
from itertools import pairwise

import asyncpg
import pytest

from shared.auth import Role
from shared.kafka import delete_topics
from techex.stack.stack import REPO
from tests.support.exchange import Exchange, wait_for
from tests.support.flows import (
    INCREMENT,
    SELLER,
    SELLER_REGION,
    START,
    auction_open_for_bidding,
    buyer,
    first_bid,
    operator,
)

pytestmark = pytest.mark.timeout(600)

WINNER, LOSER = "longjiang-coatings", "jizhong-materials"


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def verify(url: str) -> subprocess.CompletedProcess:
    """`techex records verify` against the records database, as an operator runs it."""
    return subprocess.run([sys.executable, "-m", "techex.cli", "records", "verify",
                           "--database-url", url], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


async def test_the_record_outlives_the_topics_and_tells_any_tampering(exchange: Exchange):
    ex = exchange
    ops, seller = operator(ex), ex.as_(Role.SELLER, SELLER_REGION, SELLER)
    registrar = ex.as_(Role.REGISTRAR, "230100", "harbin-registrar")
    regulator = ex.as_(Role.REGULATOR, "230000", "hlj-kjt")

    # -- the auction flow ---------------------------------------------------------------------
    auction = await auction_open_for_bidding(ex, (WINNER, LOSER))
    aid = auction["id"]
    placed = [(await first_bid(ex, aid, WINNER))["amount_fen"]]
    high = START
    for i in range(3):
        high += INCREMENT
        who = LOSER if i % 2 == 0 else WINNER
        await ex.call("auction", "POST", f"/auctions/{aid}/bids", buyer(ex, who), expect=201,
                      json={"amount_fen": high})
        placed.append(high)
    refused = await ex.client.post(ex.url("auction", f"/auctions/{aid}/bids"),
                                   headers=buyer(ex, WINNER), json={"amount_fen": high + 1})
    assert refused.status_code == 422 or refused.status_code == 409, refused.text
    state = await ex.call("auction", "GET", f"/auctions/{aid}", ops)
    ex.advance(_ts(state["ends_at"]) - ex.now() + timedelta(seconds=5))
    closed = await ex.until("auction", f"/auctions/{aid}", ops,
                            lambda a: a["status"] in ("closed", "failed"), "the close")
    assert closed["status"] == "closed" and closed["hammer_price_fen"] == high
    deal_id = closed["deal_id"]
    deal = await ex.until("settlement", f"/deals/{deal_id}", ops, lambda d: True, "the deal")
    await ex.call("settlement", "POST", f"/deals/{deal_id}/payments", ops, expect=201,
                  json={"amount_fen": deal["outstanding_fen"], "reference": "ICBC-1"})
    settled = await ex.call("settlement", "GET", f"/deals/{deal_id}", ops)
    assert settled["status"] == "completed"
    ex.advance(timedelta(hours=25))  # the loser's deposit goes back

    drafts = await ex.until("registry", "/drafts", seller,
                            lambda ds: any(d["deal_id"] == deal_id for d in ds), "the draft")
    [draft] = [d for d in drafts if d["deal_id"] == deal_id]
    today = ex.now().date()
    await ex.call("registry", "POST", f"/contracts/{draft['id']}/submission", seller, json={
        **draft["terms"], "category": "transfer", "subtype": "patent",
        "tech_amount_fen": high, "total_amount_fen": high,
        "parties": [
            {"role": "seller", "name": "哈尔滨工业大学", "party_id": SELLER,
             "region": SELLER_REGION, "entity_type": "university"},
            {"role": "buyer", "name": "龙江涂料有限公司", "party_id": WINNER,
             "region": "230103", "entity_type": "enterprise"}],
        "ip": {"ip_type": "patent_invention", "numbers": ["ZL201510012345.3"]},
        "expected_investment_fen": 800_000_000, "expected_output_fen": 3_000_000_000,
        "signed_on": today.isoformat(), "valid_from": today.isoformat(),
        "valid_until": today.replace(year=today.year + 5).isoformat()})
    registered = await ex.call("registry", "POST", f"/contracts/{draft['id']}/registration",
                               registrar)

    # -- the archive has all of it: two certificates, rendered ----------------------------------
    async def certificates():
        r = await ex.client.get(ex.url("records", "/certificates"), headers=ops,
                                params={"procedure_id": aid})
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        return items if len(items) == 2 and all(i["pdf_sha256"] for i in items) else None
    certs = {c["kind"]: c for c in await wait_for(certificates, "both certificates", 90)}

    async def dossier_with(kind: str):
        r = await ex.client.get(ex.url("records", f"/dossiers/{aid}"), headers=ops)
        if r.status_code == 404:
            return None
        assert r.status_code == 200, r.text
        body = r.json()
        return body if any(s["kind"] == kind for s in body["steps"]) else None
    before = await wait_for(lambda: dossier_with("deposit.released"), "the whole story", 90)

    # -- Kafka forgets everything; the record does not ------------------------------------------
    await ex.stop()
    deleted = await delete_topics(ex.stack.bootstrap, ex.common.topic_prefix + ".")
    assert any(t.endswith(".auction") for t in deleted)
    ex.client = type(ex.client)(timeout=30)
    await ex.start()
    after = await ex.call("records", "GET", f"/dossiers/{aid}", ops)
    assert after["steps"] == before["steps"]
    kinds = [s["kind"] for s in after["steps"]]
    # The flow's order, step by step; events one transaction published on two topics (the
    # close and the deal) arrive in either order.
    flow = [{"listing.created"}, {"listing.submitted"}, {"listing.published"},
            {"auction.announced", "auction.terms_published"}, {"auction.bidder_registered"},
            {"auction.bidder_qualified"}, {"auction.bid_accepted"}, {"auction.bid_rejected"},
            {"auction.closed", "deal.concluded"}, {"settlement.opened"},
            {"settlement.payment_received"}, {"settlement.completed"},
            {"contract.drafted"}, {"contract.filed"}, {"contract.registered"}]
    spans = [(min(i for i, k in enumerate(kinds) if k in group),
              max(i for i, k in enumerate(kinds) if k in group)) for group in flow]
    assert all(a[1] < b[0] for a, b in pairwise(spans)), " ".join(kinds)
    assert kinds.count("auction.bidder_registered") == 2 and "deposit.released" in kinds
    assert [s["details"]["amount_fen"] for s in after["steps"]
            if s["kind"] == "auction.bid_accepted"] == placed
    assert after["price_fen"] == high and after["registration_number"] == \
        registered["registration_number"]
    assert all(s["event_id"] and s["who"]["role"] for s in after["steps"])
    printed = await ex.client.get(ex.url("records", f"/dossiers/{aid}"), headers=ops,
                                  params={"format": "pdf"})
    assert printed.status_code == 200 and printed.content.startswith(b"%PDF-")
    # a bidder reads its own dossier with the other bidder as a number
    mine = await ex.call("records", "GET", f"/dossiers/{aid}", buyer(ex, LOSER))
    shown = {s["details"].get("bidder_id") for s in mine["steps"]} - {None}
    assert LOSER in shown and WINNER not in shown

    # -- certificates: verified online; a forged PDF fails; cancelled with the contract ------
    number = certs["transaction"]["number"]
    public = await ex.call("records", "GET", f"/public/certificates/{number}", {})
    assert public["status"] == "valid" and public["signature_valid"] is True
    assert public["price_fen"] == high
    pdf = await ex.client.get(ex.url("records", f"/certificates/{number}"), headers=ops,
                              params={"format": "pdf"})
    genuine = base64.b64encode(pdf.content).decode()
    check = await ex.call("records", "POST", f"/public/certificates/{number}/check", {},
                          json={"pdf": genuine})
    assert check["matches"] is True
    forged = bytearray(pdf.content)
    forged[-200] ^= 0x20
    check = await ex.call("records", "POST", f"/public/certificates/{number}/check", {},
                          json={"pdf": base64.b64encode(bytes(forged)).decode()})
    assert check["matches"] is False

    await ex.call("registry", "POST", f"/contracts/{draft['id']}/cancellation", seller,
                  expect=202, json={"reason": "双方协议解除"})
    await ex.call("registry", "POST", f"/contracts/{draft['id']}/registration", registrar)
    registration = certs["registration"]["number"]

    async def cancelled():
        r = await ex.client.get(ex.url("records", f"/public/certificates/{registration}"))
        return r.json() if r.json()["status"] == "cancelled" else None
    assert (await wait_for(cancelled, "the registration certificate cancelled"))[
        "signature_valid"] is True

    # -- the annual report's amounts are the settlement's ---------------------------------------
    year = ex.now().year
    report = await ex.call("records", "GET", "/reports/annual", seller,
                           params={"holder": SELLER, "year": year})
    if report["received_fen"] == 0:  # settled across the new year (Asia/Shanghai)
        report = await ex.call("records", "GET", "/reports/annual", seller,
                               params={"holder": SELLER, "year": year + 1})
    assert report["received_fen"] == settled["price_fen"]
    assert report["seller_fee_fen"] == settled["seller_fee_fen"]
    assert report["institution_fen"] + report["inventors_fen"] == \
        settled["price_fen"] - settled["seller_fee_fen"]
    bids = await ex.call("records", "GET", f"/procedures/{aid}/bids", regulator)
    assert [b["amount_fen"] for b in bids["items"] if b["outcome"] == "accepted"] == placed

    # -- tampering, each kind named at its first bad row ----------------------------------------
    url = ex.databases["records"]
    ok = await asyncio.to_thread(verify, url)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("ALTER TABLE archive DISABLE TRIGGER archive_append_only")
        middle = (await conn.fetchval("SELECT max(seq) FROM archive")) // 2
        row = await conn.fetchrow("SELECT * FROM archive WHERE seq = $1", middle)

        await conn.execute("UPDATE archive SET record = overlay(record placing '\\x7e'::bytea"
                           " from 30 for 1) WHERE seq = $1", middle)
        bad = await asyncio.to_thread(verify, url)
        assert bad.returncode == 1 and f"broken at row {middle} (" in bad.stdout, bad.stdout
        await conn.execute("UPDATE archive SET record = $2 WHERE seq = $1", middle,
                           row["record"])
        assert (await asyncio.to_thread(verify, url)).returncode == 0

        await conn.execute("DELETE FROM archive WHERE seq = $1", middle)
        bad = await asyncio.to_thread(verify, url)
        assert bad.returncode == 1 and f"broken at row {middle + 1} (" in bad.stdout, bad.stdout
        columns = list(row.keys())
        await conn.execute(
            f"INSERT INTO archive ({', '.join(columns)}) VALUES "
            f"({', '.join(f'${i}' for i in range(1, len(columns) + 1))})", *row.values())
        assert (await asyncio.to_thread(verify, url)).returncode == 0

        for old, new in ((middle, -1), (middle + 1, middle), (-1, middle + 1)):
            await conn.execute("UPDATE archive SET seq = $2 WHERE seq = $1", old, new)
        bad = await asyncio.to_thread(verify, url)
        assert bad.returncode == 1 and f"broken at row {middle} (" in bad.stdout, bad.stdout
    finally:
        await conn.close()
