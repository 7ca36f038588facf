"""CloudEvents 1.0 envelope in Kafka *binary content mode*.

Attributes travel as ``ce_*`` headers (UTF-8), the JSON payload is the record value and the
aggregate id (``subject``) is the record key, so one aggregate's events stay ordered on one
partition. Producer side: the outbox relay calls :meth:`Envelope.to_record`; consumer side:
the runner calls :meth:`Envelope.from_record`.

Both directions are written directly against the CloudEvents Kafka protocol binding rather
than through ``cloudevents.core.bindings.kafka``: the SDK path builds a ``CloudEvent`` (whose
constructor re-validates every attribute with regexes and defaultdicts), a header *dict*
that must then be turned into aiokafka's list, and on read parses ``ce_time`` with
``dateutil.isoparse`` and silently turns non-JSON values into ``str``. That costs several times
more per event than this module and would still need the checks below. The SDK's constants
are reused, and the tests use the SDK as a conformance oracle for what we write and read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from cloudevents.core.bindings.common import CONTENT_TYPE_HEADER
from cloudevents.core.bindings.kafka import CE_PREFIX
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.spec import SPECVERSION_V1_0
from pydantic_core import from_json

__all__ = ["CONTENT_TYPE", "Envelope", "EnvelopeError", "json_bytes"]

CONTENT_TYPE: Final = JSONFormat.DEFAULT_CONTENT_TYPE  # "application/json"

_ZERO: Final = timedelta(0)
_SPECVERSION_BYTES: Final = SPECVERSION_V1_0.encode()
_CONTENT_TYPE_BYTES: Final = CONTENT_TYPE.encode()

_REQUIRED: Final = ("specversion", "id", "source", "type", "time", "subject", "region")
#: Attributes the envelope models as fields.
_MODELLED: Final = frozenset((*_REQUIRED, "traceparent"))
#: Not extensions either: the binding carries datacontenttype as ``content-type``, and
#: ``data``/``data_base64`` are structured-mode members. Readers skip such headers.
_NOT_EXTENSIONS: Final = frozenset(("datacontenttype", "data", "data_base64"))
_RESERVED: Final = _MODELLED | _NOT_EXTENSIONS
#: Header name -> attribute, for the exact-case fast path of ``from_record``.
_HEADER_ATTR: Final = {CE_PREFIX + a: a for a in _MODELLED} | {
    CONTENT_TYPE_HEADER: "datacontenttype"
}
_HEADER_ATTRS: Final = frozenset(_HEADER_ATTR.values())

_REGION = re.compile(r"[0-9]{6}")
# CloudEvents attribute names: lower-case ASCII letters and digits; 20 chars keeps them portable.
_EXTENSION_NAME = re.compile(r"[a-z0-9]{1,20}")
# RFC 3339 date-time (section 5.6), checked before datetime.fromisoformat, which also accepts
# ISO 8601 shapes that RFC 3339 does not (basic format, date only, missing offset …).
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_STRUCTURED_PREFIX: Final = "application/cloudevents"

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def json_bytes(obj: Any) -> bytes:
    """Compact UTF-8 JSON (non-ASCII kept as is, NaN/Infinity refused) as used for payloads."""
    return _dumps(obj).encode()


class EnvelopeError(ValueError):
    """A Kafka record that is not a valid binary-mode CloudEvent with JSON data.

    ``reason`` is short and machine-readable (``missing-header:ce_type``, ``bad-time``,
    ``not-json`` …), suitable as a metric label or a dead-letter header.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def _format_time(t: datetime) -> bytes:
    """RFC 3339 in UTC with a ``Z`` and fixed microsecond precision."""
    if t.utcoffset() != _ZERO:
        t = t.astimezone(UTC)
    # isoformat() ends in "+00:00" here; swap it for "Z".
    return (t.isoformat(timespec="microseconds")[:-6] + "Z").encode()


