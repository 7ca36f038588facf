"""Event catalog: registration rules, published schemas, AsyncAPI document, decode/encode."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import AwareDatetime, ConfigDict, ValidationError

from shared.envelope import Envelope, json_bytes
from shared.events import (
    CatalogError,
    Event,
    InvalidPayload,
    UnknownEventType,
    all_event_types,
    decode,
    encode,
    examples_of,
    lookup,
    register,
)
from shared.events.listing import ListingCreated
from shared.events.schema import write_schemas

CE_TYPE = re.compile(r"^cn\.techex\.(?:public\.)?[a-z_]+\.[a-z_]+\.v[0-9]+$")
EVENTS = all_event_types()


def envelope_for(ce_type: str, data: bytes, subject: str = "s-1") -> Envelope:
    return Envelope(
        id="0d6f1c9e-58a4-4c1b-9a57-3b2e8f4d6a10",
        type=ce_type,
        source="/test/230000",
        subject=subject,
        time=datetime(2025, 3, 18, 1, 30, tzinfo=UTC),
        region="230000",
        data=data,
    )


@pytest.fixture(scope="module")
def schema_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("schemas")
    written = write_schemas(directory)
    assert sorted(written) == sorted(directory.iterdir())
    return directory


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_catalog_is_populated_on_import() -> None:
    assert ListingCreated in EVENTS
    assert lookup("cn.techex.listing.created.v1") is ListingCreated


@pytest.mark.parametrize("cls", EVENTS, ids=lambda c: c.ce_type())
def test_ce_type_format(cls: type[Event]) -> None:
    assert CE_TYPE.match(cls.ce_type())
    assert cls.ce_type() == f"cn.techex.{cls.aggregate}.{cls.name}.v{cls.version}"


@pytest.mark.parametrize("cls", EVENTS, ids=lambda c: c.ce_type())
def test_schema_file_per_type_with_valid_examples(cls: type[Event], schema_dir: Path) -> None:
    schema = load(schema_dir / f"{cls.ce_type()}.schema.json")

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"urn:techex:event:{cls.ce_type()}"
    assert schema["title"] == cls.__name__
    assert schema["examples"], "every event type documents at least one example"
    assert schema["examples"] == examples_of(cls)
    for example in schema["examples"]:
        event = cls.model_validate(example)
        # The example also survives the wire: encode -> envelope -> decode.
        assert decode(envelope_for(cls.ce_type(), encode(event), event.subject())) == event


@pytest.mark.parametrize("cls", EVENTS, ids=lambda c: c.ce_type())
def test_examples_validate_against_json_schema(cls: type[Event], schema_dir: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = load(schema_dir / f"{cls.ce_type()}.schema.json")
    validator_cls = jsonschema.Draft202012Validator
    validator_cls.check_schema(schema)
    validator = validator_cls(schema, format_checker=validator_cls.FORMAT_CHECKER)
    for example in schema["examples"]:
        validator.validate(example)


def _resolve(document: Any, ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_asyncapi_document(schema_dir: Path) -> None:
    doc = load(schema_dir / "asyncapi.json")

    assert doc["asyncapi"] == "3.0.0"
    assert {"title", "version"} <= doc["info"].keys()
    assert set(doc["channels"]) == {cls.aggregate for cls in EVENTS}
    for aggregate, channel in doc["channels"].items():
        assert channel["address"] == f"techex.{aggregate}"

    messages = doc["components"]["messages"]
    assert sorted(m["name"] for m in messages.values()) == sorted(c.ce_type() for c in EVENTS)
    for cls in EVENTS:
        message = messages[cls.__name__]
        schema = load(schema_dir / f"{cls.ce_type()}.schema.json")
        as_components = json.loads(json.dumps(schema["properties"]).replace(
            "#/$defs/", "#/components/schemas/"))
        assert message["payload"]["properties"] == as_components
        assert message["payload"]["required"] == schema["required"]
        headers = message["headers"]["properties"]
        assert headers["ce_type"]["const"] == cls.ce_type()
        assert {
            "ce_specversion",
            "ce_id",
            "ce_source",
            "ce_time",
            "ce_subject",
            "ce_region",
        } <= set(message["headers"]["required"])
        assert "ce_traceparent" in headers
        assert cls.__name__ in doc["channels"][cls.aggregate]["messages"]

        operation = doc["operations"][f"receive{cls.__name__}"]
        assert operation["action"] == "receive"
        assert _resolve(doc, operation["channel"]["$ref"]) is doc["channels"][cls.aggregate]
        [message_ref] = operation["messages"]
        assert _resolve(doc, _resolve(doc, message_ref["$ref"])["$ref"]) is message

    for ref in _refs(doc):
        _resolve(doc, ref)  # every internal reference resolves


def test_write_schemas_is_deterministic(tmp_path: Path, schema_dir: Path) -> None:
    for path in write_schemas(tmp_path):
        assert path.read_bytes() == (schema_dir / path.name).read_bytes()


# --- decode / encode -----------------------------------------------------------------------------


def test_decode_unknown_type() -> None:
    with pytest.raises(UnknownEventType) as caught:
        decode(envelope_for("cn.techex.listing.vanished.v1", b"{}"))
    assert isinstance(caught.value, KeyError)
    assert caught.value.ce_type == "cn.techex.listing.vanished.v1"
    assert "cn.techex.listing.vanished.v1" in str(caught.value)
    with pytest.raises(UnknownEventType):
        lookup("cn.techex.listing.created.v99")


EXAMPLE = examples_of(ListingCreated)[0]


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        (EXAMPLE | {"listing": EXAMPLE["listing"] | {"trl": 10}}, "listing.trl"),
        (EXAMPLE | {"listing": EXAMPLE["listing"] | {"pricing_route": "raffle"}},
         "listing.pricing_route"),
        (EXAMPLE | {"region": "23010"}, "region"),
        (EXAMPLE | {"region": "２３０１０２"}, "region"),
        (EXAMPLE | {"listing_id": "not-a-uuid"}, "listing_id"),
        (EXAMPLE | {"occurred_at": "2025-03-18T09:30:00"}, "occurred_at"),  # naive
        ({k: v for k, v in EXAMPLE.items() if k != "seller_id"}, "seller_id"),
        ([EXAMPLE], ""),
    ],
)
def test_payload_failing_its_schema_raises_invalid_payload(payload: Any, loc: str) -> None:
    with pytest.raises(InvalidPayload) as caught:
        decode(envelope_for(ListingCreated.ce_type(), json_bytes(payload)))
    assert caught.value.ce_type == ListingCreated.ce_type()
    assert [e["loc"] for e in caught.value.errors] == [loc]
    assert "input" not in caught.value.errors[0]


def test_encode_is_compact_json_of_the_json_mode_dump() -> None:
    event = ListingCreated.model_validate(EXAMPLE)
    data = encode(event)
    assert data == json_bytes(event.model_dump(mode="json"))
    assert "石墨烯".encode() in data
    assert b": " not in data
    assert json.loads(data)["listing_id"] == EXAMPLE["listing_id"]


def test_events_are_frozen_and_tolerant() -> None:
    event = ListingCreated.model_validate(EXAMPLE | {"unknown": 1})
    assert "unknown" not in event.model_dump()
    with pytest.raises(ValidationError):
        event.seller_id = "改名"  # type: ignore[misc]


# --- registration rules --------------------------------------------------------------------------


def _event_class(
    name: str = "Probe",
    *,
    aggregate: str = "probe",
    event_name: str = "happened",
    subject_field: str = "probe_id",
    time_field: str = "occurred_at",
    examples: list[dict[str, Any]] | None = None,
    region: bool = True,
) -> type[Event]:
    example = {"probe_id": "p-1", "occurred_at": "2026-04-02T02:00:00Z", "due": "2026-04-03",
               "region": "230102"}
    namespace: dict[str, Any] = {
        "__annotations__": {
            "aggregate": ClassVar[str],
            "name": ClassVar[str],
            "subject_field": ClassVar[str],
            "time_field": ClassVar[str],
            "probe_id": str,
            "occurred_at": AwareDatetime,
            "due": date,
            **({"region": str} if region else {}),
        },
        "aggregate": aggregate,
        "name": event_name,
        "subject_field": subject_field,
        "time_field": time_field,
        "model_config": ConfigDict(
            json_schema_extra={"examples": [example] if examples is None else examples}
        ),
    }
    return type(name, (Event,), namespace)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"aggregate": "listing", "event_name": "created"}, "already registered"),
        ({"name": "ListingCreated"}, "named ListingCreated"),
        ({"aggregate": "Listing"}, "aggregate"),
        ({"event_name": "created.v1"}, "name"),
        ({"subject_field": "missing_id"}, "subject_field"),
        ({"examples": []}, "examples"),
        ({"examples": [{"probe_id": 42}]}, "example does not validate"),
        ({"time_field": "missing_at"}, "time_field"),
        ({"region": False}, "required region"),
        ({"time_field": "due"}, "time_field 'due' is not a required AwareDatetime"),
    ],
)
def test_register_rejects_bad_event_classes(kwargs: dict[str, Any], message: str) -> None:
    before = all_event_types()
    with pytest.raises(CatalogError, match=message):
        register(_event_class(**kwargs))
    assert all_event_types() == before
