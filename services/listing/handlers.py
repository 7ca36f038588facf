"""Every listing command, the reactions to other services' events and the expiry deadline.

Each works in the transaction context it is given (an HTTP command's, the consumer's, the
scheduler's, or the seed's own): it locks the aggregate it changes, calls the domain, saves and
publishes the events, which commit with the change. Every time comes from ``tx.now()``, the
clock of whoever opened the transaction, so tests (and the seed) control it.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx

from services.listing.domain import catalog, text
from services.listing.domain.achievement import Achievement, Details, Status
from services.listing.domain.demand import CallMode, Demand
from services.listing.domain.errors import (
    DuplicateProposal,
    NotEditable,
    NotTheOwner,
    TooManyWebhooks,
)
from services.listing.domain.fields import TechField
from services.listing.domain.interest import Interest, match
from services.listing.domain.notification import (
    Kind,
    backoff,
    ending_notice_at,
    outbid_party,
    signature_header,
)
from services.listing.metrics import EXPIRED, NOTIFICATIONS, WEBHOOKS
from services.listing.store import achievements, demands, notifications
from services.listing.store import catalog as partner_catalog
from shared.auth import Principal, authorize_region
from shared.context import Tx
from shared.events import Event
from shared.events.auction import (
    AuctionAnnounced,
    AuctionClosed,
    AuctionExtended,
    AuctionFailed,
    AuctionTermsPublished,
    BidAccepted,
    DealConcluded,
    ListingBiddingStarted,
    ObjectionFiled,
    ObjectionResolved,
)
from shared.events.listing import ListingInterestMatched
from shared.events.public.catalog import (
    CatalogListingInTransaction,
    CatalogListingPublished,
    CatalogListingTraded,
    CatalogListingWithdrawn,
)
from shared.events.registry import ContractRegistered
from shared.problems import not_found
from shared.scheduler import Deadline, schedule

EXPIRY = "listing-expiry"
"""The deadline kind of a published listing's end of period; its key is the listing id."""


# -- achievements ----------------------------------------------------------------------------

async def _save(tx: Tx, a: Achievement, *events: Event) -> Achievement:
    """Write the changed listing and publish its events; a listing (again) published has its
    expiry deadline scheduled (or moved) in the same transaction."""
    await achievements.save_achievement(tx.conn, a)
    tx.publish(*events)
    if a.status is Status.PUBLISHED and a.expires_at is not None:
        await schedule(tx.conn, EXPIRY, str(a.id), a.expires_at)
    return a


async def _lock(tx: Tx, achievement_id: uuid.UUID) -> Achievement:
    a = await achievements.lock_achievement(tx.conn, achievement_id)
    if a is None:
        raise not_found(f"No achievement {achievement_id}.")
    return a


def _own(a: Achievement, seller: Principal) -> Achievement:
    if a.seller_id != seller.subject:
        raise NotTheOwner(detail="Only the seller who filed the listing may change it.")
    return a


async def _owned(tx: Tx, achievement_id: uuid.UUID, seller: Principal) -> Achievement:
    return _own(await _lock(tx, achievement_id), seller)


async def _reviewable(tx: Tx, achievement_id: uuid.UUID, operator: Principal) -> Achievement:
    a = await _lock(tx, achievement_id)
    authorize_region(operator, a.region)
    return a


async def create_achievement(tx: Tx, seller: Principal, *, region: str,
                             details: Details) -> Achievement:
    authorize_region(seller, region)
    a, event = Achievement.draft(seller_id=seller.subject, region=region, details=details,
                                 now=tx.now())
    await achievements.insert_achievement(tx.conn, a)
    tx.publish(event)
    return a


async def edit_achievement(tx: Tx, seller: Principal, achievement_id: uuid.UUID,
                           details: Details, *, region: str) -> Achievement:
    """Replace the listing's details; ``region``, as the seller sent it, must be its own."""
    a = await _lock(tx, achievement_id)
    if region != a.region:
        raise NotEditable(detail="A listing's region cannot change; file a new one.")
    a = _own(a, seller)
    return await _save(tx, *a.edit(details, now=tx.now(), actor=seller.subject))


async def submit_achievement(tx: Tx, seller: Principal, achievement_id: uuid.UUID
                             ) -> Achievement:
    a = await _owned(tx, achievement_id, seller)
    return await _save(tx, *a.submit(now=tx.now(), actor=seller.subject))


