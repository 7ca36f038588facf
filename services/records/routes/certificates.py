"""Certificates: the parties' and overseers' copy, and the public check anyone can make."""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from services.records.documents import PDF_MEDIA_TYPE
from services.records.domain import certificates as certs
from services.records.domain.errors import CertificateNotFound, PdfUnavailable
from services.records.handlers import Signer, stored_json
from services.records.routes.dossiers import PDF_RESPONSE, Format
from services.records.schemas import (
    CertificateList,
    CertificateView,
    PdfSubmission,
    PublicCertificate,
    PublicPdfCheck,
    PublicSigningKey,
)
from services.records.store import certificates as store
from shared.auth import Principal, Role
from shared.problems import PROBLEM_RESPONSES
from shared.ratelimit import per_address, rate_limited
from shared.regions import Region
from shared.roles import Anyone
from shared.service import runtime_of

router = APIRouter(tags=["certificates"], responses=PROBLEM_RESPONSES)
public_router = APIRouter(
    prefix="/public", tags=["public"], dependencies=[per_address("public")],
    responses={**{s: PROBLEM_RESPONSES[s] for s in (404, 422, 503)},
               **rate_limited("public")})

Number = Annotated[str, Path(pattern=r"^[A-Z]{2,5}-[0-9]{6}-[0-9]{4}-[0-9]{6}$",
                             max_length=40, examples=["JYJZ-120000-2026-000001"])]


def _overseer(who: Principal) -> bool:
    return who.role in (Role.OPERATOR, Role.REGULATOR, Role.REGISTRAR, Role.ADMIN)


def _may_read(who: Principal, row: asyncpg.Record) -> bool:
    if who.role is Role.ADMIN:
        return True
    if _overseer(who) and who.region.contains(Region.parse(row["region"].strip())):
        return True
    return who.subject in row["parties"]


def _essentials(row: asyncpg.Record) -> dict[str, Any]:
    return stored_json(row["essentials"])


def _view(row: asyncpg.Record) -> CertificateView:
    cert = certs.certificate_from(_essentials(row))
    return CertificateView(
        number=row["number"], kind=row["kind"],
        status="cancelled" if row["cancelled_at"] else "valid",
        cancelled_at=row["cancelled_at"], cancel_reason=row["cancel_reason"],
        essentials=certs.essentials(cert), digest=certs.digest(cert),
        signature=base64.b64encode(bytes(row["signature"])).decode(),
        pdf_sha256=row["pdf_sha256"])


async def _found(request: Request, number: str) -> asyncpg.Record:
    row = await store.one(runtime_of(request).pool, number)
    if row is None:
        raise CertificateNotFound(f"No certificate {number}.")
    return row


@router.get("/certificates", response_model=CertificateList)
async def certificate_list(request: Request, who: Anyone,
                           procedure_id: Annotated[uuid.UUID | None, Query()] = None,
                           limit: Annotated[int, Query(ge=1, le=500)] = 100) -> CertificateList:
    """The certificates of a procedure (its parties and overseers), or the caller's own."""
    pool = runtime_of(request).pool
    rows = (await store.of_procedure(pool, str(procedure_id)) if procedure_id
            else await store.of_party(pool, who.subject, limit))
    return CertificateList(items=[_view(r) for r in rows[:limit] if _may_read(who, r)])


@router.get("/certificates/{number}", response_model=CertificateView, responses=PDF_RESPONSE)
async def certificate(request: Request, who: Anyone, number: Number,
                      format: Format = "json") -> Any:
    """A certificate in full — every essential, the signature, the PDF's hash — for its
    parties and the overseers of its region; ``format=pdf``: the signed PDF itself."""
    row = await _found(request, number)
    if not _may_read(who, row):
        raise CertificateNotFound(f"No certificate {number}.")  # not a party: no such thing
    if format == "pdf":
        if row["pdf"] is None:
            raise PdfUnavailable("The certificate's PDF is being rendered; ask again shortly.",
                                 headers={"Retry-After": "2"})
        return Response(bytes(row["pdf"]), media_type=PDF_MEDIA_TYPE,
                        headers={"Content-Disposition": f'attachment; filename="{number}.pdf"'})
    return _view(row)


@public_router.get("/certificates/key", response_model=PublicSigningKey)
async def signing_key(request: Request) -> PublicSigningKey:
    """The exchange's Ed25519 key its certificates are signed with (RFC 8037 JWK): with it,
    anyone holding a certificate's essentials checks the signature offline."""
    raw = runtime_of(request).part(Signer).public_raw()
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return PublicSigningKey(kty="OKP", crv="Ed25519", x=x, use="sig", alg="EdDSA")


@public_router.get("/certificates/{number}", response_model=PublicCertificate)
async def public_certificate(request: Request, number: Number) -> PublicCertificate:
    """The online verification of a certificate (Hebei §20), no token needed: whether it
    stands or was cancelled, its public essentials, the signature (checked now against the
    exchange's key) and the hash of its PDF."""
    row = await _found(request, number)
    cert = certs.certificate_from(_essentials(row))
    public = certs.public_view(cert)
    signature = bytes(row["signature"])
    key = runtime_of(request).part(Signer).public
    return PublicCertificate(
        number=cert.number, kind=cert.kind,
        status="cancelled" if row["cancelled_at"] else "valid",
        cancelled_at=row["cancelled_at"], issued_at=cert.issued_at, region=cert.region,
        achievement=public["achievement"], route=public["route"], price_fen=public["price_fen"],
        concluded_at=public["concluded_at"], settled_at=public["settled_at"],
        seller_name=cert.seller.name, registration_number=public["registration_number"],
        registered_at=public["registered_at"], category=public["category"],
        tech_amount_fen=public["tech_amount_fen"], digest=public["digest"],
        signature=base64.b64encode(signature).decode(),
        signature_valid=certs.verify(cert, signature, key), pdf_sha256=row["pdf_sha256"])


@public_router.post("/certificates/{number}/check", response_model=PublicPdfCheck)
async def check_pdf(request: Request, number: Number, body: PdfSubmission) -> PublicPdfCheck:
    """Send a certificate's PDF (Base64) or its SHA-256: whether it is the PDF the exchange
    issued, byte for byte — a changed PDF has another hash — and whether the certificate
    still stands."""
    row = await _found(request, number)
    sha = body.sha256 or hashlib.sha256(body.pdf_bytes()).hexdigest()
    return PublicPdfCheck(number=number, matches=row["pdf_sha256"] == sha, sha256=sha,
                    status="cancelled" if row["cancelled_at"] else "valid")
