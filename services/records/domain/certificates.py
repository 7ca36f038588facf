"""Certificates the records service issues from the archive, signed with Ed25519 (pure).

* A **transaction certificate** (交易鉴证书) attests a deal priced by a lawful route and settled
  in full: issued on ``SettlementCompleted``.
* A **registration certificate** (技术合同登记证明) attests the contract's registration:
  issued on ``ContractRegistered``.

Numbers (:func:`certificate_number`): ``<prefix>-<region>-<year>-<serial>`` — prefix ``JYJZ``
(交易鉴证) or ``DJZ`` (登记证明), the issuing region's six-digit GB/T 2260 code, the four-digit
year of issue (Asia/Shanghai), a six-digit serial from 000001 per prefix, region and year (a
counter the store keeps): ``JYJZ-120000-2026-000001``. :func:`parse_number` reads one back.

What is signed is :func:`canonical`: the essentials as canonical JSON (sorted keys, no
whitespace, UTF-8 unescaped, datetimes RFC 3339 in UTC with ``Z``, amounts integer fen, a
``format`` member naming this layout). :func:`sign` / :func:`verify` take the keys as arguments.

What anyone may see (:func:`public_view`, the online verification Hebei §20 asks for) follows
the exchange's public/private rule: the number, kind, region, dates, the achievement, the route
and the price (all in the result announcement, 成交公告), the registration number, category and
amounts (in the public contract summaries), the seller (its achievement is published under its
name), and the certificate's digest. Not the buyer: the result announcement shows a bid number
only, identities are the exchange's. Not the received amount, deposits or ledgers, nor the
internal deal and contract ids.

Cancellation (:func:`cancels`): a registered cancellation of the contract (``ContractCancelled``)
cancels the contract's registration certificate and the transaction certificate of its deal —
the transaction they attest is no longer in force; a ``DealDefaulted`` cancels whatever was
issued on the deal (normally nothing: a defaulted deal never completes).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.records.domain.archive import Archived
from services.records.domain.dossier import SHANGHAI
from services.records.domain.errors import NotCertifiable

__all__ = [
    "FORMAT",
    "PREFIXES",
    "SERIAL_CAPACITY",
    "Cancellation",
    "Certificate",
    "CertificateNumber",
    "Kind",
    "MalformedNumber",
    "Party",
    "cancels",
    "canonical",
    "certificate_from",
    "certificate_number",
    "digest",
    "essentials",
    "issue_year",
    "parse_number",
    "public_view",
    "registration_certificate",
    "sign",
    "transaction_certificate",
    "verify",
]

Kind = Literal["transaction", "registration"]
PREFIXES: Final[dict[str, str]] = {"transaction": "JYJZ", "registration": "DJZ"}
_KIND_OF_PREFIX: Final = {v: k for k, v in PREFIXES.items()}
_NUMBER: Final = re.compile(r"(?P<prefix>[A-Z]+)-(?P<region>[0-9]{6})-(?P<year>[0-9]{4})"
                            r"-(?P<serial>[0-9]{6})")
SERIAL_CAPACITY: Final = 999_999
FORMAT: Final = "techex.certificate.v1"
"""Names the canonical layout inside what is signed; a new layout is a new name."""


# -- numbers ---------------------------------------------------------------------------------
class MalformedNumber(ValueError):
    """Not a certificate number of this layout (the route answers it as not found)."""


@dataclass(frozen=True, slots=True)
class CertificateNumber:
    kind: Kind
    region: str
    year: int
    serial: int


def certificate_number(kind: Kind, region: str, year: int, serial: int) -> str:
    """``("transaction", "120000", 2026, 1)`` → ``"JYJZ-120000-2026-000001"``."""
    if kind not in PREFIXES:
        raise ValueError(f"unknown certificate kind {kind!r}")
    if not (len(region) == 6 and region.isdigit()):
        raise ValueError(f"region {region!r} must be six digits")
    if not 1000 <= year <= 9999:
        raise ValueError(f"year {year} must have four digits")
    if not 1 <= serial <= SERIAL_CAPACITY:
        raise ValueError(f"serial {serial} is outside 1..{SERIAL_CAPACITY}")
    return f"{PREFIXES[kind]}-{region}-{year:04d}-{serial:06d}"


def parse_number(number: str) -> CertificateNumber:
    """The parts of a number :func:`certificate_number` made; :class:`MalformedNumber` else."""
    match = _NUMBER.fullmatch(number.strip()) if isinstance(number, str) else None
    if match is None or match["prefix"] not in _KIND_OF_PREFIX or int(match["serial"]) == 0:
        raise MalformedNumber(f"{number!r} is not a certificate number")
    return CertificateNumber(kind=_KIND_OF_PREFIX[match["prefix"]],  # type: ignore[arg-type]
                             region=match["region"], year=int(match["year"]),
                             serial=int(match["serial"]))


def issue_year(issued_at: datetime) -> int:
    """The year a certificate issued at ``issued_at`` is numbered in (Asia/Shanghai)."""
    return issued_at.astimezone(SHANGHAI).year


# -- the certificate -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Party:
    """A party as the events know it: its account id and, where an event names it, its name
    (the seller's from the listing's first holder, a negotiated buyer's from the notice)."""

    id: str | None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Certificate:
    """A certificate's essentials: everything it attests, nothing else (all of it signed)."""

    number: str
    kind: Kind
    region: str
    """The deal's (seller's) region."""
    issued_at: datetime
    evidence: str
    """The event id it was issued on (SettlementCompleted / ContractRegistered)."""
    seller: Party
    buyer: Party
    achievement: str | None
    """The achievement's name (the listing's title, or the notice's project name)."""
    listing_id: str | None
    route: str | None
    price_fen: int | None
    procedure_id: str | None
    deal_id: str | None
    concluded_at: datetime | None
    settled_at: datetime | None = None
    received_fen: int | None = None
    """实际到账金额 of the settlement."""
    contract_id: str | None = None
    registration_number: str | None = None
    registered_at: datetime | None = None
    registrar_region: str | None = None
    category: str | None = None
    subtype: str | None = None
    total_amount_fen: int | None = None
    tech_amount_fen: int | None = None

    @property
    def settlement_id(self) -> str | None:
        """A settlement is keyed by its deal's id."""
        return self.deal_id


def _text(payload: Mapping[str, Any], name: str) -> str | None:
    value = payload.get(name)
    return None if value in (None, "") else str(value)


def _int(payload: Mapping[str, Any], name: str) -> int | None:
    value = payload.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dt(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _last(story: Sequence[Archived], kinds: tuple[str, ...], name: str, value: str | None
          ) -> Archived | None:
    found = None
    if value is None:
        return None
    for e in sorted(story, key=lambda e: e.seq):
        if e.kind in kinds and _text(e.payload, name) == value:
            found = e
    return found


@dataclass(frozen=True, slots=True)
class _Deal:
    deal_id: str | None
    procedure_id: str | None
    listing_id: str | None
    route: str | None
    price_fen: int | None
    concluded_at: datetime | None
    seller: Party
    buyer: Party
    achievement: str | None


def _deal(deal_id: str | None, fallback: Mapping[str, Any], story: Sequence[Archived]) -> _Deal:
    """What the story tells of a deal: ``DealConcluded``, else what ``fallback`` (the
    attesting event) carries; names from the listing and the notice."""
    concluded = _last(story, ("deal.concluded",), "deal_id", deal_id)
    p: Mapping[str, Any] = concluded.payload if concluded else fallback
    listing_id = _text(p, "listing_id") or _text(fallback, "listing_id")
    procedure_id = _text(p, "procedure_id") or _text(fallback, "procedure_id")
    seller_id, buyer_id = _text(p, "seller_id"), _text(p, "buyer_id")
    if seller_id is None:
        drafted = _last(story, ("contract.drafted",), "deal_id", deal_id)
        seller_id = _text(drafted.payload, "seller_id") if drafted else None
    snapshot = _last(story, ("listing.created", "listing.updated", "listing.published"),
                     "listing_id", listing_id)
    listing = snapshot.payload.get("listing") if snapshot else None
    listing = listing if isinstance(listing, Mapping) else {}
    holders = listing.get("holders") or []
    seller_name = (str(holders[0]["name"]) if holders and isinstance(holders[0], Mapping)
                   and holders[0].get("name") else None)
    notice = _last(story, ("auction.notice_published",), "procedure_id", procedure_id)
    buyer_name = None
    achievement = _text(listing, "title")
    if notice is not None:
        if _text(notice.payload, "buyer_id") == buyer_id:
            buyer_name = _text(notice.payload, "buyer_name")
        achievement = achievement or _text(notice.payload, "project_name")
    return _Deal(deal_id=deal_id or _text(p, "deal_id"), procedure_id=procedure_id,
                 listing_id=listing_id, route=_text(p, "route"),
                 price_fen=_int(p, "price_fen"), concluded_at=_dt(p.get("concluded_at")),
                 seller=Party(seller_id, seller_name), buyer=Party(buyer_id, buyer_name),
                 achievement=achievement)


def transaction_certificate(number: str, issued_at: datetime, completed: Archived,
                            story: Sequence[Archived]) -> Certificate:
    """The transaction certificate of the deal ``completed`` (a ``SettlementCompleted``)
    settled; ``story`` (the deal's dossier events) supplies the deal, the listing's names and,
    if already registered, the contract."""
    if completed.kind != "settlement.completed":
        raise NotCertifiable(f"A transaction certificate is issued on a completed settlement, "
                             f"not on {completed.kind}.", event_id=completed.event_id)
    p = completed.payload
    deal = _deal(completed.subject, p, story)
    contract = _last(story, ("contract.drafted", "contract.registered"), "deal_id", deal.deal_id)
    registered = _last(story, ("contract.registered",), "deal_id", deal.deal_id)
    return Certificate(
        number=number, kind="transaction", region=str(p.get("region") or completed.region),
        issued_at=issued_at, evidence=completed.event_id, seller=deal.seller, buyer=deal.buyer,
        achievement=deal.achievement, listing_id=deal.listing_id, route=deal.route,
        price_fen=deal.price_fen, procedure_id=deal.procedure_id, deal_id=deal.deal_id,
        concluded_at=deal.concluded_at, settled_at=completed.time,
        received_fen=_int(p, "received_fen"),
        contract_id=contract.subject if contract else None,
        registration_number=_text(registered.payload, "registration_number")
        if registered else None,
        registered_at=registered.time if registered else None)


def registration_certificate(number: str, issued_at: datetime, registered: Archived,
                             story: Sequence[Archived]) -> Certificate:
    """The registration certificate of the contract ``registered`` (a ``ContractRegistered``)
    registered, with its figures as registered; ``story`` supplies the deal and names."""
    if registered.kind != "contract.registered":
        raise NotCertifiable(f"A registration certificate is issued on a registered contract, "
                             f"not on {registered.kind}.", event_id=registered.event_id)
    p = registered.payload
    deal_id = _text(p, "deal_id")
    if deal_id is None:
        drafted = _last(story, ("contract.drafted",), "contract_id", registered.subject)
        deal_id = _text(drafted.payload, "deal_id") if drafted else None
    deal = _deal(deal_id, p, story)
    completed = _last(story, ("settlement.completed",), "deal_id", deal_id)
    return Certificate(
        number=number, kind="registration", region=str(p.get("region") or registered.region),
        issued_at=issued_at, evidence=registered.event_id, seller=deal.seller,
        buyer=deal.buyer, achievement=deal.achievement, listing_id=deal.listing_id,
        route=deal.route, price_fen=deal.price_fen, procedure_id=deal.procedure_id,
        deal_id=deal.deal_id, concluded_at=deal.concluded_at,
        settled_at=completed.time if completed else None,
        received_fen=_int(completed.payload, "received_fen") if completed else None,
        contract_id=registered.subject,
        registration_number=_text(p, "registration_number"), registered_at=registered.time,
        registrar_region=_text(p, "registrar_region"), category=_text(p, "category"),
        subtype=_text(p, "subtype"), total_amount_fen=_int(p, "total_amount_fen"),
        tech_amount_fen=_int(p, "tech_amount_fen"))


# -- canonical form, signature ---------------------------------------------------------------
def _rfc3339(at: datetime) -> str:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at!r} has no time zone")
    utc = at.astimezone(UTC)
    fraction = f".{utc.microsecond:06d}" if utc.microsecond else ""
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def essentials(cert: Certificate) -> dict[str, Any]:
    """The certificate as a JSON-ready dict (datetimes as RFC 3339 UTC strings, parties as
    ``{"id", "name"}``, plus ``format``): what the store keeps and :func:`canonical` signs."""
    doc: dict[str, Any] = {"format": FORMAT}
    for f in fields(cert):
        value = getattr(cert, f.name)
        if isinstance(value, datetime):
            value = _rfc3339(value)
        elif isinstance(value, Party):
            value = {"id": value.id, "name": value.name}
        doc[f.name] = value
    return doc


def certificate_from(doc: Mapping[str, Any]) -> Certificate:
    """The certificate :func:`essentials` gave ``doc`` for (the store reloading it)."""
    if doc.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} document")
    values: dict[str, Any] = {}
    for f in fields(Certificate):
        value = doc.get(f.name)
        if f.name in ("seller", "buyer"):
            value = Party(**value) if isinstance(value, Mapping) else Party(None)
        elif f.name.endswith("_at") and isinstance(value, str):
            value = datetime.fromisoformat(value)
        values[f.name] = value
    return Certificate(**values)


