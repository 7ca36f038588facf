"""Session fixtures: the real stack (same code path as `techex up`), fresh databases, topics."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from shared.kafka import delete_topics
from shared.settings import DEVELOPMENT_FLAG, CommonSettings
from techex.stack.process import StackError
from techex.stack.stack import Stack
from tests.support.databases import throwaway_databases

STACK_FAILED = 3
"""pytest's exit code when the stack cannot start (that of an internal error)."""

# The tests run on the embedded default: the services they build here and the processes they
# start use the development secrets (tests of the refusal take the flag away).
os.environ.setdefault(DEVELOPMENT_FLAG, "1")


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """Kafka and PostgreSQL for the whole run: the embedded ones on the test ports, or the
    external ones named by KAFKA_BOOTSTRAP_SERVERS / TECHEX_DATABASE_ADMIN_URL."""
    s = Stack("test")
    try:
        started = s.up(log=lambda msg: print(f"[stack] {msg}", flush=True))
    except (StackError, TimeoutError, OSError) as exc:
        # One clear message for the run, not the same error again for every test.
        pytest.exit(f"the test stack cannot start: {exc}", returncode=STACK_FAILED)
    yield s
    if started and not os.environ.get("TECHEX_KEEP_STACK"):
        s.down()


@pytest.fixture
async def database_url(new_database) -> str:
    """A throw-away database, dropped after the test."""
    return await new_database()


@pytest.fixture
async def common(stack: Stack) -> AsyncIterator[CommonSettings]:
    """Settings with a topic prefix of this test's own, so tests never see each other's
    events; the test's topics are deleted afterwards so the broker stays small."""
    settings = CommonSettings(
        kafka_bootstrap_servers=stack.bootstrap,
        topic_prefix=f"t{uuid.uuid4().hex[:10]}",
        topic_partitions=2,
    )
    yield settings
    with contextlib.suppress(Exception):
        await delete_topics(stack.bootstrap, settings.topic_prefix + ".")


@pytest.fixture
async def new_database(stack: Stack) -> AsyncIterator:
    """A factory of throw-away databases (for tests that run several services), all dropped."""
    async with throwaway_databases(stack) as make:
        yield make
