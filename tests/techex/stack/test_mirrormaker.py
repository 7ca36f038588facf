"""MirrorMaker 2 between deployments: the configuration written from a partner list, then two
real single-node clusters of the federation layout with a real MirrorMaker between them."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.envelope import Envelope
from shared.federation import mirrored_topic, parse_federation, public_topic
from shared.kafka import ensure_topics, new_producer
from techex.stack.federation import FederationStack
from techex.stack.mirrormaker import (
    TOPICS_EXCLUDE,
    Tuning,
    flow_states,
    flowing,
    mm2_properties,
    read_properties,
    read_topic,
)

HEBEI = {
    "alias": "hebei", "name": "河北省", "region": "130000",
    "partners": [
        {"alias": "tianjin", "name": "天津市", "region": "120000",
         "bootstrap_servers": ["tj-0.example:9094", "tj-1.example:9094"]},
        {"alias": "national", "name": "全国", "region": "000000", "national_hub": True,
         "bootstrap_servers": ["hub.example:9094"], "topic_prefix": "hub-x"},
    ],
}


def config(brokers: int = 1, **changes) -> dict[str, str]:
    federation = parse_federation(HEBEI | changes)
    return read_properties(mm2_properties(federation, "kafka:9092", brokers=brokers))


def topic_filter(props: dict[str, str], flow: str) -> re.Pattern:
    return re.compile(props[f"{flow}.topics"])


# --- the configuration ------------------------------------------------------------------------


def test_each_partner_flows_into_this_cluster_and_never_the_other_way():
    props = config()
    assert props["clusters"] == "hebei, tianjin, national"
    assert props["hebei.bootstrap.servers"] == "kafka:9092"
    assert props["tianjin.bootstrap.servers"] == "tj-0.example:9094,tj-1.example:9094"
    flows = {k.removesuffix(".enabled") for k, v in props.items() if k.endswith(".enabled")
             and "->" in k and v == "true"}
    assert flows == {"tianjin->hebei", "national->hebei"}
    # Offset syncs are kept here too: a partner's cluster is only read.
    assert props["offset-syncs.topic.location"] == "target"
    assert props["sync.topic.acls.enabled"] == "false"
    assert props["replication.policy.class"].endswith(".DefaultReplicationPolicy")


def test_only_the_partners_public_topics_pass_the_filter():
    props = config()
    tianjin = topic_filter(props, "tianjin->hebei")
    for topic in ("techex.public.catalog", "techex.public.contracts", "techex.public.v2.catalog"):
        assert tianjin.fullmatch(topic), topic
    for topic in ("techex.auction", "techex.publicity", "techexXpublic.catalog",
                  "tianjin.techex.public.catalog", "other.public.catalog", "xtechex.public.a"):
        assert not tianjin.fullmatch(topic), topic
    # Each partner's filter and checkpointed groups are under its own topic prefix.
    national = topic_filter(props, "national->hebei")
    assert national.fullmatch("hub-x.public.catalog")
    assert not national.fullmatch("techex.public.catalog")
    assert re.compile(props["national->hebei.groups"]).fullmatch("hub-x.registry")
    assert not re.compile(props["tianjin->hebei.groups"]).fullmatch("hub-x.registry")
    # Dead letters and internal topics never cross, even under a public name.
    excluded = [re.compile(p.strip()) for p in props["topics.exclude"].split(",")]
    assert len(excluded) == len(TOPICS_EXCLUDE)
    assert any(p.fullmatch("techex.public.catalog.dlq") for p in excluded)
    assert not any(p.fullmatch("techex.public.catalog") for p in excluded)


def test_backslashes_are_doubled_as_a_properties_file_spells_them():
    text = mm2_properties(parse_federation(HEBEI), "kafka:9092")
    assert r"tianjin->hebei.topics = techex\\.public\\..*" in text
    assert r"national->hebei.topics = hub\\-x\\.public\\..*" in text
    assert read_properties(text)["tianjin->hebei.topics"] == r"techex\.public\..*"


@pytest.mark.parametrize(("brokers", "copies"), [(1, "1"), (2, "2"), (3, "3"), (5, "3")])
def test_replication_suits_the_cluster(brokers, copies):
    props = config(brokers=brokers)
    names = [k for k in props if k.endswith("replication.factor")]
    assert len(names) == 7
    assert {props[k] for k in names} == {copies}


def test_explicit_replication_wins():
    text = mm2_properties(parse_federation(HEBEI), "kafka:9092", brokers=1, replication=3)
    assert read_properties(text)["replication.factor"] == "3"


def test_tuned_for_latency():
    props = config()
    assert int(props["refresh.topics.interval.seconds"]) <= 10
    assert props["hebei.producer.linger.ms"] == "0"
    assert int(props["tianjin.consumer.fetch.max.wait.ms"]) <= 100
    assert int(props["national.consumer.fetch.max.wait.ms"]) <= 100
    assert int(props["tasks.max"]) >= 2
    assert props["emit.checkpoints.enabled"] == "true"
    assert props["emit.heartbeats.enabled"] == "true"
    assert props["sync.topic.configs.enabled"] == "true"


def test_a_flow_is_running_only_when_its_connector_and_every_task_run():
    running = {"MirrorSourceConnector": "RUNNING", "MirrorSourceConnector-0": "RUNNING",
               "MirrorSourceConnector-1": "RUNNING", "MirrorHeartbeatConnector": "RUNNING"}
    assert flowing(running)
    assert not flowing(running | {"MirrorSourceConnector-1": "FAILED"})
    assert not flowing({"MirrorSourceConnector": "RUNNING"})
    assert not flowing({})


# --- real clusters ----------------------------------------------------------------------------

# Deployment "a" (Tianjin's region) publishes; deployment "b" (Hebei's) runs the MirrorMaker
# that copies a's public topics in. a's only partner is a hub outside this layout, so no
# MirrorMaker runs for a and nothing is ever written into a's cluster but by the test.
A = {"alias": "a", "name": "天津市", "region": "120000", "partners": [
    {"alias": "c", "name": "全国", "region": "000000", "national_hub": True,
     "bootstrap_servers": ["127.0.0.1:1"]}]}
B = {"alias": "b", "name": "河北省", "region": "130000", "partners": [
    {"alias": "a", "name": "天津市", "region": "120000", "bootstrap_servers": ["127.0.0.1:1"]}]}
CATALOG = public_topic("techex", "catalog")
MIRRORED = mirrored_topic("a", CATALOG)


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    """Two clusters of the test profile's federation layout, the public catalog topic on a,
    and b's MirrorMaker running its flow from a."""
    files = tmp_path_factory.mktemp("federation")
    for doc in (A, B):
        (files / f"{doc['alias']}.json").write_text(json.dumps(doc))
    env = {**os.environ, "TECHEX_HOME": str(tmp_path_factory.mktemp("home"))}
    stack = FederationStack("test", env=env, deployments=("a", "b"), directory=files,
                            tuning=Tuning(refresh_topics_seconds=2, refresh_groups_seconds=3,
                                          emit_checkpoints_seconds=2))
    a = stack.deployment("a")
    try:
        a.kafka.up(log=lambda msg: print(f"[federation] {msg}", flush=True))
        asyncio.run(ensure_topics(a.bootstrap, [CATALOG, CATALOG + ".dlq"], 4))
        stack.up(log=lambda msg: print(f"[federation] {msg}", flush=True))
        yield stack
    finally:
        stack.down()


