"""Published contracts: one JSON Schema per event type plus an AsyncAPI 3.0 document."""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Final

from shared.envelope import CONTENT_TYPE
from shared.events.base import Event, all_event_types, examples_of

__all__ = ["ASYNCAPI_FILE", "PUBLIC_ASYNCAPI_FILE", "asyncapi_document", "event_schema",
           "write_schemas"]

JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_FILE: Final = "asyncapi.json"
PUBLIC_ASYNCAPI_FILE: Final = "asyncapi-public.json"
"""The public topics alone (``<prefix>.public.*``): the standard between deployments."""
_KAFKA_BINDING_VERSION: Final = "0.5.0"
_REQUIRED_HEADERS: Final = (
    *(f"ce_{a}" for a in ("specversion", "id", "source", "type", "time", "subject", "region")),
    "content-type",
)


def schema_id(ce_type: str) -> str:
    return f"urn:techex:event:{ce_type}"


def event_schema(cls: type[Event]) -> dict[str, Any]:
    """Stand-alone JSON Schema (draft 2020-12) of one event type's payload."""
    ce_type = cls.ce_type()
    schema = cls.model_json_schema()
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": schema_id(ce_type),
        **schema,
        "title": cls.__name__,
        "x-cloudevents-type": ce_type,
    }


def _headers_schema(cls: type[Event]) -> dict[str, Any]:
    """The ``ce_*`` headers of Kafka binary content mode, as written by ``Envelope``."""
    return {
        "type": "object",
        "description": "CloudEvents 1.0 attributes as Kafka headers (binary content mode); "
        "header values are UTF-8 strings.",
        "required": list(_REQUIRED_HEADERS),
        "properties": {
            "ce_specversion": {"type": "string", "const": "1.0"},
            "ce_id": {
                "type": "string",
                "format": "uuid",
                "description": "Event id; consumers deduplicate on it.",
            },
            "ce_source": {
                "type": "string",
                "format": "uri-reference",
                "description": "Producing service and region, /<service>/<region>.",
                "examples": ["/listing/230000"],
            },
            "ce_type": {"type": "string", "const": cls.ce_type()},
            "ce_time": {
                "type": "string",
                "format": "date-time",
                "description": "When it happened on the producing service's clock: the "
                f"instant of payload field {cls.time_field}; RFC 3339 in UTC, ending in Z.",
            },
            "ce_subject": {
                "type": "string",
                "minLength": 1,
                "description": f"Aggregate id (payload field {cls.subject_field}); "
                "also the record key.",
            },
            "ce_region": {
                "type": "string",
                "pattern": "^[0-9]{6}$",
                "description": "GB/T 2260 code of the producing deployment.",
            },
            "ce_traceparent": {
                "type": "string",
                "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
                "description": "W3C Trace Context of the producing request, when there was one.",
            },
            "content-type": {"type": "string", "const": CONTENT_TYPE},
        },
    }


def asyncapi_document(
    events: list[type[Event]] | None = None, *, topic_prefix: str = "techex",
    title: str = "techex events",
    description: str = "Domain events exchanged between the techex services: "
                       "CloudEvents 1.0 in Kafka binary content mode with JSON data.",
) -> dict[str, Any]:
    """AsyncAPI 3.0.0: a channel per aggregate topic, a message per event type.

    Payload schemas are inlined without ``$schema``/``$id`` and with nested models hoisted
    to ``components.schemas``: AsyncAPI tools resolve ``#/...`` against the whole document.
    """
    events = all_event_types() if events is None else events
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for cls in events:
        key = cls.__name__
        payload = cls.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in payload.pop("$defs", {}).items():
            if schemas.setdefault(name, definition) != definition:
                raise ValueError(f"two different nested schemas are named {name!r}")
        messages[key] = {
            "name": cls.ce_type(),
            "title": key,
            **({"summary": cls.__doc__.strip().splitlines()[0]} if cls.__doc__ else {}),
            "contentType": CONTENT_TYPE,
            "headers": _headers_schema(cls),
            "payload": payload,
            "bindings": {
                "kafka": {
                    "key": {"type": "string", "description": "Same as ce_subject."},
                    "bindingVersion": _KAFKA_BINDING_VERSION,
                }
            },
            "examples": [
                {"name": f"{key}-{i}", "payload": example}
                for i, example in enumerate(examples_of(cls), start=1)
            ],
        }
        address = f"{topic_prefix}.{cls.aggregate}"
        channel = channels.setdefault(
            cls.aggregate,
            {
                "address": address,
                "title": address,
                "messages": {},
                "bindings": {"kafka": {"topic": address, "bindingVersion": _KAFKA_BINDING_VERSION}},
            },
        )
        channel["messages"][key] = {"$ref": f"#/components/messages/{key}"}
        operations[f"receive{key}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{cls.aggregate}"},
            "messages": [{"$ref": f"#/channels/{cls.aggregate}/messages/{key}"}],
        }
    try:
        doc_version = version("techex")
    except PackageNotFoundError:
        doc_version = "0.0.0"
    components: dict[str, Any] = {"messages": messages}
    if schemas:
        components["schemas"] = schemas
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": title,
            "version": doc_version,
            "description": description,
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": components,
    }


def _write_json(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def write_schemas(directory: Path, *, topic_prefix: str = "techex") -> list[Path]:
    """Write ``<ce_type>.schema.json`` for every registered event, ``asyncapi.json`` and
    ``asyncapi-public.json`` (the public topics only, what partners read).

    Output is deterministic (catalog order, fixed formatting) so it can be committed and
    diffed. Files of event types no longer in the catalog are left alone.
    """
    directory.mkdir(parents=True, exist_ok=True)
    events = all_event_types()
    written = [
        _write_json(directory / f"{cls.ce_type()}.schema.json", event_schema(cls)) for cls in events
    ]
    document = asyncapi_document(events, topic_prefix=topic_prefix)
    written.append(_write_json(directory / ASYNCAPI_FILE, document))
    public = asyncapi_document(
        [cls for cls in events if cls.is_public()], topic_prefix=topic_prefix,
        title="techex public events",
        description="The public information standard between deployments: the events of "
        f"{topic_prefix}.public.*, mirrored to partners as <alias>.{topic_prefix}.public.*. "
        "A version only adds fields; a reader takes a newer version for the newest it knows.")
    written.append(_write_json(directory / PUBLIC_ASYNCAPI_FILE, public))
    return written
