"""The `exchange` fixture: the four services as processes, as `techex up` runs them;
`kafka_cluster`: three Kafka nodes of a test's own, for tests that kill brokers; and
`federation`: Tianjin, Hebei and the national hub as `techex up --federation` runs them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from shared.kafka import wait_until_ready
from techex.federated import FederationLayout
from techex.stack.kafka import EmbeddedKafka
from techex.stack.stack import SERVICES, run_sync
from tests.support.auction_processes import free_port
from tests.support.exchange import Exchange
from tests.support.federation import running_federation


@pytest.fixture
async def exchange(stack, new_database, tmp_path) -> AsyncIterator[Exchange]:
    databases = {s: await new_database() for s in SERVICES}
    ex = Exchange(stack, tmp_path, databases)
    await ex.start()
    try:
        yield ex
    finally:
        await ex.stop()  # before the databases are dropped


@pytest.fixture
def kafka_cluster(tmp_path) -> Iterator[EmbeddedKafka]:
    """Three broker+controller nodes (one quorum) from the stack's jars, on ports of their own,
    stopped and deleted after the test."""
    ports: set[int] = set()
    while len(ports) < 6:
        ports.add(free_port())
    listed = sorted(ports)
    cluster = EmbeddedKafka(tmp_path / "kafka", list(zip(listed[::2], listed[1::2], strict=True)),
                            partitions=3, heap="512m")
    try:
        cluster.up(log=lambda msg: print(f"[kafka] {msg}", flush=True))
        run_sync(wait_until_ready(cluster.bootstrap, timeout=90, brokers=3))
        yield cluster
    finally:
        cluster.down()


@pytest.fixture(scope="module")
def federation(tmp_path_factory) -> Iterator[FederationLayout]:
    """The federation layout of the test profile with every deployment's services and portal,
    for one module (see tests/support/federation.py): stopped after it, because the cluster
    tests of tests/techex/stack/ start layouts of their own on the same ports."""
    with running_federation(tmp_path_factory.mktemp("federation"),
                            log=lambda msg: print(msg, flush=True)) as layout:
        yield layout