def _parse_time(value: str) -> datetime:
    if _RFC3339.fullmatch(value) is None:
        raise EnvelopeError("bad-time", repr(value))
    try:
        # fromisoformat wants upper-case T/Z and truncates sub-microsecond digits.
        t = datetime.fromisoformat(value.upper())
    except ValueError:  # e.g. month 13, second 60
        raise EnvelopeError("bad-time", repr(value)) from None
    return t if t.utcoffset() == _ZERO else t.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Envelope:
    """One event as it travels on Kafka: CloudEvents attributes plus the raw JSON payload.

    ``data`` is kept as bytes so the relay forwards the stored payload untouched and
    consumers decode it once, straight into the event model (see ``shared.events.decode``).
    ``extensions`` holds further CloudEvents attributes (``ce_<name>`` headers); readers keep
    the ones they do not know about.
    """

    id: str
    type: str
    source: str
    subject: str
    time: datetime
    region: str
    data: bytes
    traceparent: str | None = None
    extensions: dict[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not (self.id and self.type and self.source and self.subject):
            raise ValueError("Envelope id, type, source and subject must be non-empty")
        if self.time.utcoffset() is None:
            raise ValueError("Envelope time must be timezone-aware")
        if _REGION.fullmatch(self.region) is None:
            raise ValueError(f"Envelope region must be a six-digit GB/T 2260 code: {self.region!r}")
        for name in self.extensions:
            if name in _RESERVED or _EXTENSION_NAME.fullmatch(name) is None:
                raise ValueError(f"invalid CloudEvents extension name {name!r}")

    def to_record(self) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
        """``(key, value, headers)`` ready for ``AIOKafkaProducer.send``."""
        key = self.subject.encode()
        headers = [
            ("ce_specversion", _SPECVERSION_BYTES),
            ("ce_id", self.id.encode()),
            ("ce_source", self.source.encode()),
            ("ce_type", self.type.encode()),
            ("ce_time", _format_time(self.time)),
            ("ce_subject", key),
            ("ce_region", self.region.encode()),
            (CONTENT_TYPE_HEADER, _CONTENT_TYPE_BYTES),
        ]
        if self.traceparent is not None:
            headers.append(("ce_traceparent", self.traceparent.encode()))
        for name, value in self.extensions.items():
            headers.append((CE_PREFIX + name, value.encode()))
        return key, self.data, headers

    @classmethod
    def from_record(
        cls,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes | None]],
    ) -> Envelope:
        """Parse a consumed record; raise :class:`EnvelopeError` if it is not one of ours.

        The key is not consulted: ``ce_subject`` is authoritative (the key only routes).
        Header names are matched case-insensitively. Headers other than ``ce_*`` and
        ``content-type`` are ignored, as are ``ce_*`` headers whose names are not valid
        CloudEvents attribute names. A repeated modelled attribute is an error (two
        ``ce_id`` headers leave the event's identity ambiguous); for extensions the last wins.
        """
        del key
        attrs: dict[str, str] = {}
        extensions: dict[str, str] = {}
        for name, raw in headers:
            attr = _HEADER_ATTR.get(name)
            if attr is None:
                name = name.lower()
                attr = _HEADER_ATTR.get(name)
                if attr is None:
                    if not name.startswith(CE_PREFIX):
                        continue
                    attr = name[3:]
                    if attr in _NOT_EXTENSIONS or _EXTENSION_NAME.fullmatch(attr) is None:
                        continue
            if raw is None:
                raise EnvelopeError(f"bad-header:{name}", "null value")
            try:
                text = raw.decode()
            except UnicodeDecodeError:
                raise EnvelopeError(f"bad-header:{name}", "not UTF-8") from None
            if attr in _HEADER_ATTRS:
                if attr in attrs:
                    raise EnvelopeError(f"duplicate-header:{name}")
                attrs[attr] = text
            else:
                extensions[attr] = text

        content_type = attrs.get("datacontenttype")
        if content_type is not None and content_type != CONTENT_TYPE:
            content_type = content_type.lower()  # media types are case-insensitive
            if content_type.startswith(_STRUCTURED_PREFIX):
                raise EnvelopeError("structured-mode", content_type)
            if JSONFormat.JSON_CONTENT_TYPE_PATTERN.match(content_type) is None:
                raise EnvelopeError("bad-content-type", content_type)
        for attr in _REQUIRED:
            if not attrs.get(attr):
                kind = "empty" if attr in attrs else "missing"
                raise EnvelopeError(f"{kind}-header:ce_{attr}")
        if attrs["specversion"] != SPECVERSION_V1_0:
            raise EnvelopeError("bad-specversion", attrs["specversion"])
        region = attrs["region"]
        if _REGION.fullmatch(region) is None:
            raise EnvelopeError("bad-region", repr(region))
        time = _parse_time(attrs["time"])
        if not value:
            raise EnvelopeError("not-json", "empty value")
        try:
            # pydantic_core's parser is ~5x faster than json.loads and is the one
            # shared.events.decode uses, so what passes here parses there too.
            from_json(value, allow_inf_nan=False)
        except ValueError as exc:
            raise EnvelopeError("not-json", str(exc)) from None

        return cls(
            attrs["id"],
            attrs["type"],
            attrs["source"],
            attrs["subject"],
            time,
            region,
            value,
            attrs.get("traceparent"),
            extensions,
        )