def canonical(cert: Certificate) -> bytes:
    """The bytes signed: :func:`essentials` as canonical JSON."""
    return json.dumps(essentials(cert), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False).encode("utf-8")


def digest(cert: Certificate) -> str:
    """SHA-256 of :func:`canonical`, hex: what a printed certificate and its check show."""
    return hashlib.sha256(canonical(cert)).hexdigest()


def sign(cert: Certificate, private_key: Ed25519PrivateKey) -> bytes:
    """The Ed25519 signature (64 bytes) of :func:`canonical`."""
    return private_key.sign(canonical(cert))


def verify(cert: Certificate, signature: bytes, public_key: Ed25519PublicKey) -> bool:
    """Whether ``signature`` signs these essentials with the key's private half."""
    try:
        public_key.verify(signature, canonical(cert))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


# -- public view, cancellation ---------------------------------------------------------------
_PUBLIC: Final = ("number", "kind", "region", "issued_at", "achievement", "listing_id", "route",
                  "price_fen", "procedure_id", "concluded_at", "settled_at",
                  "registration_number", "registered_at", "registrar_region", "category",
                  "subtype", "total_amount_fen", "tech_amount_fen")


@dataclass(frozen=True, slots=True)
class Cancellation:
    """What an event cancels: certificates of ``kinds`` issued on ``contract_id`` (when set)
    or on ``deal_id`` (when set) — the store cancels those matching either."""

    kinds: tuple[Kind, ...]
    contract_id: str | None
    deal_id: str | None
    registration_number: str | None
    reason: str
    at: datetime
    event_id: str


