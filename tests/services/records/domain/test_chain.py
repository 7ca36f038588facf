"""The hash chain's formula and its check: a changed byte, a removed row and two swapped rows
are each found at the first row that no longer holds."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta

from services.records.domain.chain import GENESIS, Row, canonical, facts, link, verify

T0 = datetime(2026, 4, 10, 2, 0, tzinfo=UTC)


def _rows(n: int) -> list[Row]:
    rows, previous = [], GENESIS
    for seq in range(1, n + 1):
        at = T0 + timedelta(seconds=seq)
        payload = {"procedure_id": "p1", "sequence": seq, "amount_fen": 100 * seq,
                   "bidder_id": "龙江涂料"}
        headers = [("ce_specversion", b"1.0"), ("ce_id", f"e{seq}".encode()),
                   ("ce_source", b"/auction/120101"),
                   ("ce_type", b"cn.techex.auction.bid_accepted.v1"),
                   ("ce_time", at.strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode()),
                   ("ce_subject", b"p1"), ("ce_region", b"120101"),
                   ("content-type", b"application/json")]
        record = canonical("t.auction", 0, seq - 1, headers,
                           json.dumps(payload, ensure_ascii=False).encode())
        previous = link(previous, record)
        rows.append(Row(seq, previous, record, f"e{seq}", "cn.techex.auction.bid_accepted.v1",
                        "p1", "120101", at, "t.auction", payload))
    return rows


def test_the_hash_is_sha256_of_the_previous_hash_and_the_record() -> None:
    [first, second] = _rows(2)
    assert first.hash == hashlib.sha256(GENESIS + first.record).digest()
    assert second.hash == hashlib.sha256(first.hash + second.record).digest()


def test_a_record_reads_back_as_its_columns() -> None:
    [row] = _rows(1)
    said = facts(row.record)
    assert (said.event_id, said.subject, said.region, said.topic) == ("e1", "p1", "120101",
                                                                      "t.auction")
    assert said.payload == row.payload


def test_an_intact_chain_holds_to_its_head() -> None:
    rows = _rows(5)
    checked = verify(rows)
    assert checked.broken is None and checked.rows == 5 and checked.last_seq == 5
    assert checked.head == rows[-1].hash
    tail = verify(rows[2:], previous_seq=2, previous_hash=rows[1].hash)
    assert tail.broken is None and tail.rows == 3


def test_a_changed_byte_breaks_its_row() -> None:
    rows = _rows(5)
    changed = bytearray(rows[2].record)
    changed[changed.index(b"300")] = ord("9")
    rows[2] = dataclasses.replace(rows[2], record=bytes(changed))
    broken = verify(rows).broken
    assert broken is not None and broken.seq == 3 and "hash" in broken.reason


def test_a_column_that_disagrees_with_its_record_breaks_its_row() -> None:
    rows = _rows(4)
    rows[1] = dataclasses.replace(rows[1], payload={**rows[1].payload, "amount_fen": 1})
    broken = verify(rows).broken
    assert broken is not None and broken.seq == 2 and "payload" in broken.reason


def test_a_removed_row_breaks_the_row_after_it() -> None:
    rows = _rows(5)
    del rows[1]
    broken = verify(rows).broken
    assert broken is not None and broken.seq == 3 and "missing" in broken.reason


def test_swapped_rows_break_at_the_first_of_them() -> None:
    rows = _rows(5)
    a, b = rows[1], rows[3]
    rows[1] = dataclasses.replace(b, seq=2)
    rows[3] = dataclasses.replace(a, seq=4)
    broken = verify(rows).broken
    assert broken is not None and broken.seq == 2


def _rewritten(record: bytes) -> bytes:
    doc = json.loads(record)
    doc["value"] = json.dumps({**json.loads(doc["value"]), "amount_fen": 1})
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def test_a_rewritten_chain_misses_its_published_digest() -> None:
    rows = _rows(4)
    published = {3: rows[2].hash}
    # Someone rewrites row 2 and recomputes every hash after it: the chain holds on its own…
    forged, previous = [], GENESIS
    for row in rows:
        record = _rewritten(row.record) if row.seq == 2 else row.record
        previous = link(previous, record)
        forged.append(dataclasses.replace(row, record=record, hash=previous,
                                          payload=facts(record).payload))
    assert forged[1].record != rows[1].record
    assert verify(forged).broken is None
    # … but not against the digest published before.
    broken = verify(forged, digests=published).broken
    assert broken is not None and broken.seq == 3 and "digest" in broken.reason
