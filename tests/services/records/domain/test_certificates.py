"""Transaction and registration certificates: numbers, essentials, signatures, public view,
cancellation (pure)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.records.domain.certificates import (
    FORMAT,
    Certificate,
    CertificateNumber,
    MalformedNumber,
    Party,
    cancels,
    canonical,
    certificate_from,
    certificate_number,
    digest,
    essentials,
    issue_year,
    parse_number,
    public_view,
    registration_certificate,
    sign,
    transaction_certificate,
    verify,
)
from services.records.domain.errors import NotCertifiable
from services.records.domain.links import select
from shared.events.records import CertificateIssued
from shared.events.registry import ContractCancelled
from shared.events.settlement import DealDefaulted
from tests.services.records.domain.test_links import (
    ARCHIVE,
    CONTRACT,
    DEAL,
    LISTING,
    P2,
    PRICE,
    REG_NUMBER,
    REGION,
    SELLER,
    SELLER_NAME,
    TITLE,
    A,
    archive,
    at,
    gather,
    of,
)

ISSUED = datetime(2026, 2, 20, 6, 0, 5, tzinfo=UTC)
KEY = Ed25519PrivateKey.generate()


def story():
    found, _ = gather(str(P2))
    return select(str(P2), found)


def transaction() -> Certificate:
    return transaction_certificate("JYJZ-120000-2026-000001", ISSUED,
                                   of("settlement.completed"), story())


def registration() -> Certificate:
    return registration_certificate("DJZ-120000-2026-000001", ISSUED + timedelta(days=17),
                                    of("contract.registered"), story())


# -- numbers ---------------------------------------------------------------------------------
def test_numbers_are_made_and_read_back():
    number = certificate_number("transaction", "120000", 2026, 1)
    assert number == "JYJZ-120000-2026-000001"
    assert parse_number(number) == CertificateNumber("transaction", "120000", 2026, 1)
    assert certificate_number("registration", "120101", 2027, 999_999) == "DJZ-120101-2027-999999"
    assert parse_number("DJZ-120101-2027-999999").kind == "registration"
    for bad in ("JYJZ-120000-2026-000000", "XX-120000-2026-000001", "JYJZ-12000-2026-000001",
                "JYJZ-120000-26-000001", "", "jyjz-120000-2026-000001"):
        with pytest.raises(MalformedNumber):
            parse_number(bad)
    with pytest.raises(ValueError):
        certificate_number("transaction", "120000", 2026, 1_000_000)
    with pytest.raises(ValueError):
        certificate_number("receipt", "120000", 2026, 1)  # type: ignore[arg-type]
    # numbered in the Shanghai year: 31 December 17:00 UTC is already 2027 there
    assert issue_year(datetime(2026, 12, 31, 17, tzinfo=UTC)) == 2027


# -- essentials ------------------------------------------------------------------------------
def test_the_transaction_certificate_from_the_settlement_and_its_story():
    cert = transaction()
    assert (cert.kind, cert.region, cert.number) == ("transaction", REGION,
                                                     "JYJZ-120000-2026-000001")
    assert cert.seller == Party(SELLER, SELLER_NAME) and cert.buyer == Party(A, None)
    assert (cert.achievement, cert.listing_id, cert.route) == (TITLE, str(LISTING), "auction")
    assert (cert.price_fen, cert.received_fen) == (PRICE, PRICE)
    assert (cert.procedure_id, cert.deal_id, cert.settlement_id) == (str(P2), str(DEAL),
                                                                     str(DEAL))
    assert cert.concluded_at == at("2026-02-11 02:03")
    assert cert.settled_at == at("2026-02-20 06:00")
    assert cert.evidence == of("settlement.completed").event_id
    # registered later than the settlement: known since the story holds it
    assert (cert.contract_id, cert.registration_number) == (str(CONTRACT), REG_NUMBER)


def test_the_transaction_certificate_at_settlement_time_has_no_contract_yet():
    early = [e for e in story() if e.seq <= of("settlement.completed").seq]
    cert = transaction_certificate("JYJZ-120000-2026-000002", ISSUED,
                                   of("settlement.completed"), early)
    assert cert.registration_number is None and cert.contract_id is None
    assert cert.seller.name == SELLER_NAME and cert.price_fen == PRICE


def test_the_registration_certificate_from_the_registration():
    cert = registration()
    assert (cert.kind, cert.registration_number, cert.contract_id) == (
        "registration", REG_NUMBER, str(CONTRACT))
    assert (cert.category, cert.subtype, cert.registrar_region) == ("transfer", "patent",
                                                                    "120100")
    assert (cert.tech_amount_fen, cert.total_amount_fen) == (PRICE, 200_000_000)
    assert cert.registered_at == at("2026-03-09 02:00")
    assert cert.seller == Party(SELLER, SELLER_NAME) and cert.deal_id == str(DEAL)
    assert cert.settled_at == at("2026-02-20 06:00") and cert.received_fen == PRICE


def test_a_certificate_is_issued_on_its_own_event_only():
    with pytest.raises(NotCertifiable):
        transaction_certificate("JYJZ-120000-2026-000001", ISSUED, of("deal.concluded"),
                                story())
    with pytest.raises(NotCertifiable):
        registration_certificate("DJZ-120000-2026-000001", ISSUED, of("contract.filed"),
                                 story())


# -- canonical form and signature ------------------------------------------------------------
def test_canonical_json_is_sorted_compact_utf8_with_utc_times_and_integer_fen():
    cert = transaction()
    raw = canonical(cert)
    doc = json.loads(raw)
    assert raw == json.dumps(doc, sort_keys=True, separators=(",", ":"),
                             ensure_ascii=False).encode()
    assert TITLE.encode() in raw and b"\\u" not in raw
    assert doc["format"] == FORMAT
    assert doc["settled_at"] == "2026-02-20T06:00:00Z"
    assert doc["issued_at"] == "2026-02-20T06:00:05Z"
    assert doc["price_fen"] == PRICE and isinstance(doc["price_fen"], int)
    assert doc["seller"] == {"id": SELLER, "name": SELLER_NAME}
    # the same instant in another zone is the same certificate
    shifted = dataclasses.replace(cert, issued_at=ISSUED.astimezone(timezone(timedelta(hours=8))))
    assert canonical(shifted) == raw and digest(shifted) == digest(cert)


def test_sign_then_verify_and_any_tampering_fails():
    cert = transaction()
    signature = sign(cert, KEY)
    assert len(signature) == 64
    assert verify(cert, signature, KEY.public_key())
    for change in ({"price_fen": PRICE + 1}, {"buyer": Party("someone-else")},
                   {"settled_at": cert.settled_at + timedelta(seconds=1)},
                   {"achievement": TITLE + " "}, {"number": "JYJZ-120000-2026-000002"}):
        assert not verify(dataclasses.replace(cert, **change), signature, KEY.public_key())
    assert not verify(cert, signature, Ed25519PrivateKey.generate().public_key())
    assert not verify(cert, b"\0" * 64, KEY.public_key())
    assert not verify(cert, b"short", KEY.public_key())


def test_essentials_reload_into_the_same_certificate():
    for cert in (transaction(), registration()):
        again = certificate_from(json.loads(json.dumps(essentials(cert))))
        assert again == cert
        assert verify(again, sign(cert, KEY), KEY.public_key())
    with pytest.raises(ValueError):
        certificate_from({"format": "something-else"})


# -- public view and cancellation ------------------------------------------------------------
def test_the_public_view_shows_the_seller_and_the_price_not_the_buyer_or_the_ledger():
    cert = transaction()
    view = public_view(cert)
    assert view["seller"] == {"id": SELLER, "name": SELLER_NAME}
    assert (view["price_fen"], view["route"], view["achievement"]) == (PRICE, "auction", TITLE)
    assert view["number"] == cert.number and view["digest"] == digest(cert)
    assert view["valid"] is True and view["cancelled_at"] is None
    assert not {"buyer", "received_fen", "deal_id", "contract_id", "evidence"} & set(view)
    assert A not in json.dumps(view, ensure_ascii=False)
    reg = public_view(registration())
    assert (reg["registration_number"], reg["tech_amount_fen"]) == (REG_NUMBER, PRICE)


def test_a_contracts_cancellation_cancels_both_certificates_of_its_deal():
    cancelled = archive([ContractCancelled(
        contract_id=CONTRACT, region=REGION, actor="registrar-120100",
        filing_id=uuid.uuid4(), registration_number=REG_NUMBER, reason="双方协议解除",
        cancelled_at=at("2026-06-01 02:00"))], start=len(ARCHIVE) + 1)[0]
    found = cancels(cancelled, story())
    assert found is not None
    assert set(found.kinds) == {"registration", "transaction"}
    assert (found.contract_id, found.deal_id, found.registration_number) == (
        str(CONTRACT), str(DEAL), REG_NUMBER)
    assert "双方协议解除" in found.reason and found.at == at("2026-06-01 02:00")
    assert found.event_id == cancelled.event_id
    assert cancels(cancelled).deal_id is None  # without the story: by contract id only
    view = public_view(transaction(), found)
    assert view["valid"] is False and view["cancelled_at"] == "2026-06-01T02:00:00Z"


def test_a_default_cancels_what_was_issued_on_the_deal_and_nothing_else_cancels():
    defaulted = archive([DealDefaulted(
        deal_id=DEAL, procedure_id=P2, listing_id=LISTING, region=REGION, buyer_id=A,
        forfeited_fen=16_000_000, due_at=at("2026-02-26 02:05"),
        defaulted_at=at("2026-03-01 02:05"))])[0]
    found = cancels(defaulted)
    assert found is not None and found.deal_id == str(DEAL) and found.contract_id is None
    assert "transaction" in found.kinds
    assert cancels(of("auction.bid_accepted")) is None
    assert cancels(of("settlement.completed")) is None


def test_the_numbers_fit_the_certificate_events_of_the_catalog():
    for kind in ("transaction", "registration"):
        number = certificate_number(kind, "120000", 2026, 42)
        issued = CertificateIssued(number=number, kind=kind, procedure_id=P2, region=REGION,
                                   pdf_sha256="ab" * 32, issued_at=ISSUED)
        assert parse_number(issued.number).serial == 42
