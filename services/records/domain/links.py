"""Which archived events tell one procedure's story (its dossier).

Every archived row keeps the aggregate ids its event names (:func:`refs`: the subject and the
payload's id fields, never a party's id). The store builds a dossier by fetching the rows whose
refs overlap a set of ids and widening the set with :func:`expand` until it stops growing::

    ids = {procedure_id}
    while True:                      # three rounds for a registered contract
        events = fetch(refs && ids)  # everything fetched so far
        wider = expand(procedure_id, events)
        if wider <= ids: break
        ids = wider
    story = select(procedure_id, events)

A procedure owns: its own events (``auction`` aggregate, its public announcement and result),
its deal (``DealConcluded`` naming it; ``DealDefaulted``), the deal's settlement (``settlement``
aggregate, keyed by the deal id) and subsidy assessments, its deposits (``deposit`` events
naming it), the contract drafted from or registered for its deal and that contract's filings, the
certificates issued on it (``CertificateIssued`` naming it) and their cancellations (by number).
It shares its listing with the listing's other procedures (a re-auction, a later listing trade):
the listing's own history belongs to every one of them, up to this procedure's end, but an
event naming another procedure (its announcement, bids, deal, the listing's "in transaction"
for it) never does, and nothing it names widens the set — so a buyer's or a re-auction's events
stay out even though they name the same listing or ``previous_procedure_id``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Final

from services.records.domain.archive import Archived

__all__ = ["ID_FIELDS", "belongs", "expand", "refs", "select"]

ID_FIELDS: Final = (
    "procedure_id", "previous_procedure_id", "listing_id", "deal_id", "deposit_id",
    "contract_id", "objection_id", "filing_id", "assessment_id", "project_id", "demand_id",
    "proposal_id", "interest_id",
)
"""Payload fields holding the id of an aggregate or of one of its entities. Party fields
(``bidder_id``, ``buyer_id``, ``seller_id``, ``winner_id``, ``recipient_id``, ``party_id``,
``actor`` …) are left out on purpose: a party's id would tie every procedure it took part in
together. ``project_id`` (a subsidy's) is a listing id; a ``ListingTraded``'s ``procedure_id``
holds the deal's (or contract's) id."""

_OWN_AGGREGATES: Final = ("auction.", "public.catalog.procedure_")
"""Kinds whose subject is the procedure."""
_NOT_IN_A_DOSSIER: Final = frozenset({"listing.interest_matched"})
"""A buyer's saved interest matched the listing: the buyer's matter, not the procedure's."""
_ENDS: Final = frozenset({"auction.closed", "auction.failed"})


def refs(type: str, subject: str, payload: Mapping[str, Any]) -> frozenset[str]:
    """The aggregate ids an event names: its subject and the :data:`ID_FIELDS` it carries.

    ``type`` (the CloudEvents type) is not needed by the rule today; it is part of the
    signature so a future kind-specific rule does not change the store's call."""
    del type
    named = {str(payload[f]) for f in ID_FIELDS if payload.get(f) not in (None, "")}
    if subject:
        named.add(subject)
    return frozenset(named)


def _text(payload: Mapping[str, Any], field: str) -> str | None:
    value = payload.get(field)
    return None if value in (None, "") else str(value)


def belongs(procedure_id: str, event: Archived, ids: Collection[str]) -> bool:
    """Whether ``event`` is part of the procedure's story, ``ids`` being what :func:`expand`
    found the procedure owns (the procedure, its listing, deal, contract and deposits).

    Per event only; :func:`select` also cuts the listing's history at the procedure's end."""
    kind, p = event.kind, event.payload
    if kind in _NOT_IN_A_DOSSIER:
        return False
    if kind.startswith(_OWN_AGGREGATES):
        return event.subject == procedure_id
    aggregate = kind.split(".", 1)[0]
    if aggregate in ("deal", "deposit"):
        return _text(p, "procedure_id") == procedure_id
    if aggregate in ("settlement", "subsidy"):
        return _text(p, "deal_id") in ids
    if aggregate == "contract":
        return event.subject in ids or _text(p, "deal_id") in ids
    if aggregate == "certificate":  # issued on the procedure's deal, and its cancellation
        if event.kind == "certificate.issued":
            return _text(p, "procedure_id") == procedure_id
        return event.subject in ids
    if aggregate == "listing":
        if _text(p, "listing_id") not in ids:
            return False
        other = _text(p, "procedure_id")  # in_transaction / returned / traded
        return other is None or other in ids
    return False  # demands, public listing and contract mirrors, chain digests, unknown kinds


def _grows(event: Archived) -> Iterable[str]:
    """The ids an event of the procedure adds to what it owns."""
    aggregate = event.kind.split(".", 1)[0]
    fields: tuple[str, ...] = ()
    if event.kind.startswith(_OWN_AGGREGATES) or aggregate == "deal":
        fields = ("listing_id", "deal_id")
    elif aggregate == "deposit":
        fields = ("deposit_id", "deal_id")
    elif aggregate == "contract":
        fields = ("contract_id",)
    elif event.kind == "certificate.issued":
        return (event.subject,)  # the number: its cancellation names nothing else
    return (v for f in fields if (v := _text(event.payload, f)) is not None)


def expand(procedure_id: str, events: Sequence[Archived]) -> frozenset[str]:
    """The ids whose events may belong to the procedure's dossier, given the events fetched so
    far (pass all of them, every round): the procedure, its listing, its deal (= the
    settlement's id), its deposits, the contract of its deal and the numbers of the
    certificates issued on it. Monotone: more events never
    take an id away, and events of other procedures add none."""
    ids = {procedure_id}
    pending = list(events)
    while True:
        grown = False
        rest = []
        for event in pending:
            if belongs(procedure_id, event, ids):
                new = set(_grows(event)) - ids
                if new:
                    ids |= new
                    grown = True
            else:
                rest.append(event)  # may belong once an id it names is known
        pending = rest
        if not grown:
            return frozenset(ids)


def _end_seq(procedure_id: str, events: Iterable[Archived]) -> int | None:
    """The seq of the procedure's last ending event (closed, or failed — a defaulted winner
    fails it after the close), None while it runs."""
    ends = [e.seq for e in events if e.kind in _ENDS and e.subject == procedure_id]
    return max(ends) if ends else None


def select(procedure_id: str, events: Sequence[Archived]) -> list[Archived]:
    """The dossier's events in archive order (``seq``), each event id once (its first row).

    The listing's own history (drafted, reviewed, published, edited …: events naming no
    procedure) is kept up to the procedure's end: what the listing did after a failure belongs
    to the next procedure's story."""
    ids = expand(procedure_id, events)
    seen: set[str] = set()
    unique: list[Archived] = []
    for event in sorted(events, key=lambda e: e.seq):
        if event.event_id not in seen:
            seen.add(event.event_id)
            unique.append(event)
    end = _end_seq(procedure_id, unique)
    kept = []
    for event in unique:
        if not belongs(procedure_id, event, ids):
            continue
        history = event.kind.startswith("listing.") and _text(event.payload, "procedure_id") is None
        if history and end is not None and event.seq > end:
            continue
        kept.append(event)
    return kept
