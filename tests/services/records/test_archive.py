"""The records service on the real stack (PostgreSQL and Kafka): every event of a procedure's
story is archived once in an unbroken chain, whatever the topic; a redelivered event adds no
row, a poison one is dead-lettered and the archive goes on; the dossier, the certificates, the
annual report and the regulator's queries come from the archive; a changed, removed or
swapped row is named by the chain's check."""

from __future__ import annotations

import base64
import uuid

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.records.api import create_app
from services.records.config import RecordsSettings
from services.records.domain import certificates as certs
from shared.auth import Role
from shared.envelope import Envelope
from shared.events import Event, encode
from shared.events.registry import ContractCancelled
from shared.kafka import dlq_topic, new_producer
from shared.settings import CommonSettings
from techex.stack.mirrormaker import read_topic
from tests.services.records.domain.test_links import (
    CONTRACT,
    P1,
    P2,
    PRICE,
    REG_NUMBER,
    REGION,
    SELLER,
    at,
    listing_events,
    round_one,
    round_two,
    settlement_and_contract,
)
from tests.support.auction_processes import eventually
from tests.support.services import bearer, running

pytestmark = pytest.mark.timeout(240)

_SERVICE = {"listing": "listing", "auction": "auction", "deal": "auction",
            "settlement": "settlement", "deposit": "settlement", "subsidy": "settlement",
            "contract": "registry", "public.catalog": "listing"}


def story() -> list[Event]:
    """The procedure's events as the services publish them (certificates are the records
    service's own: left out)."""
    events = [*listing_events(), *round_one(), *round_two(), *settlement_and_contract()]
    return [e for e in events if e.aggregate in _SERVICE]


def envelope(event: Event) -> Envelope:
    region = event.model_dump(mode="json")["region"]
    return Envelope(id=str(uuid.uuid4()), type=event.ce_type(),
                    source=f"/{_SERVICE[event.aggregate]}/{region}", subject=event.subject(),
                    time=event.time(), region=region, data=encode(event))


async def send(common: CommonSettings, *items: tuple[str, Envelope | bytes]) -> None:
    producer = new_producer(common.kafka_bootstrap_servers)
    await producer.start()
    try:
        for aggregate, item in items:
            topic = common.topic(aggregate)
            if isinstance(item, Envelope):
                key, value, headers = item.to_record()
                await producer.send_and_wait(topic, value, key=key, headers=headers)
            else:
                await producer.send_and_wait(topic, item, key=b"poison")
    finally:
        await producer.stop()


async def chain_length(client) -> int:
    r = await client.get("/public/chain")
    assert r.status_code == 200, r.text
    return r.json()["seq"]


