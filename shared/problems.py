"""RFC 9457 problem details (``application/problem+json``) for every service.

Raise a :class:`Problem` (or a subclass) anywhere, domain code included: this module does not
depend on the web framework. The handlers installed by
:func:`shared.problem_handlers.install_problem_handlers` turn it, FastAPI's validation errors,
Starlette's ``HTTPException`` and any unhandled exception into a problem document.

The common ones exist both as classes (``NotFound``, to catch or subclass) and as factories
(``raise not_found("No listing 42.")``). Domain code defines its own problems by subclassing
with class-level attributes::

    class ListingClosed(Problem):
        slug = "listing-closed"
        status = 409
        title = "Listing is closed"

    raise ListingClosed("Listing 42 closed at 10:00", listing_id=42)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

__all__ = [
    "BODY_PROBLEM_RESPONSES",
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_RESPONSES",
    "PROBLEM_SCHEMA",
    "PROBLEM_TYPE_PREFIX",
    "RETRY_AFTER_HEADER",
    "BodyTooLarge",
    "Conflict",
    "DatabaseUnavailable",
    "FieldError",
    "Forbidden",
    "MalformedBody",
    "NotFound",
    "Problem",
    "Unauthorized",
    "UnsupportedMediaType",
    "ValidationFailed",
    "conflict",
    "documented",
    "field_error",
    "field_errors",
    "forbidden",
    "not_found",
    "unauthorized",
    "validation",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:techex:problem:"

_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_STANDARD_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "errors"})


class FieldError(TypedDict):
    """One invalid input: ``field`` is a dotted location such as ``body.title``."""

    field: str
    message: str


def _check_slug(slug: str) -> str:
    if not _SLUG.fullmatch(slug):
        raise ValueError(f"problem slug {slug!r} must be lowercase words joined by hyphens")
    return slug


class Problem(Exception):
    """An error that is reported to the client as an RFC 9457 problem document.

    ``slug``, ``status`` and ``title`` are class-level defaults that a subclass overrides and
    that a single instance may override too. Keyword arguments not named below become extension
    members of the document.
    """

    slug: str = "internal"
    status: int = 500
    title: str = "Internal Server Error"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _check_slug(cls.slug)
        if not 400 <= cls.status <= 599:
            raise ValueError(f"{cls.__name__}.status must be an HTTP error status")

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
        slug: str | None = None,
        status: int | None = None,
        title: str | None = None,
        instance: str | None = None,
        **extensions: Any,
    ) -> None:
        if slug is not None:
            self.slug = _check_slug(slug)
        if status is not None:
            if not 400 <= status <= 599:
                raise ValueError(f"problem status {status} is not an HTTP error status")
            self.status = status
        if title is not None:
            self.title = title
        clash = _STANDARD_MEMBERS & extensions.keys()
        if clash:
            raise ValueError(f"extension members may not redefine {sorted(clash)}")
        self.detail = detail
        self.errors: list[FieldError] | None = list(errors) if errors is not None else None
        self.headers: dict[str, str] = dict(headers or {})
        self.instance = instance
        self.extensions: dict[str, Any] = extensions
        super().__init__(detail or self.title)

    @property
    def type(self) -> str:
        """Stable URI identifying the kind of problem, e.g. ``urn:techex:problem:not-found``."""
        return PROBLEM_TYPE_PREFIX + self.slug

    def to_dict(self) -> dict[str, Any]:
        """The JSON problem document; optional members are omitted when unset."""
        document: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail is not None:
            document["detail"] = self.detail
        if self.instance is not None:
            document["instance"] = self.instance
        if self.errors is not None:
            document["errors"] = [dict(error) for error in self.errors]
        document.update(self.extensions)
        return document


class ValidationFailed(Problem):
    slug = "validation"
    status = 422
    title = "Request validation failed"


class Unauthorized(Problem):
    """401 with the ``WWW-Authenticate: Bearer`` challenge of RFC 6750.

    ``error`` is the RFC 6750 error code (``invalid_token``, ``invalid_request``); pass ``None``
    when the request carried no credentials at all, as the RFC asks for a bare challenge then.
    """

    slug = "unauthorized"
    status = 401
    title = "Unauthorized"

    def __init__(
        self, detail: str | None = None, *, error: str | None = "invalid_token", **kwargs: Any
    ) -> None:
        super().__init__(detail, **kwargs)
        challenge = "Bearer"
        if error is not None:
            challenge += f' error="{_quoted(error)}"'
            if detail:
                challenge += f', error_description="{_quoted(detail)}"'
        self.headers.setdefault("WWW-Authenticate", challenge)


def _quoted(value: str) -> str:
    # RFC 6750 only allows %x20-21 / %x23-5B / %x5D-7E inside these quoted strings.
    return "".join(c for c in value if " " <= c <= "~" and c not in '"\\')


class Forbidden(Problem):
    slug = "forbidden"
    status = 403
    title = "Forbidden"


class NotFound(Problem):
    slug = "not-found"
    status = 404
    title = "Not Found"


class Conflict(Problem):
    slug = "conflict"
    status = 409
    title = "Conflict"


class DatabaseUnavailable(Problem):
    """The service's database cannot be reached (or did not answer in time) right now.

    The request's transaction did not commit, unless the connection dropped while its commit
    was under way, so the client sends it again after ``Retry-After`` seconds, a command with
    the same ``Idempotency-Key``."""

    slug = "database-unavailable"
    status = 503
    title = "The service's database is unavailable; retry shortly"


RETRY_AFTER_SECONDS = 5


class MalformedBody(Problem):
    slug = "malformed-body"
    status = 400
    title = "The request body is not UTF-8 JSON"


class BodyTooLarge(Problem):
    slug = "body-too-large"
    status = 413
    title = "The request body is too large"


class UnsupportedMediaType(Problem):
    slug = "unsupported-media-type"
    status = 415
    title = "The request body must be application/json"


def _field_path(location: Sequence[str | int]) -> str:
    return ".".join(str(part) for part in location)


def field_error(error: Mapping[str, Any]) -> FieldError:
    """One pydantic (or FastAPI) error as a field error: ``loc`` joined with dots."""
    location = tuple(error.get("loc", ()))
    message = str(error.get("msg", "invalid value"))
    if error.get("type") == "json_invalid" and len(location) == 2:
        # FastAPI puts the character offset where a field name would be: ("body", 17).
        reason = (error.get("ctx") or {}).get("error")
        if reason:
            message = f"{message}: {reason} at character {location[1]}"
        location = location[:1]
    return {"field": _field_path(location), "message": message}


def field_errors(errors: Sequence[Mapping[str, Any]], *,
                 prefix: Sequence[str | int] = ()) -> list[FieldError]:
    """Pydantic's ``ValidationError.errors()`` as field errors, each location under ``prefix``
    (e.g. ``("body", "terms")``): the one converter of every service."""
    return [field_error({**e, "loc": (*prefix, *e.get("loc", ()))}) for e in errors]


def validation(detail: str | None = None, errors: Sequence[FieldError] = ()) -> ValidationFailed:
    return ValidationFailed(detail, errors=errors)


def unauthorized(detail: str | None = None, *, error: str | None = "invalid_token") -> Unauthorized:
    return Unauthorized(detail, error=error)


def forbidden(detail: str | None = None) -> Forbidden:
    return Forbidden(detail)


def not_found(detail: str | None = None) -> NotFound:
    return NotFound(detail)


def conflict(detail: str | None = None) -> Conflict:
    return Conflict(detail)


_FIELD_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["field", "message"],
    "properties": {
        "field": {"type": "string", "examples": ["body.title"]},
        "message": {"type": "string"},
    },
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; extension members may be present.",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "examples": ["urn:techex:problem:not-found"]},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": _FIELD_ERROR_SCHEMA},
    },
    "additionalProperties": True,
}


RETRY_AFTER_HEADER: dict[str, Any] = {"Retry-After": {
    "description": "Seconds to wait before trying again",
    "schema": {"type": "integer", "minimum": 0}}}


def documented(description: str, *, retry_after: bool = False) -> dict[str, Any]:
    """The OpenAPI ``responses`` entry of a problem answer (``Retry-After`` if it has one)."""
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}},
        **({"headers": RETRY_AFTER_HEADER} if retry_after else {}),
    }



# The schema is inlined rather than given as ``model`` because FastAPI would file a model's
# schema under ``application/json``.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: documented("Missing, expired or invalid bearer token"),
    403: documented("The principal's role or region does not allow this"),
    404: documented("Not found"),
    409: documented("Conflicts with the current state"),
    422: documented("Request validation failed"),
    429: documented("Too many requests without a valid token from this address (or over the "
                    "route's own rate limit)", retry_after=True),
    503: documented("The database is unavailable for a moment; retry after `Retry-After` "
                    "seconds", retry_after=True),
}

BODY_PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: documented("The body is not one JSON text in UTF-8"),
    413: documented("The body is larger than the service accepts"),
    415: documented("The body was not sent as application/json"),
}
"""What every operation that takes a JSON body may answer too (see :mod:`shared.json_body`)."""