def envelope(subject: str) -> Envelope:
    return Envelope(id=str(uuid.uuid4()), type="techex.public.catalog.published.v1",
                    source="/techex/120000/listing", subject=subject,
                    time=datetime.now(UTC), region="120000",
                    data=json.dumps({"listing_id": subject, "title": "石墨烯散热膜"}).encode(),
                    traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                    extensions={"sequence": "1"})


async def publish(bootstrap: str, topic: str, envelopes: list[Envelope]) -> list:
    producer = new_producer(bootstrap)
    await producer.start()
    try:
        sent = []
        for env in envelopes:
            key, value, headers = env.to_record()
            sent.append(await (await producer.send(topic, value, key=key, headers=headers)))
        return sent
    finally:
        await producer.stop()


def ce_id(record) -> str:
    return dict(record.headers)["ce_id"].decode()


async def wait_for_ids(bootstrap: str, topic: str, ids: set[str], timeout: float = 90) -> list:
    """The records of ``topic`` once every ce_id of ``ids`` is among them."""
    deadline = time.monotonic() + timeout
    while True:
        records = await read_topic(bootstrap, topic)
        missing = ids - {ce_id(r) for r in records}
        if not missing:
            return records
        assert time.monotonic() < deadline, f"{len(missing)} of {len(ids)} never reached {topic}"
        await asyncio.sleep(0.5)


async def topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def test_a_public_event_arrives_with_its_key_headers_and_partition(layout):
    a, b = layout.deployment("a"), layout.deployment("b")
    original = envelope(str(uuid.uuid4()))
    (meta,) = await publish(a.bootstrap, CATALOG, [original])

    records = await wait_for_ids(b.bootstrap, MIRRORED, {original.id})
    (copy,) = [r for r in records if ce_id(r) == original.id]
    key, value, headers = original.to_record()
    assert copy.key == key and copy.value == value
    assert copy.headers == tuple(headers)  # every ce_* header, in order, byte for byte
    assert copy.partition == meta.partition and copy.timestamp == meta.timestamp
    assert Envelope.from_record(copy.key, copy.value, copy.headers) == original


