"""Every reaction of the records service: archiving each event, following procedures,
issuing and cancelling certificates, and the chain's daily digest.

Every consumed event — this deployment's, its own public topics' and the partners' mirrored
public ones — is appended to the hash chain in the consumer's transaction (the inbox makes
a redelivery a no-op); the reactions run in the same transaction, so a certificate exists
exactly when the event that earned it is archived.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from pydantic_core import from_json

from services.records import metrics
from services.records.config import RecordsSettings
from services.records.documents import Document, FontMissing, render_pdf
from services.records.documents.fonts import require_font
from services.records.documents.views import certificate_document
from services.records.domain import certificates as certs
from services.records.domain import chain
from services.records.domain.archive import Archived
from services.records.domain.links import expand, refs, select
from services.records.store import archive, certificates, digests, procedures
from shared.consumer import Handler
from shared.context import Tx
from shared.events import Event
from shared.events.records import CertificateCancelled, CertificateIssued, ChainDigested
from shared.service import Runtime
from shared.settings import CommonSettings

log = logging.getLogger(__name__)

BEIJING = ZoneInfo("Asia/Shanghai")
DIGEST_GRACE = timedelta(minutes=1)
"""A day's digest waits this long after midnight: an append of 23:59:59 has committed."""


# -- the exchange's signing key -----------------------------------------------------------------
@dataclass
class Signer:
    """The exchange's Ed25519 key: configured, or the embedded default's (made once, kept in
    the records database). Loaded at startup, before any certificate is issued."""

    settings: RecordsSettings
    common: CommonSettings
    private: Ed25519PrivateKey | None = field(default=None, repr=False)

    async def load(self, pool: asyncpg.Pool) -> None:
        pem = self.settings.signing_key
        if pem is None:
            if not self.common.embedded_default():
                raise RuntimeError(
                    "refusing to start: RECORDS_SIGNING_KEY (the exchange's Ed25519 private "
                    "key, PKCS#8 PEM) is not set; generate one with `openssl genpkey "
                    "-algorithm ed25519`")
            made = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()).decode()
            pem = await certificates.signing_key(pool) or await certificates.keep_signing_key(
                pool, made)
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise RuntimeError("RECORDS_SIGNING_KEY is not an Ed25519 private key")
        self.private = key

    @property
    def key(self) -> Ed25519PrivateKey:
        if self.private is None:
            raise RuntimeError("the signing key is not loaded yet")
        return self.private

    @property
    def public(self) -> Ed25519PublicKey:
        return self.key.public_key()

    def public_raw(self) -> bytes:
        return self.public.public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)


async def load_signer(runtime: Runtime) -> None:
    await runtime.part(Signer).load(runtime.pool)


async def check_font(runtime: Runtime) -> None:
    """Say at startup when the Chinese font the PDFs need is missing (Debian's
    fonts-wqy-microhei; `techex up` and `techex test` install it): the service runs, and its
    PDFs answer 503 until the font is there."""
    del runtime
    try:
        require_font()
    except FontMissing as exc:
        log.warning("records: PDFs cannot be rendered yet: %s", exc)


# -- archiving ----------------------------------------------------------------------------------
def archived_of(tx: Tx, seq: int = 0) -> tuple[bytes, Archived]:
    """The consumed event's canonical record and its archived form (``seq`` once known)."""
    envelope, received = tx.envelope, tx.received
    assert envelope is not None and received is not None, "an event handler's context"
    _, value, headers = envelope.to_record()
    record = chain.canonical(received.topic, received.partition, received.offset, headers,
                             value)
    return record, Archived(seq, envelope.id, envelope.type, envelope.source, envelope.subject,
                            envelope.region, envelope.time, received.topic, from_json(value))


async def archive_event(tx: Tx, event: Event) -> Archived | None:
    """Append the consumed event to the chain and keep the procedure index; the archived
    event, or None when it was archived already."""
    del event  # the record is the event as received: its envelope, not the typed model
    record, entry = archived_of(tx)
    seq = await archive.append(tx.conn, record, entry, tx.envelope.data.decode(), tx.origin,
                               sorted(refs(entry.type, entry.subject, entry.payload)), tx.now())
    if seq is None:
        return None
    entry = Archived(seq, entry.event_id, entry.type, entry.source, entry.subject, entry.region,
                     entry.time, entry.topic, entry.payload)
    await procedures.follow(tx.conn, entry)
    metrics.ARCHIVED.labels(entry.topic).inc()
    metrics.ARCHIVE_DELAY.observe(max(0.0, (tx.now() - entry.time).total_seconds()))
    return entry


def reactions(runtime: Runtime) -> Handler:
    """The handler of every event: archive it, then react to the few that earn or undo a
    certificate — in the consumer's transaction, so both happen once, or not at all."""
    signer = runtime.part(Signer)
    issuing_region = runtime.common.region

    async def react(tx: Tx, event: Event) -> None:
        entry = await archive_event(tx, event)
        if entry is None:
            return
        if entry.kind == "settlement.completed":
            await issue(tx, entry, "transaction", signer, issuing_region)
        elif entry.kind == "contract.registered":
            await issue(tx, entry, "registration", signer, issuing_region)
        elif entry.kind in ("contract.cancelled", "deal.defaulted"):
            await cancel_certificates(tx, entry)

    return react


