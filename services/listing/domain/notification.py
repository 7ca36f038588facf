"""Notifications and their webhooks, pure: the kinds, who is told what, the signature a
receiver verifies and the backoff between delivery attempts."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from enum import StrEnum

__all__ = [
    "ENDING_NOTICE",
    "Kind",
    "backoff",
    "ending_notice_at",
    "outbid_party",
    "sign",
    "signature_header",
    "verify",
]

ENDING_NOTICE = timedelta(minutes=10)
"""How long before a procedure's end its bidders and watchers are told it is about to end."""


class Kind(StrEnum):
    INTEREST_MATCHED = "interest_matched"
    """A newly published listing matches one of the buyer's saved interests."""
    ANNOUNCED = "announced"
    """A watched listing goes to an auction, a listing trade or a notice."""
    OUTBID = "outbid"
    """Another bidder took the lead of an auction the account led."""
    ENDING = "ending"
    """A procedure the account bid in or watches ends in ten minutes."""
    OBJECTION_RESOLVED = "objection_resolved"
    """An objection the account filed was upheld or dismissed."""


def outbid_party(previous: str | None, bidder: str) -> str | None:
    """Whom a new high bid by ``bidder`` outbids: the previous leader, unless it raised its
    own bid (or there was none)."""
    return previous if previous is not None and previous != bidder else None


def ending_notice_at(ends_at: datetime) -> datetime:
    return ends_at - ENDING_NOTICE


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256, in hex, of ``"<timestamp>." + body`` under the webhook's secret."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Techex-Signature`` header: ``t=<unix seconds>,v1=<hex>``."""
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, *, now: int | None = None,
           tolerance: int = 300) -> bool:
    """What a receiver does: the header's signature matches, and (given ``now``) its time is
    within ``tolerance`` seconds of it (a replayed old request is refused)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    if now is not None and abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(given, sign(secret, timestamp, body))


def backoff(attempts: int, *, base: timedelta, cap: timedelta) -> timedelta:
    """The wait after the ``attempts``-th failed attempt (1, 2, …): base·2^(attempts-1),
    never more than ``cap``."""
    if attempts < 1:
        return timedelta(0)
    return min(cap, base * 2 ** min(attempts - 1, 30))
