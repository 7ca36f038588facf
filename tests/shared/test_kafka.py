"""Topic administration and consumer groups against the real broker."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import InvalidReplicationFactorError

from services.listing.api import create_app as listing_app
from services.listing.config import ListingSettings
from shared.kafka import ensure_topics, replication_for
from tests.support.services import running


@pytest.mark.parametrize(("brokers", "wanted", "expected"), [
    (1, None, (1, 1)),   # the embedded single broker, as always
    (2, None, (2, 1)),   # two brokers: two copies, writes go on with one down
    (3, None, (3, 2)),   # a cluster: an acknowledged event survives the loss of a broker
    (6, None, (3, 2)),
    (5, 3, (3, 2)),      # TECHEX_TOPIC_REPLICATION says
    (5, 5, (5, 2)),
])
def test_replication_follows_the_cluster_size(brokers, wanted, expected):
    assert replication_for(brokers, wanted) == expected


async def _brokers(bootstrap: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return len((await admin.describe_cluster())["brokers"])
    finally:
        await admin.close()


async def _topic_settings(bootstrap: str, topic: str) -> tuple[int, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
        [answer] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, {"min.insync.replicas": None})])
    finally:
        await admin.close()
    [resource] = answer.resources
    configs = {c[0]: c[1] for c in resource[4]}
    return len(described["partitions"][0]["replicas"]), int(configs["min.insync.replicas"])


async def test_topics_are_replicated_as_the_cluster_allows_and_existing_ones_left_alone(common):
    """One copy on the test stack's single broker; three, two in sync, on a cluster."""
    bootstrap, topic = common.kafka_bootstrap_servers, common.topic("listing")
    assert await ensure_topics(bootstrap, [topic, topic + ".dlq"], 2) == [
        topic, topic + ".dlq"]
    assert await _topic_settings(bootstrap, topic) == replication_for(await _brokers(bootstrap))
    assert await ensure_topics(bootstrap, [topic], 2) == []


async def test_a_topic_the_cluster_cannot_hold_is_an_error_not_a_silent_miss(common):
    bootstrap = common.kafka_bootstrap_servers
    more = await _brokers(bootstrap) + 1
    with pytest.raises(InvalidReplicationFactorError, match=f"replication {more}"):
        await ensure_topics(bootstrap, [common.topic("listing")], 2, replication=more)


async def test_a_services_consumer_group_carries_the_topic_prefix(common, database_url):
    app = listing_app(ListingSettings(database_url=database_url), common)
    async with running(app):
        runtime = app.state.runtime
        await asyncio.wait_for(runtime.consumer.assigned.wait(), 60)
        admin = AIOKafkaAdminClient(bootstrap_servers=common.kafka_bootstrap_servers)
        await admin.start()
        try:
            groups = {g[0] for g in await admin.list_consumer_groups()}
        finally:
            await admin.close()
    assert f"{common.topic_prefix}.listing" in groups
