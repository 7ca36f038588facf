"""Bank callbacks (到账通知): HMAC-SHA256 over the raw body, with a signed timestamp.

The bank sends ``X-Bank-Signature: sha256=<hex>`` where ``<hex>`` is
``HMAC-SHA256(secret, raw body)``; the body carries ``timestamp`` (ISO 8601, timezone-aware), so
the timestamp is signed too and a replay older than the window is refused. The callback bodies
are in ``schemas.py``.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from services.settlement.domain.errors import BadSignature, StaleCallback

SIGNATURE_HEADER = "X-Bank-Signature"


def sign(secret: str, body: bytes) -> str:
    """The header value for ``body`` (what the bank computes; tests use it too)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> None:
    """Raise :class:`BadSignature` unless ``header`` signs ``body`` (constant-time compare)."""
    if not header or not hmac.compare_digest(sign(secret, body).encode(), header.encode()):
        raise BadSignature("The callback's signature does not match its body.")


def check_fresh(at: datetime, now: datetime, window: timedelta) -> None:
    if abs(now - at) > window:
        raise StaleCallback(
            f"The callback is timestamped {at.isoformat()}, more than "
            f"{int(window.total_seconds())} s from now: refused as a possible replay.",
            errors=[{"field": "body.timestamp", "message": "outside the accepted window"}])
