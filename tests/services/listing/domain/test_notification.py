"""The pure rules of notifications: who an outbid tells, the webhook signature, the backoff."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from services.listing.domain.notification import (
    backoff,
    ending_notice_at,
    outbid_party,
    sign,
    signature_header,
    verify,
)

SECRET = "s3cr3t"
BODY = b'{"id":"1","kind":"outbid"}'


def test_the_signature_is_hmac_sha256_of_the_time_and_the_body() -> None:
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, 1700000000, BODY) == expected
    assert signature_header(SECRET, 1700000000, BODY) == f"t=1700000000,v1={expected}"


def test_a_receiver_verifies_the_header() -> None:
    header = signature_header(SECRET, 1700000000, BODY)
    assert verify(SECRET, header, BODY)
    assert verify(SECRET, header, BODY, now=1700000100)
    assert not verify(SECRET, header, BODY, now=1700000000 + 301)  # too old: a replay
    assert not verify("another", header, BODY)
    assert not verify(SECRET, header, BODY + b" ")
    assert not verify(SECRET, header.replace("t=1700000000", "t=1700000001"), BODY)
    assert not verify(SECRET, "v1=abc", BODY) and not verify(SECRET, "t=x,v1=abc", BODY)


def test_the_backoff_doubles_and_is_capped() -> None:
    base, cap = timedelta(seconds=10), timedelta(minutes=5)
    assert [backoff(n, base=base, cap=cap).total_seconds() for n in range(1, 7)] == [
        10, 20, 40, 80, 160, 300]
    assert backoff(0, base=base, cap=cap) == timedelta(0)
    assert backoff(10_000, base=base, cap=cap) == cap


def test_only_a_different_bidder_outbids_the_leader() -> None:
    assert outbid_party(None, "a") is None
    assert outbid_party("a", "a") is None  # raising one's own bid
    assert outbid_party("a", "b") == "a"


def test_the_ending_notice_comes_ten_minutes_before_the_end() -> None:
    end = datetime(2026, 4, 18, 2, 0, tzinfo=UTC)
    assert ending_notice_at(end) == end - timedelta(minutes=10)
