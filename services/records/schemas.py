"""HTTP models of the records service. Public views (``Public*``) are built field by field and
checked against the allow-list of tests/services/test_public_views.py."""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Route = Literal["auction", "listing", "negotiated"]
Outcome = Literal["open", "concluded", "failed", "defaulted"]


# -- the chain ----------------------------------------------------------------------------------
class PublicChainHead(BaseModel):
    seq: int = Field(description="the chain's last row")
    head: str = Field(description="SHA-256 of that row, hex")
    last_digest: PublicDigest | None = None


class PublicDigest(BaseModel):
    """A published daily digest: anyone may keep it and compare it later."""

    day: date = Field(description="Asia/Shanghai calendar day")
    seq: int = Field(description="the chain's last row archived before the day ended")
    head: str = Field(description="SHA-256 of that row, hex")
    events: int = Field(description="rows archived during the day")
    digested_at: datetime


class PublicDigests(BaseModel):
    items: list[PublicDigest]
    next_before: date | None = Field(description="pass as `before` for the older digests")


class Verification(BaseModel):
    """The chain recomputed: ``ok``, or the first row that does not hold."""

    ok: bool
    rows: int = Field(description="rows checked")
    from_seq: int
    last_seq: int = Field(description="the last row that holds")
    head: str
    bad_seq: int | None = None
    bad_event_id: str | None = None
    reason: str | None = None


# -- the regulator's queries --------------------------------------------------------------------
class ProcedureRow(BaseModel):
    procedure_id: str
    listing_id: str | None
    region: str
    route: Route | None
    outcome: Outcome
    announced_at: datetime | None
    ended_at: datetime | None
    price_fen: int | None
    bids: int
    objections: int


class ProcedurePage(BaseModel):
    items: list[ProcedureRow]
    next_after: str | None = Field(description="pass as `after` for the next page")


class BidRow(BaseModel):
    seq: int = Field(description="the archive row")
    event_id: str
    at: datetime
    outcome: Literal["accepted", "rejected"]
    sequence: int | None = Field(description="the accepted bid's number in the procedure")
    bidder_id: str
    amount_fen: int
    automatic: bool | None = None
    reason: str | None = None
    minimum_fen: int | None = None
    ends_at: datetime | None = None


class BidSequence(BaseModel):
    procedure_id: str
    items: list[BidRow]


class ObjectionRow(BaseModel):
    seq: int
    event_id: str
    at: datetime
    objection_id: str
    kind: Literal["filed", "resolved"]
    details: dict[str, Any]


class Objections(BaseModel):
    procedure_id: str
    items: list[ObjectionRow]


PublicChainHead.model_rebuild()


# -- dossiers -----------------------------------------------------------------------------------
class ActorView(BaseModel):
    role: str = Field(description="seller, bidder, buyer, operator, registrar, objector, system")
    region: str
    id: str | None = Field(description="the account, or its bidder number (竞买人 N) where the "
                                       "reader may not know it")


class StepView(BaseModel):
    seq: int = Field(description="the archive row")
    at: datetime
    event_id: str
    kind: str = Field(examples=["auction.bid_accepted"])
    phase: str
    title_zh: str
    summary_zh: str
    who: ActorView
    details: dict[str, Any]


class DossierView(BaseModel):
    """One procedure's whole story, from the archive, as its reader may see it."""

    procedure_id: str
    listing_id: str | None
    route: Route | None
    region: str
    title: str | None
    outcome: str
    round: int
    previous_procedure_id: str | None
    related_procedure_ids: list[str]
    seller_id: str | None
    announced_at: datetime | None
    ended_at: datetime | None
    failure_reason: str | None
    price_fen: int | None
    winner: str | None
    reserve_fen: int | None
    accepted_bids: int
    deal_id: str | None
    settlement_state: str | None
    received_fen: int | None
    settled_at: datetime | None
    contract_id: str | None
    contract_state: str | None
    registration_number: str | None
    certificates: list[str]
    cancelled_certificates: list[str]
    sees_identities: bool
    steps: list[StepView]