# -- stories, certificates ----------------------------------------------------------------------
MAX_ROUNDS = 6


async def story(conn: asyncpg.Connection | asyncpg.Pool, procedure_id: str
                ) -> list[Archived]:
    """One procedure's events from the archive, in its order (see :mod:`..domain.links`):
    the rows naming what the procedure owns, widened until nothing new is named."""
    ids: frozenset[str] = frozenset({procedure_id})
    events: list[Archived] = []
    for _ in range(MAX_ROUNDS):
        events = await archive.referring(conn, sorted(ids))
        wider = expand(procedure_id, events)
        if wider <= ids:
            break
        ids = ids | wider
    return select(procedure_id, events)


async def procedure_of(conn: asyncpg.Connection, entry: Archived) -> str | None:
    """The procedure a settlement's, a deal's or a contract's event goes back to (through
    its deal; a contract's deal through the contract's earlier events)."""
    p = entry.payload
    if p.get("procedure_id") and not entry.kind.startswith(("listing.", "contract.")):
        return str(p["procedure_id"])
    deal = p.get("deal_id")
    if deal is None and entry.kind.startswith(("settlement.", "deal.")):
        deal = entry.subject
    if deal is None and entry.kind.startswith("contract."):
        deal = next((e.payload["deal_id"] for e in await archive.referring(conn, [entry.subject])
                     if e.payload.get("deal_id")), None)
    if deal is None:
        return None
    for e in await archive.referring(conn, [str(deal)]):
        if e.kind == "deal.concluded" and e.payload.get("procedure_id"):
            return str(e.payload["procedure_id"])
    return None


async def issue(tx: Tx, entry: Archived, kind: certs.Kind, signer: Signer,
                issuing_region: str) -> str | None:
    """Issue the certificate ``entry`` earns (once: a certificate per source event); its
    PDF is rendered after the commit (:func:`render_certificates`)."""
    conn = tx.conn
    if await certificates.issued_for(conn, entry.event_id):
        return None
    procedure = await procedure_of(conn, entry)
    events = await story(conn, procedure) if procedure else []
    now = tx.now()
    year = certs.issue_year(now)
    serial = await certificates.next_serial(conn, kind, issuing_region, year)
    number = certs.certificate_number(kind, issuing_region, year, serial)
    make = certs.transaction_certificate if kind == "transaction" \
        else certs.registration_certificate
    cert = make(number, now, entry, events)
    await certificates.insert(
        conn, number=number, kind=kind, region=cert.region, procedure_id=cert.procedure_id,
        deal_id=cert.deal_id, contract_id=cert.contract_id,
        parties=[p for p in (cert.seller.id, cert.buyer.id) if p],
        essentials=certs.essentials(cert), signature=certs.sign(cert, signer.key),
        issued_at=now, source_event=entry.event_id)
    metrics.CERTIFICATES.labels(kind).inc()
    return number


async def cancel_certificates(tx: Tx, entry: Archived) -> None:
    procedure = await procedure_of(tx.conn, entry)
    events = await story(tx.conn, procedure) if procedure else []
    cancellation = certs.cancels(entry, events)
    if cancellation is None:
        return
    for row in await certificates.cancel(
            tx.conn, deal_id=cancellation.deal_id, contract_id=cancellation.contract_id,
            kinds=cancellation.kinds, reason=cancellation.reason, at=tx.now()):
        tx.publish(CertificateCancelled(number=row["number"], reason=cancellation.reason,
                                        region=row["region"].strip(), cancelled_at=tx.now()))
        metrics.CANCELLED.labels(row["kind"]).inc()


def certificate_pdf(cert: certs.Certificate, signature: bytes, signer: Signer,
                    settings: RecordsSettings) -> bytes:
    """A certificate's PDF: its bytes follow from the certificate alone."""
    return render_pdf(certificate_print(cert, signature, signer, settings))


def certificate_print(cert: certs.Certificate, signature: bytes, signer: Signer,
                      settings: RecordsSettings) -> Document:
    url = f"{settings.public_url.rstrip('/')}/public/certificates/{cert.number}"
    return certificate_document(cert, base64.b64encode(signature).decode(),
                                base64.b64encode(signer.public_raw()).decode(),
                                certs.digest(cert), url, settings.issuer)


