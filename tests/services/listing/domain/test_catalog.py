"""What partners hear of a listing (the public catalog's events), pure."""

from __future__ import annotations

from datetime import timedelta

from services.listing.domain.catalog import last_told, page_path, public_event
from shared.events.public.catalog import (
    CatalogListingInTransaction,
    CatalogListingPublished,
    CatalogListingTraded,
    CatalogListingWithdrawn,
)
from tests.services.listing.domain.test_achievement import T0, YEAR, draft


def _published():
    """A published achievement and its publication event."""
    a, _ = draft().submit(now=T0, actor="hit")
    return a.approve(now=T0, actor="op", validity=YEAR)


def test_a_publication_tells_the_public_view_at_the_listings_version():
    a, submitted = draft().submit(now=T0, actor="hit")
    assert public_event(a, submitted) is None  # never published: partners hear nothing
    a, approved = _published()
    told = public_event(a, approved)
    assert isinstance(told, CatalogListingPublished)
    assert (told.listing_id, told.region, told.revision) == (a.id, "230102", a.version)
    assert told.title == a.details.title and told.seller_id == "hit"
    assert told.path == page_path(a.id) == f"/achievements/{a.id}"
    assert told.expires_at == T0 + YEAR
    # Nothing private: no inventors, IP numbers or contacts in the event.
    assert not {"inventors", "ip_numbers", "contact", "contacts"} & set(told.model_dump())


def test_each_step_after_publication_is_told_with_a_higher_revision():
    a, approved = _published()
    first = public_event(a, approved)
    a2, entered = a.enter_transaction(procedure_id="p1", cause="auction.announced", now=T0)
    in_tx = public_event(a2, entered)
    assert isinstance(in_tx, CatalogListingInTransaction) and in_tx.revision > first.revision
    back, returned = a2.return_from_transaction(procedure_id="p1", cause="auction.failed",
                                                now=T0)
    again = public_event(back, returned)
    assert isinstance(again, CatalogListingPublished) and again.revision > in_tx.revision
    traded, event = a2.trade(procedure_id="d1", cause="contract.registered", now=T0)
    assert isinstance(public_event(traded, event), CatalogListingTraded)


def test_withdrawal_and_expiry_are_both_a_withdrawal_with_their_reason():
    a, _ = _published()
    gone, withdrawn = a.withdraw(now=T0, actor="hit")
    told = public_event(gone, withdrawn)
    assert isinstance(told, CatalogListingWithdrawn) and told.reason == "withdrawn"
    old, expired = a.expire(now=T0 + YEAR + timedelta(seconds=1))
    told = public_event(old, expired)
    assert isinstance(told, CatalogListingWithdrawn) and told.reason == "expired"


def test_only_the_last_told_event_of_each_listing_counts():
    a, _ = _published()
    a2, entered = a.enter_transaction(procedure_id="p1", cause="auction.announced", now=T0)
    _, traded = a2.trade(procedure_id="d1", cause="contract.registered", now=T0)
    other, approved = _published()
    _, submitted = draft().submit(now=T0, actor="hit")  # not an event partners hear of
    assert last_told([entered, submitted, traded, approved]) == {a.id: traded,
                                                                 other.id: approved}