async def withdraw_achievement(tx: Tx, seller: Principal, achievement_id: uuid.UUID
                               ) -> Achievement:
    a = await _owned(tx, achievement_id, seller)
    return await _save(tx, *a.withdraw(now=tx.now(), actor=seller.subject))


async def start_review(tx: Tx, operator: Principal, achievement_id: uuid.UUID) -> Achievement:
    a = await _reviewable(tx, achievement_id, operator)
    return await _save(tx, *a.start_review(now=tx.now(), actor=operator.subject))


async def record_security_review(tx: Tx, reviewer: Principal, achievement_id: uuid.UUID, *,
                                 outcome: str, reference: str) -> Achievement:
    a = await _reviewable(tx, achievement_id, reviewer)
    return await _save(tx, *a.record_security_review(
        outcome=outcome, reference=reference, now=tx.now(), actor=reviewer.subject))


async def approve_achievement(tx: Tx, operator: Principal, achievement_id: uuid.UUID, *,
                              validity: timedelta) -> Achievement:
    """Publish the listing for ``validity``; buyers' saved interests it matches are told."""
    now = tx.now()
    a, event = (await _reviewable(tx, achievement_id, operator)).approve(
        now=now, actor=operator.subject, validity=validity)
    return await _save(tx, a, event, *await _interest_matches(tx.conn, a, now))


async def reject_achievement(tx: Tx, operator: Principal, achievement_id: uuid.UUID, *,
                             reason: str) -> Achievement:
    a = await _reviewable(tx, achievement_id, operator)
    return await _save(tx, *a.reject(reason=reason, now=tx.now(), actor=operator.subject))


async def _interest_matches(conn: asyncpg.Connection, a: Achievement, now: datetime
                            ) -> list[ListingInterestMatched]:
    d = a.details
    listing_words = set(text.words(f"{d.title} {' '.join(d.keywords)} {d.abstract}"))
    found = []
    for row in await demands.interests_for(conn, a.region[:2]):
        interest = Interest(id=row["id"], buyer_id=row["buyer_id"],
                            query_words=frozenset(row["query_words"]), field=row["field"],
                            min_trl=row["min_trl"], max_price_fen=row["max_price_fen"])
        m = match(interest, d, listing_words)
        if m is not None:
            found.append(ListingInterestMatched(
                listing_id=a.id, region=a.region, occurred_at=now, actor="listing",
                interest_id=row["id"], buyer_id=row["buyer_id"], score=m.score,
                reasons=m.reasons))
    return found


# -- the end of a listing's period -----------------------------------------------------------

async def on_expiry_due(tx: Tx, deadline: Deadline) -> None:
    """Expire the listing whose period ended, if it is still published.

    Otherwise nothing: withdrawn, in a transaction or traded since (a listing a failed
    procedure returns to published has its expiry scheduled again, see ``_save``). A deadline
    that finds the period not yet over waits for its end.
    """
    a = await achievements.lock_achievement(tx.conn, uuid.UUID(deadline.key))
    if a is None or a.status is not Status.PUBLISHED or a.expires_at is None:
        return
    now = tx.now()
    if now < a.expires_at:
        await schedule(tx.conn, EXPIRY, deadline.key, a.expires_at)
        return
    expired, event = a.expire(now=now)
    await achievements.save_achievement(tx.conn, expired)
    tx.publish(event)
    EXPIRED.inc()


# -- other services' procedures on a listing -------------------------------------------------

async def _apply(tx: Tx, listing_id: uuid.UUID | None, change: Any) -> None:
    """Lock the listing, apply ``change``; a listing unknown here is someone else's."""
    if listing_id is None:
        return
    a = await achievements.lock_achievement(tx.conn, listing_id)
    if a is None:
        return
    result = change(a, tx.now())
    if result is None:
        return  # already in that state: a redelivered or reordered event
    await _save(tx, *result)


async def on_announced(tx: Tx, e: AuctionAnnounced) -> None:
    """The listing enters its procedure, and its watchers hear of it."""
    await _apply(tx, e.listing_id, lambda a, now: Achievement.enter_transaction(
        a, procedure_id=str(e.procedure_id), cause=e.ce_type(), now=now))
    await _announce_to_watchers(tx, e)


