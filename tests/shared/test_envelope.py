"""CloudEvents Kafka binary-mode envelope: wire layout, round trips, tolerant and strict reading."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cloudevents.core.bindings import kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from hypothesis import given
from hypothesis import strategies as st

from shared.envelope import Envelope, EnvelopeError, json_bytes
from shared.events import decode
from shared.events.listing import ListingCreated

LISTING_ID = "3f0c9a52-6d1e-4b8a-9c47-2e5d8b1f7a06"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
CST = timezone(timedelta(hours=8))
PAYLOAD = {
    "listing_id": LISTING_ID,
    "seller_id": "b7e4d2c1-0a9f-4e36-8d15-6c2f3a9b8e40",
    "region": "230102",
    "occurred_at": "2025-03-18T09:30:00+08:00",
    "listing": {
        "title": "石墨烯改性防腐涂料制备技术",
        "field": "new_materials",
        "ip_type": "patent_invention",
        "trl": 6,
        "transfer_mode": "transfer",
        "pricing_route": "auction",
    },
}


def make_envelope(**changes: Any) -> Envelope:
    fields: dict[str, Any] = {
        "id": "0d6f1c9e-58a4-4c1b-9a57-3b2e8f4d6a10",
        "type": ListingCreated.ce_type(),
        "source": "/listing/230000",
        "subject": LISTING_ID,
        "time": datetime(2025, 3, 18, 1, 30, 0, 123456, tzinfo=UTC),
        "region": "230102",
        "data": json_bytes(PAYLOAD),
        "traceparent": TRACEPARENT,
    }
    return Envelope(**(fields | changes))


def header(headers: list[tuple[str, bytes]], name: str) -> bytes:
    [value] = [v for n, v in headers if n == name]
    return value


# --- producer side -----------------------------------------------------------------------------


def test_record_layout() -> None:
    env = make_envelope(extensions={"tracestate": "rojo=00f067aa0ba902b7"})
    key, value, headers = env.to_record()

    assert key == LISTING_ID.encode()
    assert value is env.data
    assert headers == [
        ("ce_specversion", b"1.0"),
        ("ce_id", env.id.encode()),
        ("ce_source", b"/listing/230000"),
        ("ce_type", b"cn.techex.listing.created.v1"),
        ("ce_time", b"2025-03-18T01:30:00.123456Z"),
        ("ce_subject", LISTING_ID.encode()),
        ("ce_region", b"230102"),
        ("content-type", b"application/json"),
        ("ce_traceparent", TRACEPARENT.encode()),
        ("ce_tracestate", b"rojo=00f067aa0ba902b7"),
    ]
    assert all(isinstance(n, str) and isinstance(v, bytes) for n, v in headers)


def test_traceparent_header_only_when_set() -> None:
    _, _, headers = make_envelope(traceparent=None).to_record()
    assert "ce_traceparent" not in dict(headers)


def test_time_on_the_wire_is_utc_with_z() -> None:
    _, _, headers = make_envelope(time=datetime(2025, 3, 18, 1, 30, tzinfo=UTC)).to_record()
    assert header(headers, "ce_time") == b"2025-03-18T01:30:00.000000Z"


def test_non_utc_time_is_converted() -> None:
    env = make_envelope(time=datetime(2025, 3, 18, 9, 30, tzinfo=CST))
    _, _, headers = env.to_record()
    assert header(headers, "ce_time") == b"2025-03-18T01:30:00.000000Z"

    back = Envelope.from_record(*env.to_record())
    assert back.time == env.time
    assert back.time.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"time": datetime(2025, 3, 18, 1, 30)}, "timezone-aware"),
        ({"region": "23010"}, "six-digit"),
        ({"region": "２３０１０２"}, "six-digit"),  # full-width digits are not ASCII digits
        ({"subject": ""}, "non-empty"),
        ({"id": ""}, "non-empty"),
        ({"extensions": {"Bad_Name": "x"}}, "extension name"),
        ({"extensions": {"region": "230000"}}, "extension name"),
    ],
)
def test_envelope_rejects_invalid_fields(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_envelope(**changes)


def test_json_bytes_is_compact_utf8() -> None:
    assert (
        json_bytes({"title": "石墨烯", "n": [1, 2.5]}) == '{"title":"石墨烯","n":[1,2.5]}'.encode()
    )
    with pytest.raises(ValueError):
        json_bytes({"price": float("nan")})


# --- round trips ---------------------------------------------------------------------------------


def test_round_trip() -> None:
    env = make_envelope(extensions={"tracestate": "rojo=00f067aa0ba902b7", "dataschema": "urn:x"})
    assert Envelope.from_record(*env.to_record()) == env


def test_unicode_payload_and_chinese_subject_preserved() -> None:
    subject = "黑龙江省-专利-ZL202310000001.X"
    data = json_bytes({"title": "寒地黑土保护性耕作技术", "note": "含 emoji 🌾 与全角符号：（）"})
    env = make_envelope(subject=subject, data=data, source="/registry/230000")

    key, value, headers = env.to_record()
    assert key == subject.encode("utf-8")
    assert header(headers, "ce_subject") == subject.encode("utf-8")

    back = Envelope.from_record(key, value, headers)
    assert back.subject == subject
    assert back.data == data
    assert json.loads(back.data)["note"] == "含 emoji 🌾 与全角符号：（）"


def test_time_read_back_is_aware_utc() -> None:
    back = Envelope.from_record(*make_envelope().to_record())
    assert back.time.tzinfo is not None
    assert back.time.utcoffset() == timedelta(0)
    assert back.time == datetime(2025, 3, 18, 1, 30, 0, 123456, tzinfo=UTC)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)
RESERVED = {"specversion", "id", "source", "type", "time", "subject", "region", "traceparent"}
extension_names = st.from_regex(r"[a-z0-9]{1,20}", fullmatch=True).filter(
    lambda n: n not in RESERVED | {"datacontenttype", "data"}
)
utf8_text = st.text(st.characters(codec="utf-8"))


@given(
    payload=json_values,
    subject=utf8_text.filter(bool),
    time=st.datetimes(
        min_value=datetime(1971, 1, 1),
        max_value=datetime(2199, 12, 31),
        timezones=st.sampled_from([UTC, CST, timezone(timedelta(hours=-9, minutes=-30))]),
    ),
    extensions=st.dictionaries(extension_names, utf8_text, max_size=3),
    traceparent=st.none() | st.just(TRACEPARENT),
)
def test_round_trip_property(
    payload: Any, subject: str, time: datetime, extensions: dict[str, str], traceparent: str | None
) -> None:
    env = make_envelope(
        id=str(uuid.uuid4()),
        subject=subject,
        time=time,
        data=json_bytes(payload),
        extensions=extensions,
        traceparent=traceparent,
    )
    key, value, headers = env.to_record()
    assert key == subject.encode()
    assert header(headers, "ce_time").endswith(b"Z")

    back = Envelope.from_record(key, value, headers)
    assert back == env
    assert json.loads(back.data) == payload


# --- tolerant reader -----------------------------------------------------------------------------


def test_reader_ignores_unknown_headers_and_payload_fields() -> None:
    data = json_bytes(PAYLOAD | {"colour": "红", "future_field": {"nested": [1, 2]}})
    key, value, headers = make_envelope(data=data).to_record()
    headers = [
        ("x-request-source", b"\xff\xfe not utf-8, not ours"),
        *headers,
        ("traceparent", b"00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-00"),
        ("ce_partnerref", "合作方-42".encode()),
        ("ce_Not-A-Valid-Name", b"dropped"),
        ("CE_COMPRESSION", b"none"),
    ]

    env = Envelope.from_record(key, value, headers)
    assert env.extensions == {"partnerref": "合作方-42", "compression": "none"}
    assert env.traceparent == TRACEPARENT

    event = decode(env)
    assert isinstance(event, ListingCreated)
    assert event.subject() == LISTING_ID
    assert event.listing.title == PAYLOAD["listing"]["title"]
    assert not hasattr(event, "colour")


def test_reader_accepts_missing_or_parameterised_content_type() -> None:
    key, value, headers = make_envelope().to_record()
    without = [h for h in headers if h[0] != "content-type"]
    assert Envelope.from_record(key, value, without).data == value
    charset = [*without, ("Content-Type", b"application/json; charset=utf-8")]
    assert Envelope.from_record(key, value, charset).data == value


def test_reader_does_not_need_the_key() -> None:
    _, value, headers = make_envelope().to_record()
    assert Envelope.from_record(None, value, headers).subject == LISTING_ID


# --- strict about what makes an event ------------------------------------------------------------


def _without(name: str) -> Any:
    return lambda hs: [h for h in hs if h[0] != name]


def _replace(name: str, value: bytes | None) -> Any:
    return lambda hs: [(n, value if n == name else v) for n, v in hs]


@pytest.mark.parametrize(
    ("mutate_headers", "value", "reason"),
    [
        (_without("ce_type"), None, "missing-header:ce_type"),
        (_without("ce_id"), None, "missing-header:ce_id"),
        (_without("ce_specversion"), None, "missing-header:ce_specversion"),
        (_without("ce_time"), None, "missing-header:ce_time"),
        (_without("ce_subject"), None, "missing-header:ce_subject"),
        (_without("ce_region"), None, "missing-header:ce_region"),
        (_replace("ce_source", b""), None, "empty-header:ce_source"),
        (_replace("ce_time", b"yesterday"), None, "bad-time"),
        (_replace("ce_time", b"2025-03-18T01:30:00"), None, "bad-time"),  # no offset
        (_replace("ce_time", b"2025-13-18T01:30:00Z"), None, "bad-time"),
        (_replace("ce_time", b"20250318T013000Z"), None, "bad-time"),  # ISO 8601 basic
        (_replace("ce_specversion", b"0.3"), None, "bad-specversion"),
        (_replace("ce_specversion", b"1.1"), None, "bad-specversion"),
        (_replace("ce_region", b"HLJ"), None, "bad-region"),
        (_replace("ce_subject", b"\xe9\xbb"), None, "bad-header:ce_subject"),
        (_replace("ce_id", None), None, "bad-header:ce_id"),
        (lambda hs: [*hs, ("ce_id", b"another")], None, "duplicate-header:ce_id"),
        (_replace("content-type", b"text/plain"), None, "bad-content-type"),
        (
            _replace("content-type", b"application/cloudevents+json"),
            None,
            "structured-mode",
        ),
        (lambda hs: hs, b"not json", "not-json"),
        (lambda hs: hs, b'{"title": "unterminated', "not-json"),
        (lambda hs: hs, b"", "not-json"),
        (lambda hs: hs, b'{"price": NaN}', "not-json"),
        (lambda hs: hs, '{"title": "石墨烯"}'.encode("utf-16"), "not-json"),
    ],
)
def test_malformed_records_raise_with_reason(
    mutate_headers: Any, value: bytes | None, reason: str
) -> None:
    key, good_value, headers = make_envelope().to_record()
    with pytest.raises(EnvelopeError) as caught:
        Envelope.from_record(key, good_value if value is None else value, mutate_headers(headers))
    assert caught.value.reason == reason
    assert str(caught.value).startswith(reason)


def test_null_value_is_not_json() -> None:
    key, _, headers = make_envelope().to_record()
    with pytest.raises(EnvelopeError) as caught:
        Envelope.from_record(key, None, headers)
    assert caught.value.reason == "not-json"


def test_structured_mode_record_is_rejected() -> None:
    """A structured-mode record (no ce_ headers, whole event in the value) is not ours."""
    event = CloudEvent(
        {"type": "cn.techex.listing.created.v1", "source": "/listing/230000"}, PAYLOAD
    )
    message = kafka.to_structured(event, JSONFormat())
    with pytest.raises(EnvelopeError) as caught:
        Envelope.from_record(message.key, message.value, list(message.headers.items()))
    assert caught.value.reason == "structured-mode"


# --- conformance against the CloudEvents SDK -----------------------------------------------------


def test_sdk_reads_what_we_write() -> None:
    env = make_envelope(time=datetime(2025, 3, 18, 9, 30, tzinfo=CST))
    key, value, headers = env.to_record()
    message = kafka.KafkaMessage(headers=dict(headers), key=key, value=value)

    event = kafka.from_binary(message, JSONFormat(), CloudEvent)

    assert event.get_specversion() == "1.0"
    assert event.get_id() == env.id
    assert event.get_type() == env.type
    assert event.get_source() == env.source
    assert event.get_subject() == env.subject
    assert event.get_time() == env.time
    assert event.get_datacontenttype() == "application/json"
    assert event.get_extension("region") == "230102"
    assert event.get_extension("traceparent") == TRACEPARENT
    assert event.get_data() == PAYLOAD


def test_we_read_what_the_sdk_writes() -> None:
    time = datetime(2025, 3, 18, 9, 30, 5, tzinfo=CST)
    event = CloudEvent(
        {
            "id": "0d6f1c9e-58a4-4c1b-9a57-3b2e8f4d6a10",
            "type": ListingCreated.ce_type(),
            "source": "/listing/230000",
            "subject": LISTING_ID,
            "time": time,
            "datacontenttype": "application/json",
            "region": "230102",
            "partitionkey": LISTING_ID,
        },
        PAYLOAD,
    )
    message = kafka.to_binary(event, JSONFormat())
    assert isinstance(message.key, str)

    env = Envelope.from_record(message.key.encode(), message.value, list(message.headers.items()))

    assert dataclasses.astuple(env)[:6] == (
        "0d6f1c9e-58a4-4c1b-9a57-3b2e8f4d6a10",
        "cn.techex.listing.created.v1",
        "/listing/230000",
        LISTING_ID,
        time,
        "230102",
    )
    assert env.extensions == {"partitionkey": LISTING_ID}
    assert json.loads(env.data) == PAYLOAD
    assert decode(env) == ListingCreated.model_validate(PAYLOAD)
