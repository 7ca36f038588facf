"""An archived event as the domain reads it: the CloudEvent's attributes and its decoded payload.

Dossiers, certificates, reports and the regulator's queries are computed from these, in the
archive's order (``seq``), never from the services' own databases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Archived:
    seq: int
    """The row's place in the hash chain (1, 2, …): the order the archive received events in."""
    event_id: str
    type: str
    """The CloudEvents type, e.g. ``cn.techex.auction.bid_accepted.v1``."""
    source: str
    """The producing service and region, e.g. ``/auction/120101``."""
    subject: str
    """The aggregate id (procedure, listing, settlement, deposit, contract …)."""
    region: str
    time: datetime
    """When it happened (``ce_time``, timezone-aware UTC)."""
    topic: str
    """The Kafka topic it arrived on (a partner's mirrored one for a partner's public event)."""
    payload: Mapping[str, Any]

    @property
    def kind(self) -> str:
        """``<aggregate>.<name>`` without the prefix and version: ``auction.bid_accepted``."""
        parts = self.type.split(".")
        return ".".join(parts[2:-1])

    @property
    def version(self) -> int:
        return int(self.type.rsplit(".v", 1)[1])
