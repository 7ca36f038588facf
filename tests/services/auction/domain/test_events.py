"""The pricing procedures' events in the catalog."""

from __future__ import annotations

import pytest

from shared.events import all_event_types, examples_of, lookup
from shared.events import auction as auction_events
from shared.events.base import Event

OURS = [cls for cls in (getattr(auction_events, name) for name in auction_events.__all__)
        if isinstance(cls, type) and issubclass(cls, Event) and cls.aggregate == "auction"]


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


def test_announce_fail_and_deal_are_the_auction_services_and_not_duplicated() -> None:
    names = [cls.__name__ for cls in all_event_types()]
    assert len(names) == len(set(names))
    shared_contracts = {auction_events.AuctionAnnounced, auction_events.AuctionFailed,
                        auction_events.DealConcluded}
    assert {cls.__module__ for cls in shared_contracts} == {"shared.events.auction"}
    assert auction_events.DealConcluded.aggregate == "deal"
