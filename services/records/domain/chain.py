"""The archive's hash chain: an event's canonical bytes, a row's hash, and the check of a run
of rows.

``hash(n) = SHA-256(hash(n-1) || record(n))`` with ``hash(0)`` 32 zero bytes, so changing,
removing or reordering any row changes every hash after it. The database computes the same
formula when it appends (one statement, under the chain head's row lock); :func:`verify`
recomputes it here, from the rows alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS = bytes(32)
"""The hash before the first row."""

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def canonical(topic: str, partition: int, offset: int,
              headers: Sequence[tuple[str, bytes]], value: bytes) -> bytes:
    """The canonical bytes of an event as received: where it was read, its CloudEvents
    headers in the binding's order (names and UTF-8 values) and its payload as sent."""
    return _dumps({
        "topic": topic, "partition": partition, "offset": offset,
        "headers": [[name, raw.decode()] for name, raw in headers],
        "value": value.decode(),
    }).encode()


def link(previous: bytes, record: bytes) -> bytes:
    """The hash of the row holding ``record`` after a row whose hash is ``previous``."""
    return hashlib.sha256(previous + record).digest()


@dataclass(frozen=True, slots=True)
class Facts:
    """What a record says of its event: the columns the archive keeps beside it."""

    event_id: str
    type: str
    source: str
    subject: str
    region: str
    time: str
    topic: str
    payload: Any


def facts(record: bytes) -> Facts:
    """Read a record's canonical bytes back (ValueError if they are not a record)."""
    doc = json.loads(record)
    headers = {name: value for name, value in doc["headers"]}
    return Facts(headers["ce_id"], headers["ce_type"], headers["ce_source"],
                 headers["ce_subject"], headers["ce_region"], headers["ce_time"],
                 doc["topic"], json.loads(doc["value"]))


@dataclass(frozen=True, slots=True)
class Row:
    """An archived row as :func:`verify` reads it."""

    seq: int
    hash: bytes
    record: bytes
    event_id: str
    type: str
    subject: str
    region: str
    occurred_at: datetime
    topic: str
    payload: Any


@dataclass(frozen=True, slots=True)
class Break:
    """The first row that does not hold: its ``seq`` and why."""

    seq: int
    event_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Checked:
    rows: int
    """Rows checked."""
    last_seq: int
    head: bytes
    broken: Break | None


def verify(rows: Iterable[Row], previous_seq: int = 0, previous_hash: bytes = GENESIS,
           digests: Mapping[int, bytes] | None = None) -> Checked:
    """Walk ``rows`` in ``seq`` order from the row after ``previous_seq`` (whose hash is
    ``previous_hash``); stop at the first that breaks the chain: a gap in ``seq`` (a removed
    row), a hash that does not follow (a changed, removed or reordered row), columns that
    disagree with the record, or a published digest (``seq`` -> head) the chain no longer
    meets."""
    digests = digests or {}
    expected_seq, prev, count = previous_seq + 1, previous_hash, 0
    for row in rows:
        broken = _check(row, expected_seq, prev, digests)
        if broken is not None:
            return Checked(count, expected_seq - 1, prev, broken)
        prev, expected_seq, count = row.hash, row.seq + 1, count + 1
    return Checked(count, expected_seq - 1, prev, None)


def _check(row: Row, expected_seq: int, previous: bytes,
           digests: Mapping[int, bytes]) -> Break | None:
    if row.seq != expected_seq:
        return Break(row.seq, row.event_id,
                     f"row {expected_seq} is missing: the row after {expected_seq - 1} "
                     f"is {row.seq}")
    if link(previous, row.record) != row.hash:
        return Break(row.seq, row.event_id,
                     "the hash does not follow from the previous row and this record "
                     "(the row was changed, or rows were removed or reordered)")
    try:
        said = facts(row.record)
    except (ValueError, KeyError, TypeError):
        return Break(row.seq, row.event_id, "the record is not a canonical event record")
    columns = {"event_id": row.event_id, "type": row.type, "subject": row.subject,
               "region": row.region, "topic": row.topic, "payload": row.payload}
    for name, value in columns.items():
        if getattr(said, name) != value:
            return Break(row.seq, row.event_id, f"the {name} column differs from the record")
    if row.occurred_at != datetime.fromisoformat(said.time.upper().replace("Z", "+00:00")):
        return Break(row.seq, row.event_id, "the occurred_at column differs from the record")
    published = digests.get(row.seq)
    if published is not None and published != row.hash:
        return Break(row.seq, row.event_id,
                     "the chain no longer meets the digest published for this row")
    return None