def cancels(event: Archived, story: Sequence[Archived] = ()) -> Cancellation | None:
    """The certificates ``event`` cancels, if any: a ``ContractCancelled`` both kinds of its
    contract (the deal's id found in ``story`` when given), a ``DealDefaulted`` both kinds of
    its deal; any other event nothing."""
    p = event.payload
    if event.kind == "contract.cancelled":
        source = _last(story, ("contract.drafted", "contract.registered"), "contract_id",
                       event.subject)
        return Cancellation(
            kinds=("registration", "transaction"), contract_id=event.subject,
            deal_id=_text(source.payload, "deal_id") if source else None,
            registration_number=_text(p, "registration_number"),
            reason=f"合同注销登记：{p.get('reason', '')}", at=event.time,
            event_id=event.event_id)
    if event.kind == "deal.defaulted":
        return Cancellation(kinds=("transaction", "registration"), contract_id=None,
                            deal_id=_text(p, "deal_id") or event.subject,
                            registration_number=None, reason="受让方未按期付款，交易违约",
                            at=event.time, event_id=event.event_id)
    return None


def public_view(cert: Certificate, cancellation: Cancellation | None = None) -> dict[str, Any]:
    """What anyone checking the certificate sees (see the module docstring), JSON-ready, with
    ``valid`` (and ``cancelled_at``) when the store found it cancelled."""
    doc = essentials(cert)
    view = {name: doc[name] for name in _PUBLIC}
    view["seller"] = {"id": cert.seller.id, "name": cert.seller.name}
    view["digest"] = digest(cert)
    view["valid"] = cancellation is None
    view["cancelled_at"] = _rfc3339(cancellation.at) if cancellation else None
    return view
