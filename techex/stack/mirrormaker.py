"""Apache Kafka MirrorMaker 2 in dedicated mode: its configuration from a partner list, and the
process, from Maven Central's jars like the broker's.

Each deployment runs one MirrorMaker next to its own cluster, targeting only that cluster
(``--clusters <alias>``): it reads its partners' public topics and writes them here as
``<alias>.<topic>``. It writes nothing into a partner's cluster (offset syncs are kept on the
target), so a partner grants it read access to its public topics and nothing more.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.federation import Federation
from shared.kafka import DLQ_SUFFIX, replication_for
from techex.stack.kafka import cache_dir, java_binary, kafka_version, resolve_jars
from techex.stack.process import StackError, kill_pid, pid_alive, stop_pid

HERE = Path(__file__).resolve().parent
POM = HERE / "mirrormaker-pom.xml"
LOG4J = HERE / "mirrormaker-log4j2.properties"
MAIN_CLASS = "org.apache.kafka.connect.mirror.MirrorMaker"
STARTED = "Kafka MirrorMaker started"
"""The line MirrorMaker logs once its herders run (connectors start when it leads its group)."""
SOURCE_CONNECTOR = "MirrorSourceConnector"
TOPICS_EXCLUDE = (rf".*\{DLQ_SUFFIX}", r"mm2.*\.internal", r".*\.replica", r"__.*")
"""Never mirrored, whatever the filter: dead-letter topics (a partner's poison events are
its own), MirrorMaker's internal topics and Kafka's (MirrorMaker's default exclusions)."""


@dataclass(frozen=True)
class Tuning:
    """What MirrorMaker is told besides the flows; the defaults aim at sub-second propagation."""

    tasks: int = 2
    """Tasks per flow: each consumes a share of the partner's public partitions."""
    refresh_topics_seconds: int = 5
    """How soon a public topic a partner adds is mirrored (MirrorMaker's default: 10 min)."""
    refresh_groups_seconds: int = 10
    emit_checkpoints_seconds: int = 5
    sync_topic_configs_seconds: int = 300
    producer_linger_ms: int = 0
    """The writes into this cluster leave at once (Kafka 4's producer default waits 5 ms)."""
    consumer_fetch_wait_ms: int = 100
    """Longest a fetch from a partner waits for data; data that arrives answers it at once."""
    offset_flush_ms: int = 5000
    """How often the mirrored position is committed: what a crash could copy twice."""


DEFAULT_TUNING = Tuning()


def mm2_properties(federation: Federation, bootstrap: str, *, brokers: int = 1,
                   replication: int | None = None, tuning: Tuning = DEFAULT_TUNING) -> str:
    """The ``mm2.properties`` of the deployment ``federation`` describes, whose own cluster is
    at ``bootstrap`` and has ``brokers`` brokers: one flow from each partner into it.

    ``replication`` (or else :func:`shared.kafka.replication_for` of ``brokers``: 1 on a single
    broker, 3 on a cluster of three or more) is the replication factor of the topics MirrorMaker
    creates here, the mirrored ones and its own.
    """
    factor, _ = replication_for(brokers, replication)
    me = federation.alias
    hub = " (national hub)" if federation.national_hub else ""
    lines = [
        f"# Apache Kafka MirrorMaker 2, dedicated mode, of the deployment {me!r}: "
        f"{federation.name}, {federation.region}{hub}.",
        "# Generated from its partner list by techex (`techex federation mm2-config`); run as",
        f"#   connect-mirror-maker.sh mm2.properties --clusters {me}",
        "# Each partner's public topics are copied into this cluster as <alias>.<topic>; the",
        "# partners' own MirrorMakers copy ours into theirs.",
        f"clusters = {', '.join([me, *(p.alias for p in federation.partners)])}",
        f"{me}.bootstrap.servers = {bootstrap}",
    ]
    for partner in federation.partners:
        lines.append(f"{partner.alias}.bootstrap.servers = {partner.bootstrap}")
    lines += ["", "# Flows: from each partner into this cluster, only its public topics."]
    for partner in federation.partners:
        flow = f"{partner.alias}->{me}"
        groups = re.escape(partner.topic_prefix) + r"\..*"  # its services' consumer groups
        lines += [
            f"{flow}.enabled = true",
            f"{flow}.topics = {_escape(partner.public_topics_pattern())}",
            f"{flow}.groups = {_escape(groups)}",
        ]
    lines += [
        "topics.exclude = " + ", ".join(_escape(p) for p in TOPICS_EXCLUDE),
        "replication.policy.class = org.apache.kafka.connect.mirror.DefaultReplicationPolicy",
        "replication.policy.separator = .",
        "",
        "# Where a flow stands is MirrorMaker's to keep, in this cluster: its source offsets",
        "# (mm2-offsets.<alias>.internal), offset syncs and the checkpoints of the partner's",
        "# consumer groups (<alias>.checkpoints.internal); a partner or this MirrorMaker that",
        "# was down resumes where it stopped. Heartbeats show each link is alive.",
        "offset-syncs.topic.location = target",
        "emit.checkpoints.enabled = true",
        f"emit.checkpoints.interval.seconds = {tuning.emit_checkpoints_seconds}",
        f"refresh.groups.interval.seconds = {tuning.refresh_groups_seconds}",
        "sync.group.offsets.enabled = false",
        "emit.heartbeats.enabled = true",
        "emit.heartbeats.interval.seconds = 1",
        f"{me}.offset.flush.interval.ms = {tuning.offset_flush_ms}",
        "",
        "# A mirrored topic keeps its source's partitions and configuration; ACLs are each",
        "# cluster's own.",
        "refresh.topics.enabled = true",
        f"refresh.topics.interval.seconds = {tuning.refresh_topics_seconds}",
        "sync.topic.configs.enabled = true",
        f"sync.topic.configs.interval.seconds = {tuning.sync_topic_configs_seconds}",
        "sync.topic.acls.enabled = false",
        "",
        f"# Replication here: {factor} cop{'y' if factor == 1 else 'ies'} of everything "
        "MirrorMaker creates.",
        *(f"{name} = {factor}" for name in (
            "replication.factor", "checkpoints.topic.replication.factor",
            "heartbeats.topic.replication.factor", "offset-syncs.topic.replication.factor",
            "config.storage.replication.factor", "offset.storage.replication.factor",
            "status.storage.replication.factor")),
        "",
        "# Start-up: the plugins are the three Mirror connectors, found by their manifests.",
        "plugin.discovery = service_load",
        f"{me}.plugin.discovery = service_load",
        "",
        "# Latency: records are written here as soon as they are read.",
        f"tasks.max = {tuning.tasks}",
        f"{me}.producer.linger.ms = {tuning.producer_linger_ms}",
        f"{me}.producer.acks = all",
        *(f"{p.alias}.consumer.fetch.max.wait.ms = {tuning.consumer_fetch_wait_ms}"
          for p in federation.partners),
    ]
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    """A value as a .properties file must spell it: a backslash is written twice."""
    return value.replace("\\", "\\\\")


def read_properties(text: str) -> dict[str, str]:
    """The key/value pairs of a ``.properties`` text as written by :func:`mm2_properties`
    (``key = value`` lines, ``#`` comments, doubled backslashes)."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip().replace("\\\\", "\\")
    return out


def ensure_mirrormaker_jars(log=print) -> Path:
    """MirrorMaker's jars (the broker's Kafka release), resolved once into the jar cache."""
    version = kafka_version()
    return resolve_jars(POM, cache_dir() / version / "mirrormaker-libs",
                        f"connect-mirror-{version}.jar", f"Kafka MirrorMaker {version}", log,
                        properties={"kafka.version": version})


class MirrorMaker:
    """One dedicated-mode MirrorMaker process targeting the cluster ``target`` (an alias of
    its configuration), with its configuration, pid file and log under ``home``."""

    def __init__(self, home: Path, target: str, log_file: Path | None = None,
                 heap: str = "384m") -> None:
        self.home = Path(home)
        self.target = target
        self.log_file = log_file or self.home / "mirrormaker.log"
        self.heap = heap
        self._log_start = 0  # where the log stood when this object last started the process

    @property
    def config_file(self) -> Path:
        return self.home / "mm2.properties"

    @property
    def pid_file(self) -> Path:
        return self.home / "mirrormaker.pid"

    def pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text())
        except (OSError, ValueError):
            return None

    def running(self) -> bool:
        return pid_alive(self.pid())

    def write_config(self, text: str) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(text)

    def start(self, log=print) -> int:
        """Launch the process (not waiting for it) unless it runs; its pid."""
        if self.running():
            return self.pid()  # type: ignore[return-value]
        if not self.config_file.exists():
            raise StackError(f"no MirrorMaker configuration at {self.config_file}")
        java = java_binary()
        classpath = f"{ensure_mirrormaker_jars(log)}/*"
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log_start = self.log_file.stat().st_size if self.log_file.exists() else 0
        with open(self.log_file, "ab") as out:
            proc = subprocess.Popen(
                [java, "-Xms128m", f"-Xmx{self.heap}", "-XX:+UseG1GC", "-Djava.awt.headless=true",
                 f"-Dlog4j2.configurationFile={LOG4J}", "-cp", classpath, MAIN_CLASS,
                 str(self.config_file), "--clusters", self.target],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(str(proc.pid))
        return proc.pid

    def wait_started(self, timeout: float = 120) -> None:
        """Until the process logged that it started; a StackError with the log's tail if it
        exited or took longer."""
        start = self._log_start
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if STARTED in self._log_since(start):
                return
            if not self.running():
                break
            time.sleep(0.3)
        tail = "\n".join(self._log_since(start).splitlines()[-25:])
        state = "exited" if not self.running() else f"did not start within {timeout:.0f}s"
        raise StackError(f"MirrorMaker for {self.target!r} {state}:\n{tail}")

    def _log_since(self, offset: int) -> str:
        try:
            with open(self.log_file, "rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM: MirrorMaker stops its tasks and commits where each flow stands."""
        pid = self.pid()
        if pid:
            stop_pid(pid, timeout=timeout)
        self.pid_file.unlink(missing_ok=True)

    def kill(self) -> None:
        """``kill -9``, as a crash would."""
        pid = self.pid()
        if pid:
            kill_pid(pid)
        self.pid_file.unlink(missing_ok=True)