async def on_failed(tx: Tx, e: AuctionFailed) -> None:
    await _procedure_ended(tx, e.procedure_id, e.listing_id)
    await _apply(tx, e.listing_id, lambda a, now: a.return_from_transaction(
        procedure_id=str(e.procedure_id), cause=e.ce_type(), now=now))


async def on_deal(tx: Tx, e: DealConcluded) -> None:
    # A negotiated deal may conclude without an announcement having been seen first.
    await _apply(tx, e.listing_id, lambda a, now: None if a.status.value in (
        "in_transaction", "traded") else a.enter_transaction(
            procedure_id=str(e.procedure_id), cause=e.ce_type(), now=now))


async def on_registered(tx: Tx, e: ContractRegistered) -> None:
    await _apply(tx, e.listing_id, lambda a, now: a.trade(
        procedure_id=str(e.deal_id or e.contract_id), cause=e.ce_type(), now=now))


# -- the public catalog: what partners hear of, and what they tell ----------------------------

async def public_catalog(conn: asyncpg.Connection, events: Sequence[Event]) -> list[Event]:
    """The outbox's derive hook: for each listing a transaction's events changed (published,
    in a procedure, back, withdrawn, expired, traded), its public catalog event, made from
    the listing as it now stands in that transaction."""
    derived = []
    for listing_id, e in catalog.last_told(events).items():
        a = await achievements.get_achievement(conn, listing_id)
        public = catalog.public_event(a, e) if a is not None else None
        if public is not None:
            derived.append(public)
    return derived


async def on_partner_published(tx: Tx, e: CatalogListingPublished) -> None:
    """A partner's listing is published (again): into the local search, unless a newer
    revision of it is known."""
    if tx.origin is None:
        return  # this deployment's own catalog, which its own listings already are
    await partner_catalog.put_published(tx.conn, tx.origin, e, tx.now())


async def on_partner_status(tx: Tx, e: CatalogListingInTransaction | CatalogListingWithdrawn
                            | CatalogListingTraded) -> None:
    """A partner's listing went to a procedure (still shown), or was withdrawn or traded
    there (gone from the search), unless a newer revision of it is known."""
    if tx.origin is None:
        return
    status = {CatalogListingInTransaction: "in_transaction",
              CatalogListingWithdrawn: "withdrawn", CatalogListingTraded: "traded"}[type(e)]
    await partner_catalog.put_status(tx.conn, tx.origin, e.listing_id, revision=e.revision,
                                     status=status, region=e.region, path=e.path, now=tx.now())


# -- demands and interests -------------------------------------------------------------------

async def post_demand(tx: Tx, enterprise: Principal, *, region: str, title: str,
                      description: str, field: TechField, keywords: tuple[str, ...],
                      mode: CallMode, budget_fen: int | None, min_trl: int, deadline: datetime
                      ) -> Demand:
    authorize_region(enterprise, region)
    d, event = Demand.post(enterprise_id=enterprise.subject, region=region, title=title,
                           description=description, field=field, keywords=keywords, mode=mode,
                           budget_fen=budget_fen, min_trl=min_trl, deadline=deadline,
                           now=tx.now())
    await demands.insert_demand(tx.conn, d)
    tx.publish(event)
    return d


async def _demand(tx: Tx, demand_id: uuid.UUID) -> Demand:
    d = await demands.get_demand(tx.conn, demand_id, lock=True)
    if d is None:
        raise not_found(f"No demand {demand_id}.")
    return d


async def submit_proposal(tx: Tx, provider: Principal, demand_id: uuid.UUID, *,
                          listing_id: uuid.UUID | None, price_fen: int | None, summary: str
                          ) -> tuple[uuid.UUID, Demand]:
    """Answer the demand's call; the new proposal's id and the demand it answers."""
    now = tx.now()
    d = await _demand(tx, demand_id)
    if listing_id is not None:
        listing = await achievements.get_achievement(tx.conn, listing_id)
        if listing is None or listing.seller_id != provider.subject:
            raise not_found(f"The proposal names listing {listing_id}, not one of yours.")
    proposal_id, event = d.accept_proposal(provider_id=provider.subject, listing_id=listing_id,
                                           price_fen=price_fen, now=now)
    if not await demands.insert_proposal(
        tx.conn, proposal_id=proposal_id, demand_id=d.id, provider_id=provider.subject,
        listing_id=listing_id, price_fen=price_fen, summary=summary, now=now,
    ):
        raise DuplicateProposal(detail="You have already answered this demand.")
    tx.publish(event)
    return proposal_id, d


