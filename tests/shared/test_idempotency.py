"""Idempotency-Key over the real database: one effect per key, the first answer replayed."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import pytest
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from shared import idempotency
from shared.clock import SystemClock
from shared.context import Command
from shared.idempotency import (
    Answer,
    IdempotencyKey,
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    Once,
    Replayed,
)
from shared.outbox import OutboxWriter
from shared.problems import Conflict, Problem
from tests.support.pipeline import listing_event, prepare


@pytest.fixture
async def pool(database_url):
    pool = await prepare(database_url)
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE things (n serial PRIMARY KEY, what text NOT NULL)")
    yield pool
    await pool.close()


def _once(caller: str = "buyer-1", key: str = "k-1", body: bytes = b'{"amount_fen": 100}',
          path: str = "/things") -> Once:
    return Once.of(caller, key, "POST", path, "", body)


class Busy(Problem):
    slug = "busy"
    status = 409
    title = "Busy, retry"
    retryable = True


async def _command(pool, once: Once | None, what: str = "x", fail: BaseException | None = None
                   ) -> Response:
    """A command that writes a thing and an event, answered 201 (or fails with ``fail``)."""
    async with Command(pool, OutboxWriter("test"), SystemClock(), once) as tx:
        n = await tx.conn.fetchval("INSERT INTO things (what) VALUES ($1) RETURNING n", what)
        tx.publish(listing_event(uuid.uuid4(), n))
        if fail is not None:
            raise fail
        return tx.answer(201, {"n": n, "what": what}, {"Location": f"/things/{n}"})


async def _counts(pool) -> tuple[int, int]:
    return (await pool.fetchval("SELECT count(*) FROM things"),
            await pool.fetchval("SELECT count(*) FROM outbox"))


async def test_a_retry_gets_the_first_answer_and_has_no_effect(pool):
    first = await _command(pool, _once())
    with pytest.raises(Replayed) as replay:
        await _command(pool, _once(), what="again")
    answer = replay.value.answer
    assert (answer.status, answer.content, answer.media_type) == (
        201, first.body, "application/json")
    assert answer.headers == {"Location": "/things/1"} and answer.replayed
    response = answer.response()
    assert response.headers["idempotent-replayed"] == "true"
    assert response.headers["location"] == "/things/1"
    assert await _counts(pool) == (1, 1)
    # Another caller's key of the same name is another key.
    other = await _command(pool, _once(caller="buyer-2"))
    assert json.loads(other.body)["n"] == 2
    assert await _counts(pool) == (2, 2)


async def test_the_same_key_with_another_request_is_refused(pool):
    await _command(pool, _once())
    for changed in (_once(body=b'{"amount_fen": 200}'), _once(path="/other")):
        with pytest.raises(IdempotencyKeyReused) as refused:
            await _command(pool, changed)
        assert refused.value.status == 422
    assert await _counts(pool) == (1, 1)


def test_a_request_is_known_by_its_meaning_not_its_spelling():
    assert _once(body=b'{"a": 1, "b": [1, 2]}') == _once(body=b'{ "b":[1,2],"a":1 }')
    assert _once(body=b'{"a": 1}') != _once(body=b'{"a": 1.0, "x": null}')
    assert Once.of("c", "k", "POST", "/p", "x=1").fingerprint != Once.of(
        "c", "k", "POST", "/p", "x=2").fingerprint
    assert Once.of("c", "k", "PUT", "/p").fingerprint != Once.of("c", "k", "POST", "/p"
                                                                 ).fingerprint
    assert _once(body=b"\xff not json").fingerprint != _once(body=b"\xfe not json").fingerprint


async def test_a_retry_while_the_first_runs_is_refused_at_once_with_retry_after(pool):
    async with pool.acquire() as conn:
        holder = conn.transaction()
        await holder.start()
        assert await idempotency.claim(conn, _once()) is None  # the first, still running
        with pytest.raises(IdempotencyKeyInProgress) as busy:
            await asyncio.wait_for(_command(pool, _once()), 5)  # no waiting on the first
        assert busy.value.status == 409 and busy.value.headers["Retry-After"] == "1"
        await holder.rollback()  # the first fails: it leaves no claim behind
    first = await _command(pool, _once())
    assert first.status_code == 201
    assert await _counts(pool) == (1, 1)


async def test_a_first_attempt_that_failed_leaves_nothing_and_the_retry_runs(pool):
    for transient in (RuntimeError("the database went away"), Busy("later"),
                      Problem("boom")):  # a 500
        with pytest.raises(type(transient)):
            await _command(pool, _once(), fail=transient)
        assert await _counts(pool) == (0, 0)
    assert (await _command(pool, _once())).status_code == 201
    assert await pool.fetchval("SELECT count(*) FROM idempotency_keys") == 1


async def test_a_definite_refusal_is_stored_without_the_commands_writes(pool):
    with pytest.raises(Conflict):
        await _command(pool, _once(), fail=Conflict("Already done."))
    assert await _counts(pool) == (0, 0)  # the thing and its event were rolled back
    with pytest.raises(Replayed) as replay:
        await _command(pool, _once())
    answer = replay.value.answer
    assert (answer.status, answer.media_type) == (409, "application/problem+json")
    assert answer.body() == {"type": "urn:techex:problem:conflict", "title": "Conflict",
                             "status": 409, "detail": "Already done.", "instance": "/things"}
    assert await _counts(pool) == (0, 0)


async def test_a_refusal_that_keeps_its_record_commits_it_once(pool):
    async def refused(once: Once | None) -> None:
        async with Command(pool, OutboxWriter("test"), SystemClock(), once) as tx:
            await tx.conn.execute("INSERT INTO things (what) VALUES ('rejected bid')")
            tx.publish(listing_event(uuid.uuid4(), 1))
            raise tx.refuse(Conflict("Too low.", reason="below-minimum"))

    with pytest.raises(Conflict):
        await refused(_once())
    assert await _counts(pool) == (1, 1)  # on record, answered 409
    with pytest.raises(Replayed) as replay:
        await refused(_once())
    assert replay.value.answer.body()["reason"] == "below-minimum"
    assert await _counts(pool) == (1, 1)
    with pytest.raises(Conflict):
        await refused(None)  # without a key, every refusal is on record
    assert await _counts(pool) == (2, 2)


async def test_a_keyed_command_that_gives_no_answer_is_a_bug_and_writes_nothing(pool):
    with pytest.raises(RuntimeError, match=r"tx\.answer"):
        async with Command(pool, OutboxWriter("test"), SystemClock(), _once()) as tx:
            await tx.conn.execute("INSERT INTO things (what) VALUES ('x')")
    assert await _counts(pool) == (0, 0)
    assert await pool.fetchval("SELECT count(*) FROM idempotency_keys") == 0


async def test_many_keys_are_claimed_in_one_statement_and_taken_ones_reported(pool):
    a, b = _once(key="a"), _once(key="b")
    async with pool.acquire() as conn:
        assert await idempotency.remember_many(conn, [(a, Answer.json(201, {"n": 1}))]) == set()
        taken = await idempotency.remember_many(conn, [(a, Answer.json(201, {"n": 2})),
                                                       (b, Answer.json(201, {"n": 3}))])
        assert taken == {("buyer-1", "a")}
        first = await idempotency.stored(conn, a)
        assert first is not None and first.body() == {"n": 1}
        with pytest.raises(IdempotencyKeyReused):
            await idempotency.stored(conn, _once(key="a", body=b"{}"))
        assert await idempotency.stored(conn, _once(key="c")) is None


def test_the_header_is_checked_like_the_documented_parameter():
    assert idempotency.parse_key(None) is None
    assert idempotency.parse_key("5f0c6a9e-2b51") == "5f0c6a9e-2b51"
    for bad in ("", "x" * 201, "héllo", "two words"):
        with pytest.raises(RequestValidationError) as refused:
            idempotency.parse_key(bad)
        assert refused.value.errors()[0]["loc"] == ("header", "Idempotency-Key")


def test_the_openapi_document_names_the_keys_answers():
    app = FastAPI()

    @app.post("/things", status_code=201)
    async def create(key: IdempotencyKey = None) -> dict:
        return {}

    @app.get("/things")
    async def read() -> dict:
        return {}

    idempotency.install(app)
    doc = app.openapi()
    post = doc["paths"]["/things"]["post"]
    [header] = [p for p in post["parameters"] if p["name"] == "Idempotency-Key"]
    assert header["in"] == "header" and header["schema"]["anyOf"][0]["maxLength"] == 200
    assert "idempotency-key-in-progress" in post["responses"]["409"]["description"]
    assert "idempotency-key-reused" in post["responses"]["422"]["description"]
    assert "application/problem+json" in post["responses"]["409"]["content"]
    assert "Idempotent-Replayed" in post["responses"]["201"]["headers"]
    assert "409" not in doc["paths"]["/things"]["get"]["responses"]
    assert app.openapi() is doc


async def test_rows_left_by_a_keyed_command_are_those_of_its_transaction(pool):
    """A claim made in a transaction that rolled back is gone with it (no stuck keys)."""
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.PostgresError):
            async with conn.transaction():
                await idempotency.claim(conn, _once())
                await conn.execute("SELECT 1/0")
    assert await pool.fetchval("SELECT count(*) FROM idempotency_keys") == 0