async def test_only_public_topics_cross(layout):
    a, b = layout.deployment("a"), layout.deployment("b")
    private = "techex.auction"  # one of the deployment's own topics, made by the layout
    await publish(a.bootstrap, private, [envelope("auction-1")])
    await publish(a.bootstrap, CATALOG + ".dlq", [envelope("poison-1")])
    # A public topic made after those records: once it has crossed, MirrorMaker has looked at
    # a's topics again since they held records, and left them where they are.
    probe = public_topic("techex", f"probe{uuid.uuid4().hex[:6]}")
    await ensure_topics(a.bootstrap, [probe], 1)
    marker = envelope("probe-1")
    await publish(a.bootstrap, probe, [marker])
    await wait_for_ids(b.bootstrap, mirrored_topic("a", probe), {marker.id})

    from_a = {t for t in await topics(b.bootstrap) if t.startswith("a.")}
    assert mirrored_topic("a", private) not in from_a
    assert mirrored_topic("a", CATALOG + ".dlq") not in from_a
    assert {MIRRORED, mirrored_topic("a", probe)} <= from_a
    assert from_a - {"a.checkpoints.internal"} == {
        t for t in from_a if re.fullmatch(r"a\.techex\.public\.[^.]+", t)}


async def test_mirrormaker_keeps_offsets_and_checkpoints_on_the_target_only(layout):
    a, b = layout.deployment("a"), layout.deployment("b")
    event = envelope("checkpointed")
    (meta,) = await publish(a.bootstrap, CATALOG, [event])
    await wait_for_ids(b.bootstrap, MIRRORED, {event.id})
    # A consumer group of a's services that has read the public catalog up to that event.
    group = f"techex.reader-{uuid.uuid4().hex[:6]}"
    consumer = AIOKafkaConsumer(CATALOG, bootstrap_servers=a.bootstrap, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=200)
        await consumer.commit({TopicPartition(CATALOG, meta.partition): meta.offset + 1})
    finally:
        await consumer.stop()

    on_b = await topics(b.bootstrap)
    assert {"a.checkpoints.internal", "mm2-offsets.a.internal", "mm2-offset-syncs.a.internal",
            "mm2-status.a.internal", "mm2-configs.a.internal", "heartbeats"} <= on_b
    deadline = time.monotonic() + 90
    while not [r for r in await read_topic(b.bootstrap, "a.checkpoints.internal")
               if group.encode() in r.key]:
        assert time.monotonic() < deadline, f"no checkpoint of {group} on b"
        await asyncio.sleep(1)
    # b's MirrorMaker wrote nothing into a's cluster.
    on_a = await topics(a.bootstrap)
    assert not [t for t in on_a if t.startswith(("mm2-", "b.", "heartbeats"))
                or t.endswith(".internal")], on_a


async def test_a_stopped_mirrormaker_catches_up_and_copies_nothing_twice(layout):
    a, b = layout.deployment("a"), layout.deployment("b")
    before = envelope("before-stop")
    await publish(a.bootstrap, CATALOG, [before])
    await wait_for_ids(b.bootstrap, MIRRORED, {before.id})

    b.mirrormaker.stop()
    meanwhile = [envelope(f"listing-{i % 17}") for i in range(200)]
    await publish(a.bootstrap, CATALOG, meanwhile)
    await asyncio.sleep(2)
    stopped = {ce_id(r) for r in await read_topic(b.bootstrap, MIRRORED)}
    assert not stopped & {e.id for e in meanwhile}, "records crossed while MirrorMaker was down"

    layout.up()  # starts b's MirrorMaker again (the clusters run) and waits for its flow
    assert b.mirrormaker.running()
    records = await wait_for_ids(b.bootstrap, MIRRORED, {e.id for e in meanwhile})
    copies = Counter(ce_id(r) for r in records)
    assert copies.most_common(1)[0][1] == 1, copies.most_common(3)
    # Each partition of the copy is its source partition: the same events in the same order.
    source = await read_topic(a.bootstrap, CATALOG)
    assert in_order(records) == in_order(source)


def in_order(records) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        out.setdefault(r.partition, []).append(ce_id(r))
    return out


async def test_a_killed_mirrormaker_resumes_from_its_last_commit(layout):
    """A crash is at least once: what was copied since the last commit (at most
    offset.flush.interval.ms) may be copied again, what came meanwhile arrives once."""
    a, b = layout.deployment("a"), layout.deployment("b")
    b.mirrormaker.kill()
    meanwhile = [envelope(f"listing-{i % 5}") for i in range(50)]
    await publish(a.bootstrap, CATALOG, meanwhile)

    restarted = time.time()
    layout.up()
    # up() waited for the new MirrorMaker's own word that the flow runs, not for the RUNNING
    # the killed one left in the status topic.
    assert flowing(await flow_states(b.bootstrap, "a", since=restarted))
    records = await wait_for_ids(b.bootstrap, MIRRORED, {e.id for e in meanwhile})
    copies = Counter(ce_id(r) for r in records)
    assert {copies[e.id] for e in meanwhile} == {1}
