from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from shared.tracing import (
    TraceMiddleware,
    current_traceparent,
    new_child,
    new_traceparent,
    parse_traceparent,
    trace_id_of,
    use_traceparent,
)

TRACEPARENT = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
INCOMING = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_new_traceparent_is_a_sampled_version_00_header() -> None:
    value = new_traceparent()
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", value)
    assert parse_traceparent(value) == value
    assert new_traceparent() != value


def test_child_keeps_trace_id_and_flags_with_a_new_span() -> None:
    child = new_child(INCOMING)
    assert trace_id_of(child) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert child.endswith("-01")
    assert child.split("-")[2] != INCOMING.split("-")[2]
    assert new_child(INCOMING.replace("-01", "-00")).endswith("-00")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # uppercase
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # zero parent id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # forbidden version
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  # v00 has 4 fields
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # short trace id
    ],
)
def test_invalid_headers_are_rejected(value: str) -> None:
    assert parse_traceparent(value) is None
    with pytest.raises(ValueError, match="not a valid traceparent"):
        trace_id_of(value)


def test_future_versions_are_read_as_version_00() -> None:
    future = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next"
    assert parse_traceparent(future) == INCOMING
    assert parse_traceparent(f" {INCOMING}\t") == INCOMING


@given(st.text(max_size=80))
def test_parse_never_raises_and_only_returns_canonical_headers(value: str) -> None:
    parsed = parse_traceparent(value)
    assert parsed is None or TRACEPARENT.fullmatch(parsed)


def test_use_traceparent_runs_a_child_span_and_restores_the_context() -> None:
    assert current_traceparent() is None
    with use_traceparent(INCOMING) as current:
        assert current_traceparent() == current
        assert trace_id_of(current) == trace_id_of(INCOMING)
        assert current != INCOMING
    assert current_traceparent() is None


@pytest.mark.parametrize("received", [None, "garbage"])
def test_use_traceparent_starts_a_trace_without_a_valid_parent(received: str | None) -> None:
    with use_traceparent(received) as current:
        assert current_traceparent() == current
        assert TRACEPARENT.fullmatch(current)
    assert current_traceparent() is None


def _app() -> tuple[FastAPI, list[str | None]]:
    seen: list[str | None] = []
    app = FastAPI()
    app.add_middleware(TraceMiddleware)

    @app.get("/seen")
    async def record() -> dict[str, bool]:
        seen.append(current_traceparent())
        return {"ok": True}

    return app, seen


async def _get(app: FastAPI, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/seen", headers=headers)


async def test_middleware_continues_an_incoming_trace() -> None:
    app, seen = _app()
    response = await _get(app, {"traceparent": INCOMING})
    returned = response.headers["traceparent"]
    assert seen == [returned]
    assert trace_id_of(returned) == trace_id_of(INCOMING)
    assert returned != INCOMING  # this service's own span
    assert current_traceparent() is None  # reset after the request


@pytest.mark.parametrize("headers", [None, {"traceparent": "not-a-trace"}])
async def test_middleware_starts_a_trace_when_absent_or_invalid(
    headers: dict[str, str] | None,
) -> None:
    app, seen = _app()
    first = await _get(app, headers)
    second = await _get(app, headers)
    assert TRACEPARENT.fullmatch(first.headers["traceparent"])
    assert seen == [first.headers["traceparent"], second.headers["traceparent"]]
    assert trace_id_of(seen[0]) != trace_id_of(seen[1])
