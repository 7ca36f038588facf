"""The pricing procedures' events in the catalog."""

from __future__ import annotations

import pytest

from shared.events import all_event_types, examples_of, lookup
from shared.events import auction as auction_events
from shared.events.base import Event

SHARED_BY_THE_ROUTES = {"AuctionAnnounced", "AuctionFailed", "DealConcluded"}
"""Published by every pricing route (and read by the listing, settlement and registry
services); kept in shared.events.auction since the catalog is grouped by producing service."""

OURS = [getattr(auction_events, name) for name in auction_events.__all__
        if name != "RejectReasonCode" and name not in SHARED_BY_THE_ROUTES]


@pytest.mark.parametrize("cls", OURS, ids=lambda c: c.ce_type())
def test_registered_on_the_auction_aggregate_keyed_by_procedure(cls: type[Event]) -> None:
    assert cls in all_event_types() and lookup(cls.ce_type()) is cls
    assert cls.aggregate == "auction" and cls.subject_field == "procedure_id"
    for example in examples_of(cls):
        event = cls.model_validate(example)
        assert event.subject() == example["procedure_id"]


def test_only_the_close_carries_a_reserve_price() -> None:
    with_reserve = [cls.__name__ for cls in OURS
                    if any("reserve" in f and f != "has_reserve" for f in cls.model_fields)]
    assert with_reserve == ["AuctionClosed"]


def test_announce_fail_and_deal_are_reused_not_duplicated() -> None:
    names = [cls.__name__ for cls in all_event_types()]
    assert len(names) == len(set(names))
    assert not {"AuctionAnnounced", "AuctionFailed", "DealConcluded"} & {
        cls.__name__ for cls in OURS}
