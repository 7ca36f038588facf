"""``Idempotency-Key`` for commands: a retried request gets the first request's answer.

Every command of every service declares :data:`IdempotencyKey`. With a key, the command's
transaction claims ``(caller, key)`` first and stores its answer — status, headers and the exact
body bytes — before it commits, so the effect and the answer commit together or not at all:

- a retry after the commit gets the stored answer again (``Idempotent-Replayed: true``);
- a retry with another method, path or body under the same key is refused with 422
  (:class:`IdempotencyKeyReused`);
- a retry while the first attempt still runs is refused with 409 and ``Retry-After``
  (:class:`IdempotencyKeyInProgress`): the claim takes a transaction-level advisory lock
  with ``pg_try_advisory_xact_lock``, so the second never waits on the first;
- a first attempt that rolled back (a crash, a database outage) leaves no claim, and the retry
  runs as new.

Which answers are stored: every 2xx, and every 4xx *refusal the command itself decided* once
the key was claimed (a bid refused as too low, a listing already in a procedure, a contract
with a pending filing …): the refusal is definite — the same request would be refused again —
and may have had an effect of its own (a refused bid is recorded with ``bid_rejected``), so a
retry must not repeat it. The command's other writes are rolled back to a savepoint taken right
after the claim. Not stored: answers given before the claim (authentication, request
validation), 5xx, and problems that say "retry" (:data:`RETRYABLE`, e.g. 409 in progress,
503 owner unreachable): the retry then runs as new.

Keys are scoped by the caller (the token's subject): two accounts never see each other's keys.
Rows are kept for ``TECHEX_IDEMPOTENCY_RETENTION_DAYS`` and then swept
(:mod:`shared.retention`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import asyncpg
from fastapi import Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, StringConstraints, TypeAdapter, ValidationError
from pydantic_core import to_json

from shared.problems import PROBLEM_MEDIA_TYPE, PROBLEM_SCHEMA, Problem

if TYPE_CHECKING:
    from shared.auth import Principal

__all__ = [
    "HEADER",
    "REPLAYED_HEADER",
    "Answer",
    "IdempotencyKey",
    "IdempotencyKeyInProgress",
    "IdempotencyKeyReused",
    "Once",
    "Replayed",
    "claim",
    "document_openapi",
    "parse_key",
    "remember",
    "remember_many",
]

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 200
_KEY_PATTERN = r"^[!-~]+$"
_LOCK_CLASS = 7302
"""First half of the two-int advisory lock key of a claim (the one-bigint keys of the relay and
the migrator live in another lock space)."""

_DESCRIPTION = (
    "Makes the command safe to retry: the first answer to a key is stored with the command's "
    "effect and replayed, with `Idempotent-Replayed: true`, to every retry by the same caller "
    "(refusals the command decided, such as a rejected bid, included). The same key with "
    "another request is refused with 422 `idempotency-key-reused`; a retry while the first "
    "attempt still runs with 409 `idempotency-key-in-progress` and `Retry-After`. Keys are "
    "kept for 30 days by default. Use a fresh random value (a UUID) per intended effect.")

IdempotencyKey = Annotated[str | None, Header(
    alias=HEADER, min_length=1, max_length=MAX_KEY_LENGTH, pattern=_KEY_PATTERN,
    description=_DESCRIPTION, examples=["5f0c6a9e-2b51-4a4e-9a8b-0e6a1c3d7f21"])]
"""The header parameter every command declares: ``key: IdempotencyKey = None``."""

_KEY = TypeAdapter(Annotated[str, StringConstraints(
    min_length=1, max_length=MAX_KEY_LENGTH, pattern=_KEY_PATTERN)])


def parse_key(value: str | None) -> str | None:
    """The header checked as :data:`IdempotencyKey` is, for routes that read headers
    themselves (the bid route); a 422 of the same shape otherwise."""
    if value is None:
        return None
    try:
        return _KEY.validate_python(value)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("header", HEADER)} for e in exc.errors(include_url=False)]
        ) from None


class IdempotencyKeyReused(Problem):
    slug = "idempotency-key-reused"
    status = 422
    title = "Idempotency-Key reused with a different request"


class IdempotencyKeyInProgress(Problem):
    slug = "idempotency-key-in-progress"
    status = 409
    title = "A request with this Idempotency-Key is still being processed"
    retryable = True

    def __init__(self, key: str) -> None:
        super().__init__(f"The first request with Idempotency-Key {key!r} has not finished; "
                         "retry shortly to get its answer.", headers={"Retry-After": "1"})


RETRYABLE = "retryable"
"""A :class:`Problem` class or instance with a true ``retryable`` attribute is never stored:
it says the request may succeed when sent again."""


def is_definite(exc: BaseException) -> bool:
    """Whether ``exc`` is a refusal to store and replay (see the module's note)."""
    return (isinstance(exc, Problem) and 400 <= exc.status < 500
            and exc.status not in (408, 429) and not getattr(exc, RETRYABLE, False))


# -- answers -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Answer:
    """An HTTP answer as it is sent and stored: status, headers and the exact body bytes."""

    status: int
    content: bytes
    media_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    replayed: bool = False

    @classmethod
    def json(cls, status: int, body: BaseModel | Any,
             headers: Mapping[str, str] | None = None) -> Answer:
        content = (body.model_dump_json().encode() if isinstance(body, BaseModel)
                   else to_json(body))
        return cls(status, content, headers=dict(headers or {}))

    @classmethod
    def problem(cls, problem: Problem, path: str) -> Answer:
        document = problem.to_dict()
        document.setdefault("instance", path)
        return cls(problem.status, to_json(document), PROBLEM_MEDIA_TYPE, dict(problem.headers))

    def response(self) -> Response:
        headers = dict(self.headers)
        if self.replayed:
            headers[REPLAYED_HEADER] = "true"
        return Response(self.content, self.status, headers=headers, media_type=self.media_type)

    def body(self) -> Any:
        return json.loads(self.content) if self.content else None


class Replayed(Exception):
    """Raised where a command would start when its key already has an answer; the service's
    exception handler sends that answer (see :func:`install`)."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(f"replayed {answer.status}")
        self.answer = answer


# -- the request's identity ----------------------------------------------------------------

def _canonical(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return body.hex()


@dataclass(frozen=True, slots=True)
class Once:
    """One keyed request: the caller's scope, the key, and what the key must keep meaning."""

    scope: str
    key: str
    fingerprint: str
    path: str

    @classmethod
    def of(cls, scope: str, key: str, method: str, path: str, query: str = "",
           body: bytes = b"") -> Once:
        """``body`` is compared as JSON (key order and spacing do not matter)."""
        text = json.dumps([method, path, query, _canonical(body)], sort_keys=True,
                          ensure_ascii=False, separators=(",", ":"))
        return cls(scope, key, hashlib.sha256(text.encode()).hexdigest(), path)

    @classmethod
    async def of_request(cls, request: Request, caller: Principal | str,
                         key: str | None) -> Once | None:
        """None without a key. The body is the one the route already read."""
        if key is None:
            return None
        scope = caller if isinstance(caller, str) else caller.subject
        return cls.of(scope, key, request.method, request.url.path,
                      request.url.query, await request.body())

    def refusal(self, exc: Problem) -> Answer:
        return Answer.problem(exc, self.path)


# -- storage --------------------------------------------------------------------------------

_CLAIM = """
WITH lock AS (SELECT pg_try_advisory_xact_lock($4::int, hashtext($1 || chr(31) || $2)) AS free),
claimed AS (
    INSERT INTO idempotency_keys (scope, key, request_hash)
    SELECT $1, $2, $3 WHERE (SELECT free FROM lock)
    ON CONFLICT DO NOTHING RETURNING true AS fresh)
SELECT (SELECT free FROM lock) AS free, (SELECT fresh FROM claimed) AS fresh
"""

_STORED = ("SELECT request_hash, status, body, media_type, headers, response"
           " FROM idempotency_keys WHERE scope = $1 AND key = $2")


def _stored_answer(row: asyncpg.Record) -> Answer:
    if row["response"] is not None:
        content = bytes(row["response"])
    else:  # rows written before the exact bytes were kept
        content = row["body"].encode() if row["body"] is not None else b""
    return Answer(row["status"] or 200, content, row["media_type"] or "application/json",
                  json.loads(row["headers"]) if row["headers"] else {}, replayed=True)


def _check(once: Once, row: asyncpg.Record) -> Answer:
    if row["request_hash"] != once.fingerprint:
        raise IdempotencyKeyReused(
            detail=f"Idempotency-Key {once.key!r} was first used with a different request.")
    return _stored_answer(row)


async def claim(conn: asyncpg.Connection, once: Once) -> Answer | None:
    """Claim the key in this transaction: None if it is new (the command runs and
    :func:`remember` stores its answer); the stored answer if it was used before. Raises
    :class:`IdempotencyKeyInProgress` while another transaction holds it, and
    :class:`IdempotencyKeyReused` for a different request."""
    row = await conn.fetchrow(_CLAIM, once.scope, once.key, once.fingerprint, _LOCK_CLASS)
    if not row["free"]:
        raise IdempotencyKeyInProgress(once.key)
    if row["fresh"]:
        return None
    stored = await conn.fetchrow(_STORED, once.scope, once.key)
    if stored is None:  # its first transaction just rolled back; nothing to replay
        raise IdempotencyKeyInProgress(once.key)
    return _check(once, stored)


def _headers(answer: Answer) -> str | None:
    return json.dumps(dict(answer.headers)) if answer.headers else None


async def remember(conn: asyncpg.Connection, once: Once, answer: Answer) -> None:
    """Store the answer of the command that claimed the key (same transaction)."""
    await conn.execute(
        "UPDATE idempotency_keys SET status = $3, media_type = $4, headers = $5::jsonb,"
        " response = $6 WHERE scope = $1 AND key = $2",
        once.scope, once.key, answer.status, answer.media_type, _headers(answer),
        answer.content)


async def remember_many(conn: asyncpg.Connection, answered: list[tuple[Once, Answer]]
                        ) -> set[tuple[str, str]]:
    """Claim and answer many keys in one statement (the bid engine's batch); returns the
    ``(scope, key)`` pairs that were already taken (nothing is written for those)."""
    if not answered:
        return set()
    rows = await conn.fetch(
        "INSERT INTO idempotency_keys (scope, key, request_hash, status, media_type, headers,"
        " response) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[],"
        " $5::text[], $6::jsonb[], $7::bytea[]) ON CONFLICT DO NOTHING RETURNING scope, key",
        [o.scope for o, _ in answered], [o.key for o, _ in answered],
        [o.fingerprint for o, _ in answered], [a.status for _, a in answered],
        [a.media_type for _, a in answered],
        [_headers(a) for _, a in answered], [a.content for _, a in answered])
    written = {(r["scope"], r["key"]) for r in rows}
    return {(o.scope, o.key) for o, _ in answered} - written


async def stored(conn: asyncpg.Connection, once: Once) -> Answer | None:
    """The committed answer of ``once``'s key (checked against its request), if any."""
    row = await conn.fetchrow(_STORED, once.scope, once.key)
    return None if row is None else _check(once, row)


# -- the service's side ----------------------------------------------------------------------

async def _send_replayed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Replayed)
    return exc.answer.response()


