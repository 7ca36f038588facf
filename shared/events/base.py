"""Event base class and the catalog of every event type, keyed by CloudEvents ``type``.

Readers are tolerant (unknown payload fields are ignored) so producers can add optional
fields without a new version; anything else is a new ``version`` and a new class.

Public events (aggregate ``public.<topic>``, e.g. ``public.catalog``) are the information
standard between deployments: they travel on ``<prefix>.public.<topic>``, are mirrored to
partners, and a partner may run a newer release. So a reader takes a public event of a version
it does not know for the newest lower version it does (:func:`readable_type`): the standard
keeps every field of version N, with its meaning, in version N + 1 and only adds. A public type
whose name is not known at all stays unknown (dead-lettered with that reason).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

if TYPE_CHECKING:
    from shared.envelope import Envelope

__all__ = [
    "CatalogError",
    "Event",
    "InvalidPayload",
    "UnknownEventType",
    "all_event_types",
    "decode",
    "encode",
    "examples_of",
    "lookup",
    "readable_type",
    "register",
]

_NAME_PART: Final = re.compile(r"[a-z_]+")
PUBLIC_AGGREGATE: Final = "public."
"""A public event's aggregate begins so: ``public.catalog`` travels on ``techex.public.catalog``."""
_AGGREGATE: Final = re.compile(r"(?:public\.)?[a-z_]+")
_VERSIONED: Final = re.compile(r"(?P<stem>.+)\.v(?P<version>[1-9][0-9]{0,5})")


class Event(BaseModel):
    """Base of every domain event; subclasses are registered with :func:`register`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    aggregate: ClassVar[str]
    """Aggregate type, e.g. ``"listing"``; also names the topic ``techex.<aggregate>``. A
    public event's is ``public.<topic>`` (see the module docstring)."""
    name: ClassVar[str]
    """What happened, e.g. ``"created"``."""
    version: ClassVar[int] = 1
    subject_field: ClassVar[str]
    """The field holding the aggregate id (CloudEvents ``subject`` and Kafka key)."""
    time_field: ClassVar[str] = "occurred_at"
    """The field holding when it happened on the producing service's clock (CloudEvents
    ``time``, so ``ce_time`` and the payload tell the same time)."""

    @classmethod
    def ce_type(cls) -> str:
        return f"cn.techex.{cls.aggregate}.{cls.name}.v{cls.version}"

    @classmethod
    def is_public(cls) -> bool:
        """Whether the event belongs to the public information standard between deployments."""
        return cls.aggregate.startswith(PUBLIC_AGGREGATE)

    def subject(self) -> str:
        return str(getattr(self, self.subject_field))

    def time(self) -> datetime:
        """When it happened (the ``time_field``'s value)."""
        return getattr(self, self.time_field)


class CatalogError(TypeError):
    """An event class that cannot be registered (raised at import time)."""


class UnknownEventType(KeyError):
    """No event class is registered for this CloudEvents ``type``."""

    def __init__(self, ce_type: str) -> None:
        super().__init__(ce_type)
        self.ce_type = ce_type

    def __str__(self) -> str:
        return f"unknown event type {self.ce_type!r}"


class InvalidPayload(ValueError):
    """The payload does not validate against its event class.

    ``errors`` is pydantic's error list reduced to ``loc``/``type``/``msg`` (no input values,
    so it is safe to log or put in a dead-letter header).
    """

    def __init__(self, ce_type: str, error: ValidationError) -> None:
        self.ce_type = ce_type
        self.errors: list[dict[str, Any]] = [
            {"loc": ".".join(map(str, e["loc"])), "type": e["type"], "msg": e["msg"]}
            for e in error.errors(include_url=False, include_input=False)
        ]
        summary = "; ".join(f"{e['loc'] or '<root>'}: {e['msg']}" for e in self.errors)
        super().__init__(f"invalid {ce_type} payload: {summary}")


_catalog: dict[str, type[Event]] = {}

E = TypeVar("E", bound=type[Event])