async def test_the_archive_keeps_a_procedure_whole_and_its_chain_tells_any_change(
        common, database_url):
    common = common.model_copy(update={"region": "120000"})
    settings = RecordsSettings(database_url=database_url, render_seconds=0.3)
    app = create_app(settings, common)
    operator = bearer(common, Role.OPERATOR, "120100", "tianjin-exchange")
    regulator = bearer(common, Role.REGULATOR, "120000", "tj-kjj")
    events = story()
    envelopes = [(e.aggregate, envelope(e)) for e in events]
    async with running(app) as client:
        # The procedure first, its settlement and contract after (days later, in the
        # exchange): a certificate takes the achievement's and the seller's names from the
        # story archived before it.
        settled = next(i for i, e in enumerate(events) if e.aggregate == "settlement")
        await send(common, *envelopes[:settled])
        await eventually(lambda: _at_least(database_url, settled), 90, "the procedure archived")
        await send(common, *envelopes[settled:])
        await eventually(lambda: _at_least(database_url, len(events)), 90,
                         "every event archived")

        # -- a redelivery adds nothing, a poison record is dead-lettered, the archive goes on
        late = envelope(ContractCancelled(
            contract_id=CONTRACT, region=REGION, actor="registrar-120100",
            filing_id=uuid.uuid4(), registration_number=REG_NUMBER, reason="双方协议解除",
            cancelled_at=at("2026-06-01 02:00")))
        await send(common, *envelopes[:5], ("auction", b"\xff not an event"),
                   ("contract", late))
        await eventually(lambda: _at_least(database_url, len(events) + 1), 60,
                         "the late event")
        assert await _exchange_rows(database_url) == len(events) + 1
        async def dead_lettered():
            return await read_topic(common.kafka_bootstrap_servers,
                                    dlq_topic(common.topic("auction")))
        dead = await eventually(dead_lettered, 30, "the poison record dead-lettered")
        assert dict(dead[0].headers)["dlq_reason"].startswith(b"missing-header")

        r = await client.get("/chain/verification", headers=regulator)
        assert r.status_code == 200, r.text
        checked = r.json()
        # the whole chain as it stood (the service's own certificate events may follow)
        assert checked["ok"] is True, checked
        assert len(events) + 1 <= checked["rows"] <= await chain_length(client)

        # -- the dossier of the re-auction: its own steps, in the archive's order ------------
        r = await client.get(f"/dossiers/{P2}", headers=operator)
        assert r.status_code == 200, r.text
        dossier = r.json()
        kinds = [s["kind"] for s in dossier["steps"]]
        seqs = [s["seq"] for s in dossier["steps"]]
        assert seqs == sorted(seqs)
        assert kinds.count("auction.bid_accepted") == 4 and "auction.bid_rejected" in kinds
        assert "settlement.completed" in kinds and "contract.registered" in kinds
        assert not any(s["details"].get("procedure_id") == str(P1) for s in dossier["steps"])
        bids = [s["details"]["amount_fen"] for s in dossier["steps"]
                if s["kind"] == "auction.bid_accepted"]
        assert bids == sorted(bids) and bids[-1] == PRICE
        assert dossier["price_fen"] == PRICE and dossier["outcome"] == "concluded"
        pdf = await client.get(f"/dossiers/{P2}", params={"format": "pdf"}, headers=operator)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
        # a bidder of another procedure reads nothing of it
        outsider = bearer(common, Role.BUYER, "120101", "someone-else")
        assert (await client.get(f"/dossiers/{P2}", headers=outsider)).status_code == 403

        # -- certificates: issued, signed, rendered, checkable by anyone; then cancelled ------
        async def issued():
            r = await client.get("/certificates", params={"procedure_id": str(P2)},
                                 headers=operator)
            assert r.status_code == 200, r.text
            items = r.json()["items"]
            return items if len(items) == 2 and all(i["pdf_sha256"] for i in items) else None
        items = {i["kind"]: i for i in await eventually(issued, 60, "two certificates")}
        transaction = items["transaction"]
        assert transaction["number"].startswith("JYJZ-120000-")
        assert transaction["essentials"]["price_fen"] == PRICE

        key = (await client.get("/public/certificates/key")).json()
        public_key = Ed25519PublicKey.from_public_bytes(
            base64.urlsafe_b64decode(key["x"] + "=" * (-len(key["x"]) % 4)))
        cert = certs.certificate_from(transaction["essentials"])
        assert certs.verify(cert, base64.b64decode(transaction["signature"]), public_key)
        forged = certs.certificate_from({**transaction["essentials"], "price_fen": 1})
        assert not certs.verify(forged, base64.b64decode(transaction["signature"]), public_key)

        printed = await client.get(f"/certificates/{transaction['number']}",
                                   params={"format": "pdf"}, headers=operator)
        assert printed.status_code == 200 and printed.content.startswith(b"%PDF-")
        check = await client.post(f"/public/certificates/{transaction['number']}/check",
                                  json={"pdf": base64.b64encode(printed.content).decode()})
        assert check.status_code == 200 and check.json()["matches"] is True
        tampered = bytearray(printed.content)
        tampered[len(tampered) // 2] ^= 0x01
        check = await client.post(f"/public/certificates/{transaction['number']}/check",
                                  json={"pdf": base64.b64encode(bytes(tampered)).decode()})
        assert check.json()["matches"] is False

        # the late ContractCancelled cancelled both
        for item in items.values():
            r = await client.get(f"/public/certificates/{item['number']}")
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["status"] == "cancelled" and body["signature_valid"] is True
            assert "buyer" not in body and body["seller_name"]

        # -- the annual report and the regulator's queries ------------------------------------
        seller = bearer(common, Role.SELLER, REGION, SELLER)
        r = await client.get("/reports/annual", params={"holder": SELLER, "year": 2026},
                             headers=seller)
        assert r.status_code == 200, r.text
        report = r.json()
        assert report["received_fen"] == PRICE
        assert report["received_fen"] == (report["seller_fee_fen"] + report["institution_fen"]
                                          + report["inventors_fen"])
        assert report["concluded_by_route"] == {"auction": 1}
        csv = await client.get("/reports/annual", headers=seller,
                               params={"holder": SELLER, "year": 2026, "format": "csv"})
        assert csv.status_code == 200 and "成交明细" in csv.content.decode("utf-8-sig")
        other = bearer(common, Role.SELLER, REGION, "nankai")
        r = await client.get("/reports/annual", params={"holder": SELLER, "year": 2026},
                             headers=other)
        assert r.status_code == 403

        r = await client.get("/procedures", params={"region": "120000"}, headers=regulator)
        assert r.status_code == 200, r.text
        outcomes = {p["procedure_id"]: p["outcome"] for p in r.json()["items"]}
        assert outcomes == {str(P1): "failed", str(P2): "concluded"}
        r = await client.get(f"/procedures/{P2}/bids", headers=regulator)
        sequence = [(b["outcome"], b["amount_fen"]) for b in r.json()["items"]]
        assert sequence.count(("accepted", PRICE)) == 1 and ("rejected", 161_000_000) in sequence

        # -- tampering: each kind is named at its first bad row --------------------------------
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute("ALTER TABLE archive DISABLE TRIGGER archive_append_only")
            await conn.execute("UPDATE archive SET record = overlay(record placing '\\x20'::bytea"
                               " from 40 for 1) WHERE seq = 7")
            assert (await _verification(client, regulator))["bad_seq"] == 7
        finally:
            await conn.close()


async def _exchange_rows(database_url: str) -> int:
    """Rows archived of the exchange's events (the records service's own left out)."""
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM archive WHERE source NOT LIKE '/records/%'")
    finally:
        await conn.close()


async def _at_least(database_url: str, n: int) -> bool:
    return await _exchange_rows(database_url) >= n


async def _verification(client, who) -> dict:
    r = await client.get("/chain/verification", headers=who)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is False, body
    return body