# -- certificates -------------------------------------------------------------------------------
class CertificateView(BaseModel):
    """A certificate as its parties and the overseers read it: every essential, the
    signature over their canonical form, and the PDF's hash."""

    number: str
    kind: Literal["transaction", "registration"]
    status: Literal["valid", "cancelled"]
    cancelled_at: datetime | None
    cancel_reason: str | None
    essentials: dict[str, Any] = Field(description="what is signed, as canonical JSON")
    digest: str = Field(description="SHA-256 of the canonical essentials, hex")
    signature: str = Field(description="Ed25519 signature of the canonical essentials, Base64")
    pdf_sha256: str | None = Field(description="SHA-256 of the certificate's PDF (none until "
                                               "it is rendered, a second after issue)")


class PublicCertificate(BaseModel):
    """What anyone checking a certificate sees: whether it stands, its public essentials and
    the exchange's signature."""

    number: str
    kind: Literal["transaction", "registration"]
    status: Literal["valid", "cancelled"]
    cancelled_at: datetime | None
    issued_at: datetime
    region: str
    achievement: str | None
    route: Route | None
    price_fen: int | None
    concluded_at: datetime | None
    settled_at: datetime | None
    seller_name: str | None
    registration_number: str | None
    registered_at: datetime | None
    category: str | None
    tech_amount_fen: int | None
    digest: str = Field(description="SHA-256 of the signed essentials, hex")
    signature: str = Field(description="Ed25519 signature of the signed essentials, Base64")
    signature_valid: bool = Field(description="the signature checked against the exchange's "
                                              "key now")
    pdf_sha256: str | None = Field(description="compare with `sha256sum` of a PDF in hand")


class PdfSubmission(BaseModel):
    """A certificate's PDF as Base64 (``pdf``), or only its SHA-256 (``sha256``)."""

    model_config = ConfigDict(extra="forbid")

    pdf: str | None = Field(default=None, max_length=1_000_000,
                            pattern=r"^[A-Za-z0-9+/]*={0,2}$", description="the PDF, Base64")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _one_of(self) -> PdfSubmission:
        if (self.pdf is None) == (self.sha256 is None):
            raise ValueError("send either `pdf` or `sha256`")
        if self.pdf is not None:
            try:
                base64.b64decode(self.pdf, validate=True)
            except binascii.Error as exc:
                raise ValueError(f"`pdf` is not Base64: {exc}") from None
        return self

    def pdf_bytes(self) -> bytes:
        return base64.b64decode(self.pdf or "")


class PublicPdfCheck(BaseModel):
    number: str
    matches: bool = Field(description="whether the PDF sent is this certificate's, byte for byte")
    sha256: str = Field(description="SHA-256 of the PDF sent")
    status: Literal["valid", "cancelled"]


class PublicSigningKey(BaseModel):
    """The exchange's certificate signing key as an RFC 8037 JWK."""

    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str = Field(description="the public key, base64url without padding")
    use: Literal["sig"]
    alg: Literal["EdDSA"]


class CertificateList(BaseModel):
    items: list[CertificateView]


# -- reports ------------------------------------------------------------------------------------
class DealLineView(BaseModel):
    procedure_id: str | None
    deal_id: str
    listing_id: str | None
    achievement: str | None
    route: str
    price_fen: int
    concluded_at: datetime
    status: str
    settled_at: datetime | None
    received_fen: int
    seller_fee_fen: int
    institution_fen: int
    inventors_fen: int
    registration_number: str | None


class AnnualReportView(BaseModel):
    """成果转化年度报告: one institution's year, computed from the archive."""

    holder_id: str
    holder_name: str | None
    year: int
    final: bool = Field(description="false while the year (Asia/Shanghai) is still running")
    achievements_listed: int
    procedures_by_route: dict[str, int]
    concluded_by_route: dict[str, int]
    concluded_fen_by_route: dict[str, int]
    failed_by_route: dict[str, int]
    defaulted: int
    received_fen: int = Field(description="实际到账 of the settlements completed in the year")
    seller_fee_fen: int
    institution_fen: int
    inventors_fen: int = Field(description="paid out to the inventors (成果完成人及团队)")
    compensation_fen: int
    contracts_by_category: dict[str, dict[str, int]]
    contracts_registered: int
    contracts_cancelled: int
    subsidy_granted_fen: int
    deals: list[DealLineView]


PUBLIC_MODELS = (PublicChainHead, PublicDigest, PublicDigests, PublicCertificate,
                 PublicPdfCheck, PublicSigningKey)
"""What the records service answers without a token (checked against the allow-list)."""
