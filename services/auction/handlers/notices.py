"""Negotiated price with public notice (协议定价 + 公示): publish, object, resolve; the end.

The operator of the listing's region publishes the agreed deal for at least 15 days; anyone may
object while it runs, signed in or not (``POST /public/notices/{id}/objections``, with a name
and contact only the operators see); the operator upholds or dismisses each objection with a
reason; the notice, its objections and their outcomes are public. Each command locks the
notice's row, applies the domain and writes the difference with its events in one transaction.

One deadline per notice, ``notice.end`` keyed by its id, at the end of the period: no upheld
objection → the deal stands (``DealConcluded``); one upheld → failed (``AuctionFailed``,
reason ``objection-upheld``). While objections are still pending at the end, the notice cannot
conclude: the handler looks again every :data:`PENDING_RECHECK`, and resolving the last pending
objection after the end moves the deadline to that moment, so the notice concludes right away.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Final

from services.auction.domain.notice import (
    PUBLIC_OBJECTOR,
    Notice,
    NoticeStatus,
    NoticeTerms,
    Objection,
    ObjectionOutcome,
)
from services.auction.handlers.listings import check_startable, locked_listing
from services.auction.schemas import NoticeIn
from services.auction.store import notices as store
from services.auction.store import procedures
from shared.auth import Principal, authorize_region
from shared.context import Command, Tx
from shared.problems import not_found
from shared.scheduler import Deadline, schedule

log = logging.getLogger(__name__)

NOTICE_END: Final = "notice.end"
PENDING_RECHECK: Final = timedelta(hours=1)


async def _locked(tx: Tx, notice_id: uuid.UUID) -> Notice:
    notice = await store.load_notice(tx.conn, notice_id, lock=True)
    if notice is None:
        raise not_found(f"No notice {notice_id}.")
    return notice


# -- commands ---------------------------------------------------------------------------------

async def publish_notice(tx: Command, operator: Principal, body: NoticeIn) -> Notice:
    """Publish the negotiated deal of a published listing whose pricing route is negotiated."""
    now = tx.now()
    listing = await locked_listing(tx, body.listing_id, operator)
    await check_startable(tx, listing, "negotiated")
    terms = NoticeTerms(
        project_name=body.project_name, abstract=body.abstract,
        transfer_mode=body.transfer_mode, price_fen=body.price_fen,
        seller_id=listing["seller_id"], buyer_id=body.buyer_id,
        buyer_name=body.buyer_name, buyer_relation=body.buyer_relation,
        published_at=now, days=body.days)
    notice, events = Notice.publish(terms, listing_id=body.listing_id,
                                    region=listing["region"], actor=operator.subject)
    await store.insert_notice(tx.conn, notice, operator.subject)
    await schedule(tx.conn, NOTICE_END, str(notice.id), notice.ends_at)
    tx.publish(*events)
    return notice


async def file_objection(tx: Command, notice_id: uuid.UUID, who: str, grounds: str
                         ) -> Objection:
    """Object to the notice (异议) while it runs."""
    now = tx.now()
    before = await _locked(tx, notice_id)
    after, filed = before.file_objection(who, grounds, now)
    await store.save_notice(tx.conn, before, after)
    tx.publish(filed)
    return after.objections[-1]


async def file_public_objection(tx: Command, notice_id: uuid.UUID, name: str, contact: str,
                                reason: str) -> Objection:
    """Object to the notice without an account: the objection is published like any other,
    its event's actor is :data:`PUBLIC_OBJECTOR`; the name and contact are kept for the
    operators and go in no event."""
    objection = await file_objection(tx, notice_id, PUBLIC_OBJECTOR, reason)
    await store.save_objector(tx.conn, objection.id, name, contact)
    return objection


async def resolve_objection(tx: Command, operator: Principal, notice_id: uuid.UUID,
                            objection_id: uuid.UUID, outcome: ObjectionOutcome, reason: str
                            ) -> Objection:
    """Uphold or dismiss an objection, with the reason, until the notice concludes; only an
    operator of the notice's region may."""
    now = tx.now()
    await procedures.lock_pending_deadline(tx.conn, NOTICE_END, str(notice_id))
    before = await _locked(tx, notice_id)
    authorize_region(operator, before.region)
    after, resolved = before.resolve_objection(
        objection_id, outcome, reason=reason, operator=operator.subject, at=now)
    await store.save_notice(tx.conn, before, after)
    if now >= after.ends_at and not after.pending:
        # The notice was only waiting for this: let it conclude now.
        await schedule(tx.conn, NOTICE_END, str(notice_id), now)
    tx.publish(resolved)
    return next(o for o in after.objections if o.id == objection_id)


# -- the end of the notice --------------------------------------------------------------------

async def on_notice_end(tx: Tx, deadline: Deadline) -> None:
    now = tx.now()
    before = await store.load_notice(tx.conn, uuid.UUID(deadline.key), lock=True)
    if before is None or before.status is not NoticeStatus.PUBLISHED:
        return
    if now < before.ends_at:  # fired early (clock skew): come back at the end
        await schedule(tx.conn, NOTICE_END, deadline.key, before.ends_at)
        return
    if before.pending:
        log.info("notice %s ended with %d objection(s) pending; looking again at %s",
                 before.id, len(before.pending), (now + PENDING_RECHECK).isoformat())
        await schedule(tx.conn, NOTICE_END, deadline.key, now + PENDING_RECHECK)
        return
    after, events = before.conclude(now)
    await store.save_notice(tx.conn, before, after)
    tx.publish(*events)