async def render_certificates(runtime: Runtime) -> None:
    """Render the PDFs of certificates issued since the last run, keep each with its SHA-256
    and announce the certificate (CertificateIssued carries the hash)."""
    settings: RecordsSettings = runtime.settings  # type: ignore[assignment]
    signer = runtime.part(Signer)
    for row in await certificates.unrendered(runtime.pool):
        cert = certs.certificate_from(stored_json(row["essentials"]))
        pdf = await asyncio.to_thread(certificate_pdf, cert, bytes(row["signature"]), signer,
                                      settings)
        sha = hashlib.sha256(pdf).hexdigest()
        async with runtime.transaction() as tx:
            if await certificates.keep_pdf(tx.conn, row["number"], pdf, sha):
                tx.publish(CertificateIssued(
                    number=row["number"], kind=row["kind"], procedure_id=row["procedure_id"],
                    region=row["region"].strip(), pdf_sha256=sha, issued_at=cert.issued_at))


def stored_json(value: str | dict) -> dict:
    """A jsonb column as asyncpg returns it (text) as data."""
    return json.loads(value) if isinstance(value, str) else value


async def holder_events(pool: asyncpg.Pool, holder: str) -> list[Archived]:
    """What an institution's annual report is computed from: the events naming its
    listings, their deals and contracts (three rounds of ids)."""
    ids = set(await archive.listings_of(pool, holder))
    events: list[Archived] = []
    for _ in range(3):
        if not ids:
            return []
        events = await archive.referring(pool, sorted(ids))
        wider = ids | {str(v) for e in events for f in ("deal_id", "contract_id")
                       if (v := e.payload.get(f))}
        if wider == ids:
            break
        ids = wider
    return events


# -- the daily digest ---------------------------------------------------------------------------
def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The instants an Asia/Shanghai calendar day begins and ends."""
    start = datetime.combine(day, time(), BEIJING)
    return start, datetime.combine(day + timedelta(days=1), time(), BEIJING)


async def publish_digests(runtime: Runtime) -> None:
    """Publish the digest of every ended day since the last one published (or since the
    first archived row): the chain's last row before the day ended, and the day's count."""
    now = runtime.clock.now()
    yesterday = (now - DIGEST_GRACE).astimezone(BEIJING).date() - timedelta(days=1)
    last = await digests.latest_day(runtime.pool)
    if last is None:
        first = await runtime.pool.fetchval("SELECT min(archived_at) FROM archive")
        if first is None:
            return
        day = first.astimezone(BEIJING).date()
    else:
        day = last + timedelta(days=1)
    region = runtime.common.region
    while day <= yesterday:
        start, end = day_bounds(day)
        async with runtime.transaction() as tx:
            seq, head = await archive.last_before(tx.conn, end)
            count = await archive.day_count(tx.conn, start, end)
            if await digests.record(tx.conn, day, seq, head, count, now):
                tx.publish(ChainDigested(day=day, seq=seq, head=head.hex(), events=count,
                                         region=region, digested_at=now))
        metrics.show_digest(day.isoformat(), seq, head.hex())
        log.info("records: digest of %s: row %d, %s (%d events that day)", day, seq,
                 head.hex(), count)
        day += timedelta(days=1)


# -- the check of the chain ---------------------------------------------------------------------
async def verify_chain(conn: asyncpg.Connection, since: date | None = None,
                       chunk: int = 2000) -> chain.Checked:
    """Recompute the chain from the first row archived on ``since`` (Asia/Shanghai; from the
    first row without it) to the head as it stood when the check began (rows appended
    meanwhile are left for the next check), against the published digests; the first bad row,
    if any. Starting mid-chain trusts the row before the start (its stored hash)."""
    head_seq, head_hash = await archive.head(conn)
    previous_seq, previous_hash = 0, chain.GENESIS
    if since is not None:
        first = await archive.first_archived_on_or_after(conn, day_bounds(since)[0])
        if first is None or first > head_seq:
            return chain.Checked(0, head_seq, head_hash, None)
        previous_seq = first - 1
        if previous_seq > 0:
            stored = await archive.hash_at(conn, previous_seq)
            if stored is None:
                return chain.Checked(0, previous_seq, chain.GENESIS, chain.Break(
                    previous_seq, "", f"row {previous_seq}, before the first row of {since}, "
                                      "is missing"))
            previous_hash = stored
    published = await digests.all_digests(conn)
    rows = 0
    batch: list[chain.Row] = []
    async for row in archive.rows(conn, previous_seq, head_seq, chunk):
        batch.append(row)
        if len(batch) == chunk:
            checked = chain.verify(batch, previous_seq, previous_hash, published)
            rows += checked.rows
            if checked.broken:
                return chain.Checked(rows, checked.last_seq, checked.head, checked.broken)
            previous_seq, previous_hash, batch = checked.last_seq, checked.head, []
    checked = chain.verify(batch, previous_seq, previous_hash, published)
    rows += checked.rows
    if checked.broken is None and checked.last_seq < head_seq:
        return chain.Checked(rows, checked.last_seq, checked.head, chain.Break(
            checked.last_seq + 1, "",
            f"the chain head says row {head_seq} is the last, the archive ends at "
            f"{checked.last_seq}"))
    return chain.Checked(rows, checked.last_seq, checked.head, checked.broken)