def examples_of(cls: type[Event]) -> list[dict[str, Any]]:
    """The ``json_schema_extra`` examples of an event class (a dict is required there)."""
    extra = cls.model_config.get("json_schema_extra")
    if not isinstance(extra, dict):
        return []
    examples = extra.get("examples")
    return list(examples) if isinstance(examples, list) else []


def register(cls: E) -> E:
    """Class decorator adding an event class to the catalog.

    Checks at import time what would otherwise fail at runtime: naming, ``subject_field``,
    ``time_field``, a required ``region``, uniqueness of the type and of the class name
    (AsyncAPI names operations after it), and that every schema example validates.
    """
    for attr, pattern in (("aggregate", _AGGREGATE), ("name", _NAME_PART)):
        value = getattr(cls, attr, None)
        if not isinstance(value, str) or pattern.fullmatch(value) is None:
            raise CatalogError(f"{cls.__qualname__}.{attr} must match {pattern.pattern}, "
                               f"got {value!r}")
    if not isinstance(cls.version, int) or cls.version < 1:
        raise CatalogError(f"{cls.__qualname__}.version must be a positive int")
    subject_field = getattr(cls, "subject_field", None)
    if subject_field not in cls.model_fields:
        raise CatalogError(f"{cls.__qualname__}.subject_field {subject_field!r} is not a field")
    ce_type = cls.ce_type()
    if ce_type in _catalog:
        raise CatalogError(f"{ce_type} is already registered by {_catalog[ce_type].__qualname__}")
    if any(other.__name__ == cls.__name__ for other in _catalog.values()):
        raise CatalogError(f"an event class named {cls.__name__} is already registered")
    examples = examples_of(cls)
    if not examples:
        raise CatalogError(f"{cls.__qualname__} needs json_schema_extra={{'examples': [...]}}")
    for example in examples:
        try:
            cls.model_validate(example)
        except ValidationError as exc:
            raise CatalogError(f"{cls.__qualname__} example does not validate: {exc}") from exc
    region = cls.model_fields.get("region")
    if region is None or not region.is_required():
        raise CatalogError(f"{cls.__qualname__} needs a required region field (the outbox and "
                           "ce_source take the region from the event)")
    time_field = cls.model_fields.get(cls.time_field)
    if (time_field is None or time_field.annotation is not AwareDatetime
            or not time_field.is_required()):
        raise CatalogError(f"{cls.__qualname__}.time_field {cls.time_field!r} is not a "
                           "required AwareDatetime field")
    _catalog[ce_type] = cls
    return cls


def lookup(ce_type: str) -> type[Event]:
    try:
        return _catalog[ce_type]
    except KeyError:
        raise UnknownEventType(ce_type) from None


def readable_type(ce_type: str) -> str | None:
    """The registered type an event of type ``ce_type`` is read as: itself if registered;
    for a public type of a newer version than any known, the newest known lower version of
    the same event; else None (unknown)."""
    if ce_type in _catalog:
        return ce_type
    match = _VERSIONED.fullmatch(ce_type)
    if match is None:
        return None
    stem, version = match["stem"], int(match["version"])
    older = [cls for cls in _catalog.values()
             if cls.is_public() and cls.version < version
             and cls.ce_type() == f"{stem}.v{cls.version}"]
    return max(older, key=lambda cls: cls.version).ce_type() if older else None


def all_event_types() -> list[type[Event]]:
    """Every registered event class, ordered by CloudEvents type."""
    return [_catalog[t] for t in sorted(_catalog)]


def decode(envelope: Envelope) -> Event:
    """The typed event carried by ``envelope`` (its JSON payload validated by its class; a
    newer public version by the class it is read as, see :func:`readable_type`)."""
    cls = lookup(readable_type(envelope.type) or envelope.type)
    try:
        return cls.model_validate_json(envelope.data)
    except ValidationError as exc:
        raise InvalidPayload(envelope.type, exc) from None


def encode(event: Event) -> bytes:
    """The event's JSON payload as it goes on the wire."""
    return event.model_dump_json().encode()