async def award_demand(tx: Tx, enterprise: Principal, demand_id: uuid.UUID,
                       proposal_id: uuid.UUID) -> Demand:
    d = await _demand(tx, demand_id)
    proposal = await demands.get_proposal(tx.conn, proposal_id)
    if proposal is None or proposal["demand_id"] != d.id:
        raise not_found(f"No proposal {proposal_id} for demand {demand_id}.")
    d, event = d.award(proposal_id=proposal_id, provider_id=proposal["provider_id"],
                       actor=enterprise.subject, now=tx.now())
    await demands.set_demand_status(tx.conn, d)
    tx.publish(event)
    return d


async def close_demand(tx: Tx, enterprise: Principal, demand_id: uuid.UUID) -> Demand:
    d, event = (await _demand(tx, demand_id)).close(reason="withdrawn",
                                                    actor=enterprise.subject, now=tx.now())
    await demands.set_demand_status(tx.conn, d)
    tx.publish(event)
    return d


async def save_interest(tx: Tx, buyer: Principal, *, query: str, field: str | None,
                        min_trl: int | None, max_price_fen: int | None) -> uuid.UUID:
    interest_id = uuid.uuid4()
    await demands.insert_interest(
        tx.conn, interest_id=interest_id, buyer_id=buyer.subject, region=buyer.region.code,
        query=query, field=field, min_trl=min_trl, max_price_fen=max_price_fen, now=tx.now())
    return interest_id


# -- notifications (push that reaches people) ------------------------------------------------
#
# Each notification is made once per (account, cause): the cause is a key of what happened
# built from the event's own fields (the procedure and bid sequence, the objection…), so a
# redelivered event, or the same event replayed from another source, makes no second one.

NOTIFY_ENDING = "listing-notify-ending"
"""The deadline kind telling bidders and watchers a procedure ends soon; key: procedure id."""
PUBLIC_OBJECTOR = "public"
"""The actor of an objection filed without an account (nobody to tell its outcome)."""


async def _notify(tx: Tx, accounts: list[str], kind: Kind, cause: str,
                  data: dict[str, Any]) -> int:
    """Tell each of ``accounts`` (once per cause); the number of new notifications."""
    event_id = tx.envelope.id if tx.envelope is not None else None
    made = 0
    for account in dict.fromkeys(a for a in accounts if a):
        nid = await notifications.insert_notification(
            tx.conn, account_id=account, kind=kind.value, cause=f"{kind.value}:{cause}",
            event_id=event_id, data=data, now=tx.now())
        if nid is not None:
            made += 1
            NOTIFICATIONS.labels(kind.value).inc()
    return made


async def on_interest_matched(tx: Tx, e: ListingInterestMatched) -> None:
    await _notify(tx, [e.buyer_id], Kind.INTEREST_MATCHED, f"{e.interest_id}:{e.listing_id}", {
        "listing_id": str(e.listing_id), "interest_id": str(e.interest_id),
        "score": e.score, "reasons": list(e.reasons)})


async def _announce_to_watchers(tx: Tx, e: AuctionAnnounced) -> None:
    """A watched listing goes to a procedure: its watchers are told."""
    await notifications.follow(tx.conn, e.procedure_id, listing_id=e.listing_id)
    await _notify(tx, await notifications.watchers(tx.conn, e.listing_id), Kind.ANNOUNCED,
                  str(e.procedure_id), {
                      "procedure_id": str(e.procedure_id), "listing_id": str(e.listing_id),
                      "route": e.route, "starts_at": e.starts_at.isoformat()})


async def _ends_at(tx: Tx, procedure_id: uuid.UUID, ends_at: datetime, *,
                   listing_id: uuid.UUID | None = None) -> None:
    """The procedure now ends at ``ends_at``: its "ends soon" deadline moves there (unless
    told already, or ended)."""
    p = await notifications.follow(tx.conn, procedure_id, listing_id=listing_id)
    if p["ended"] or p["ending_told"]:
        return
    if p["ends_at"] is not None and ends_at <= p["ends_at"]:
        return  # an older end, redelivered or out of order
    await notifications.set_ends_at(tx.conn, procedure_id, ends_at)
    await schedule(tx.conn, NOTIFY_ENDING, str(procedure_id), ending_notice_at(ends_at))