def _documented(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_MEDIA_TYPE: {
        "schema": PROBLEM_SCHEMA}}}


_IN_PROGRESS = ("`idempotency-key-in-progress`: the first request with this Idempotency-Key "
                "is still being processed; retry after `Retry-After` seconds")
_REUSED = "`idempotency-key-reused`: the Idempotency-Key was first used with another request"


def document_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Name the 409 and 422 answers of the key on every operation that takes it, and the
    replay header on its answers (in place; returns ``schema``)."""
    for operation in (op for item in schema.get("paths", {}).values()
                      for op in item.values() if isinstance(op, dict)):
        if not any(p.get("in") == "header" and p.get("name") == HEADER
                   for p in operation.get("parameters", ())):
            continue
        responses = operation.setdefault("responses", {})
        for status, text in (("409", _IN_PROGRESS), ("422", _REUSED)):
            entry = responses.setdefault(status, _documented(text))
            if text not in entry.get("description", ""):
                entry["description"] = f"{entry.get('description', '')}; or {text}".lstrip("; ")
            entry.setdefault("content", _documented(text)["content"])
        for status, entry in responses.items():
            if status.startswith(("2", "4")) and status != "401":
                entry.setdefault("headers", {})[REPLAYED_HEADER] = {
                    "description": "`true` when this is the stored answer of an earlier "
                                   "request with the same Idempotency-Key",
                    "schema": {"type": "string", "enum": ["true"]}}
    return schema


def install(app) -> None:
    """Send replayed answers, and document the key in the app's OpenAPI document."""
    app.add_exception_handler(Replayed, _send_replayed)
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if not getattr(app.state, "idempotency_documented", False):
            document_openapi(build())
            app.state.idempotency_documented = True
        return build()

    app.openapi = openapi
