"""The events the records service takes: every event of the catalog, each archived and then
reacted to (the reactions are in :mod:`handlers`)."""

from __future__ import annotations

from collections.abc import Mapping

from shared.consumer import Handler
from shared.events import Event, all_event_types


def table(react: Handler) -> Mapping[type[Event], Handler]:
    """Every event type -> ``react`` (``handlers.reactions``: archive, then react)."""
    return dict.fromkeys(all_event_types(), react)