async def on_terms_published(tx: Tx, e: AuctionTermsPublished) -> None:
    await _ends_at(tx, e.procedure_id, e.ends_at, listing_id=e.listing_id)


async def on_bidding_started(tx: Tx, e: ListingBiddingStarted) -> None:
    await _ends_at(tx, e.procedure_id, e.ends_at)


async def on_extended(tx: Tx, e: AuctionExtended) -> None:
    await _ends_at(tx, e.procedure_id, e.ends_at)


async def on_bid_accepted(tx: Tx, e: BidAccepted) -> None:
    """Keep the auction's leader; a different bidder taking the lead outbids the previous
    one, who is told the auction and the new high bid (never who bid it)."""
    p = await notifications.follow(tx.conn, e.procedure_id)
    if e.sequence <= p["high_sequence"]:
        return  # seen already
    await notifications.set_high_bid(tx.conn, e.procedure_id, e.bidder_id, e.sequence)
    if p["ends_at"] is None or e.ends_at > p["ends_at"]:
        await _ends_at(tx, e.procedure_id, e.ends_at)
    outbid = outbid_party(p["high_bidder"], e.bidder_id)
    if outbid is not None:
        await _notify(tx, [outbid], Kind.OUTBID, f"{e.procedure_id}:{e.sequence}", {
            "procedure_id": str(e.procedure_id),
            "listing_id": str(p["listing_id"]) if p["listing_id"] else None,
            "high_bid_fen": e.amount_fen, "ends_at": e.ends_at.isoformat()})


async def _procedure_ended(tx: Tx, procedure_id: uuid.UUID, listing_id: uuid.UUID | None
                           ) -> None:
    await notifications.follow(tx.conn, procedure_id, listing_id=listing_id)
    await notifications.set_flags(tx.conn, procedure_id, ended=True)


async def on_closed(tx: Tx, e: AuctionClosed) -> None:
    await _procedure_ended(tx, e.procedure_id, e.listing_id)


async def on_ending_due(tx: Tx, deadline: Deadline) -> None:
    """Ten minutes before the end: the bidders seen bidding and the listing's watchers are
    told, once; a procedure ended (or moved later, which moved this deadline) is left."""
    procedure_id = uuid.UUID(deadline.key)
    p = await notifications.followed(tx.conn, procedure_id)
    if p is None or p["ended"] or p["ending_told"] or p["ends_at"] is None:
        return
    now = tx.now()
    if now >= p["ends_at"]:
        return
    if now < ending_notice_at(p["ends_at"]):
        await schedule(tx.conn, NOTIFY_ENDING, deadline.key, ending_notice_at(p["ends_at"]))
        return
    await notifications.set_flags(tx.conn, procedure_id, ending_told=True)
    accounts = [*await notifications.bidders(tx.conn, procedure_id),
                *await notifications.watchers(tx.conn, p["listing_id"])]
    await _notify(tx, accounts, Kind.ENDING, str(procedure_id), {
        "procedure_id": str(procedure_id),
        "listing_id": str(p["listing_id"]) if p["listing_id"] else None,
        "ends_at": p["ends_at"].isoformat()})


async def on_objection_filed(tx: Tx, e: ObjectionFiled) -> None:
    """Remember who objected, if an account did (a public objector has none)."""
    if e.actor and e.actor != PUBLIC_OBJECTOR:
        await notifications.remember_objector(tx.conn, e.objection_id, e.procedure_id, e.actor)


async def on_objection_resolved(tx: Tx, e: ObjectionResolved) -> None:
    account = await notifications.objector(tx.conn, e.objection_id)
    if account is not None:
        await _notify(tx, [account], Kind.OBJECTION_RESOLVED, str(e.objection_id), {
            "procedure_id": str(e.procedure_id), "objection_id": str(e.objection_id),
            "outcome": e.outcome, "reason": e.reason})


# -- the inbox, watches and webhooks (commands) ----------------------------------------------

async def mark_read(tx: Tx, account: Principal, notification_id: int) -> asyncpg.Record:
    row = await notifications.mark_read(tx.conn, account.subject, notification_id, tx.now())
    if row is None:
        raise not_found(f"No notification {notification_id}.")
    return row


async def mark_all_read(tx: Tx, account: Principal, upto: int | None) -> int:
    return await notifications.mark_read_upto(tx.conn, account.subject, upto, tx.now())


