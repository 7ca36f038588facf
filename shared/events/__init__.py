"""The event catalog: every event type the services exchange.

Importing this package registers all event modules, so :func:`lookup` and
:func:`all_event_types` see the complete catalog.
"""

from shared.events import auction as auction
from shared.events import listing as listing
from shared.events import public as public
from shared.events import records as records
from shared.events import registry as registry
from shared.events import settlement as settlement
from shared.events.base import (
    CatalogError,
    Event,
    InvalidPayload,
    UnknownEventType,
    all_event_types,
    decode,
    encode,
    examples_of,
    lookup,
    readable_type,
    register,
)

__all__ = [
    "CatalogError",
    "Event",
    "InvalidPayload",
    "UnknownEventType",
    "all_event_types",
    "decode",
    "encode",
    "examples_of",
    "lookup",
    "readable_type",
    "register",
]