async def topic_partitions(bootstrap: str, topic: str) -> int:
    """How many partitions ``topic`` has at ``bootstrap``; 0 when there is no such topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return 0 if described["error_code"] else len(described["partitions"])


async def read_topic(bootstrap: str, topic: str, timeout: float = 30) -> list[ConsumerRecord]:
    """Every record of ``topic`` from its beginning to its end offsets of the moment; none
    when the topic does not exist."""
    partitions = await topic_partitions(bootstrap, topic)
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                request_timeout_ms=int(timeout * 1000))
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout
        while behind := [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic} at {bootstrap} took over {timeout:.0f}s")
            for tp, records in (await consumer.getmany(*behind, timeout_ms=500)).items():
                out += [r for r in records if r.offset < ends[tp]]
        return out
    finally:
        await consumer.stop()


async def flow_states(bootstrap: str, source: str, since: float | None = None) -> dict[str, str]:
    """What the MirrorMaker whose cluster is at ``bootstrap`` last recorded of its flow from
    ``source``: ``{"MirrorSourceConnector": "RUNNING", "MirrorSourceConnector-0": …}`` (Kafka
    Connect's status topic, ``mm2-status.<source>.internal``); empty when it never ran.
    ``since`` (a Unix time): only what was recorded from then on, not what a MirrorMaker that
    was killed left behind."""
    states: dict[str, str] = {}
    for record in await read_topic(bootstrap, f"mm2-status.{source}.internal"):
        if since is None or record.timestamp >= since * 1000:
            _record_state(states, record.key, record.value)
    return states


def _record_state(states: dict[str, str], key: bytes | None, value: bytes | None) -> None:
    """One record of Connect's status topic: ``status-connector-<name>`` or
    ``status-task-<name>-<n>`` with ``{"state": …}``; a tombstone forgets."""
    name = (key or b"").decode(errors="replace")
    for prefix in ("status-connector-", "status-task-"):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    else:
        return
    if value is None:
        states.pop(name, None)
        return
    try:
        states[name] = str(json.loads(value)["state"])
    except (ValueError, KeyError, TypeError):
        return


def flowing(states: dict[str, str]) -> bool:
    """Whether the flow's source connector and each of its tasks run."""
    tasks = [s for name, s in states.items() if name.startswith(f"{SOURCE_CONNECTOR}-")]
    return states.get(SOURCE_CONNECTOR) == "RUNNING" and bool(tasks) and \
        all(s == "RUNNING" for s in tasks)


async def wait_flowing(bootstrap: str, sources: list[str], timeout: float = 180,
                       since: float | None = None) -> None:
    """Until the flow from each of ``sources`` into the cluster at ``bootstrap`` runs (as
    recorded from ``since`` on, see :func:`flow_states`)."""
    deadline = time.monotonic() + timeout
    waiting = list(sources)
    last: dict[str, dict[str, str]] = {}
    while waiting:
        for source in list(waiting):
            last[source] = await flow_states(bootstrap, source, since)
            if flowing(last[source]):
                waiting.remove(source)
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise StackError(f"MirrorMaker flows into {bootstrap} not running after "
                             f"{timeout:.0f}s: " + "; ".join(
                                 f"{s}: {last.get(s) or 'no status yet'}" for s in waiting))
        await asyncio.sleep(1)