async def watch(tx: Tx, account: Principal, listing_id: uuid.UUID) -> asyncpg.Record:
    if await achievements.get_achievement(tx.conn, listing_id) is None:
        raise not_found(f"No listing {listing_id}.")
    return await notifications.watch(tx.conn, account.subject, listing_id, tx.now())


async def unwatch(tx: Tx, account: Principal, listing_id: uuid.UUID) -> None:
    if not await notifications.unwatch(tx.conn, account.subject, listing_id):
        raise not_found(f"You do not watch listing {listing_id}.")


async def add_webhook(tx: Tx, account: Principal, *, url: str, kinds: list[str] | None,
                      most: int) -> tuple[asyncpg.Record, str]:
    """Register a webhook; its row and the secret it is signed with (answered only now)."""
    if await notifications.count_webhooks(tx.conn, account.subject) >= most:
        raise TooManyWebhooks(detail=f"An account registers at most {most} webhooks.")
    secret = secrets.token_hex(32)
    row = await notifications.insert_webhook(
        tx.conn, webhook_id=uuid.uuid4(), account_id=account.subject, url=url, secret=secret,
        kinds=kinds, now=tx.now())
    return row, secret


async def remove_webhook(tx: Tx, account: Principal, webhook_id: uuid.UUID
                         ) -> asyncpg.Record:
    row = await notifications.delete_webhook(tx.conn, account.subject, webhook_id)
    if row is None:
        raise not_found(f"No webhook {webhook_id}.")
    return row


# -- webhook delivery (a periodic job) -------------------------------------------------------

def webhook_body(row: Any) -> bytes:
    """What a receiver gets: the notification, as the inbox shows it."""
    data = row["data"] if isinstance(row["data"], dict) else json.loads(row["data"])
    return json.dumps({"id": str(row["notification_id"]), "kind": row["kind"],
                       "created_at": row["created_at"].isoformat(), "data": data},
                      ensure_ascii=False, separators=(",", ":")).encode()


async def deliver_webhooks(runtime: Any, client: httpx.AsyncClient | None = None) -> int:
    """Send the due deliveries; the number sent successfully. Each delivery is leased first
    (in a short transaction), posted outside any transaction, then marked: delivered on a
    2xx, else tried again after a backoff, or dead after ``webhook_max_attempts``."""
    settings = runtime.settings
    clock = runtime.clock
    timeout = settings.webhook_timeout_seconds
    now = clock.now()
    # The lease outlasts sending the whole batch one by one, so no other sender takes one of
    # them meanwhile; after a crash they are due again when it ends.
    lease = timedelta(seconds=2 * timeout * (settings.webhook_batch + 1))
    async with runtime.pool.acquire() as conn, conn.transaction():
        due = await notifications.claim_due_deliveries(
            conn, now, now + lease, settings.webhook_batch)
    if not due:
        return 0
    sent = 0
    own = client is None
    client = client or httpx.AsyncClient(timeout=timeout, follow_redirects=False)
    try:
        for d in due:
            body = webhook_body(d)
            stamp = int(clock.now().timestamp())
            headers = {"Content-Type": "application/json",
                       "Techex-Event-Id": str(d["notification_id"]),
                       "Techex-Event-Kind": d["kind"],
                       "Techex-Signature": signature_header(d["secret"], stamp, body)}
            error = None
            try:
                r = await client.post(d["url"], content=body, headers=headers)
                if not 200 <= r.status_code < 300:
                    error = f"HTTP {r.status_code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
            attempts = d["attempts"] + 1
            async with runtime.pool.acquire() as conn:
                if error is None:
                    await notifications.delivery_done(conn, d["id"], clock.now())
                    WEBHOOKS.labels("delivered").inc()
                    sent += 1
                elif attempts >= settings.webhook_max_attempts:
                    await notifications.delivery_failed(conn, d["id"], error=error,
                                                        next_attempt_at=None)
                    WEBHOOKS.labels("failed").inc()
                    WEBHOOKS.labels("dead").inc()
                else:
                    wait = backoff(attempts,
                                   base=timedelta(seconds=settings.webhook_backoff_seconds),
                                   cap=timedelta(seconds=settings.webhook_backoff_cap_seconds))
                    await notifications.delivery_failed(conn, d["id"], error=error,
                                                        next_attempt_at=clock.now() + wait)
                    WEBHOOKS.labels("failed").inc()
    finally:
        if own:
            await client.aclose()
    return sent
