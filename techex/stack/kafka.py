"""The embedded Kafka: jars from Maven Central, KRaft broker+controller nodes on loopback."""

from __future__ import annotations

import base64
import fcntl
import os
import re
import shutil
import signal
import subprocess
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from techex.stack.process import (
    StackError,
    ensure_port_free,
    kill_pid,
    pid_alive,
    require_binary,
    stop_pid,
    wait_port,
)

HERE = Path(__file__).resolve().parent
POM = HERE / "kafka-pom.xml"
LOG4J = HERE / "log4j2.yaml"
HOST = "127.0.0.1"
CLUSTER_DIR = "kafka-cluster"
"""Where the nodes of a cluster of several keep their data, under the stack's home."""


def kafka_version() -> str:
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    assert match, "kafka-pom.xml names no kafka.version"
    return match.group(1)


def cache_dir() -> Path:
    """Jar cache outside the work tree, shared by every checkout on the machine."""
    explicit = os.environ.get("TECHEX_CACHE_DIR")
    if explicit:
        return Path(explicit) / "kafka"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "techex" / "kafka"


def ensure_jars(log=print) -> Path:
    """Resolve the broker's jars with the machine's Maven, once; later runs reuse the cache."""
    version = kafka_version()
    return resolve_jars(POM, cache_dir() / version / "libs", f"kafka_2.13-{version}.jar",
                        f"Apache Kafka {version}", log)


def resolve_jars(pom: Path, libs: Path, marker: str, what: str, log=print,
                 properties: dict[str, str] | None = None) -> Path:
    """Copy the runtime dependencies of ``pom`` into ``libs`` with Maven, unless ``libs``
    already holds ``marker`` (a jar of the set); one resolver at a time per cache folder.
    ``properties`` are given to Maven as ``-Dname=value`` (the pom's versions)."""
    if (libs / marker).exists():
        return libs
    mvn = require_binary(
        "mvn", "Maven", f"Install it (Debian: `apt-get install maven`); it fetches the {what} jars."
    )
    libs.parent.mkdir(parents=True, exist_ok=True)
    with open(libs.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (libs / marker).exists():
            return libs
        log(f"Resolving the {what} jars from Maven Central into {libs} (first run)")
        staging = libs.parent / f"{libs.name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        cmd = [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
               f"-DoutputDirectory={staging}", "-DincludeScope=runtime",
               *(f"-D{k}={v}" for k, v in (properties or {}).items())]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise StackError(
                f"Maven could not resolve the {what} jars:\n" + (proc.stdout + proc.stderr)[-3000:]
            )
        staging.rename(libs)
    return libs


def java_binary() -> str:
    java = require_binary(
        "java", "Java 17+", "Install a JDK 17 (Debian: `apt-get install openjdk-17-jre-headless`)."
    )
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)', out)
    if not match or int(match.group(1)) < 17:
        raise StackError(f"Kafka {kafka_version()} needs Java 17+; `java -version` said: {out}")
    return java


@dataclass
class KafkaNode:
    """One KRaft process, broker and controller in one, with its own log directory."""

    node_id: int
    port: int
    controller_port: int
    home: Path
    """Where its properties, pid file and data live."""
    log_file: Path

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.home / "kafka-data"

    @property
    def pid_file(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def config_file(self) -> Path:
        return self.home / "server.properties"

    def pid(self) -> int | None:
        return _read_pid(self.pid_file)

    def running(self) -> bool:
        return pid_alive(self.pid())

    def formatted(self) -> bool:
        return (self.data_dir / "meta.properties").exists()

    def cluster_id(self) -> str | None:
        try:
            text = (self.data_dir / "meta.properties").read_text()
        except OSError:
            return None
        match = re.search(r"^cluster\.id=(\S+)$", text, re.MULTILINE)
        return match.group(1) if match else None

    def launch(self, java: str, classpath: str, heap: str = "768m") -> int:
        """Start the process (not waiting for it); its pid."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as out:
            proc = subprocess.Popen(
                [java, "-Xms256m", f"-Xmx{heap}", "-XX:+UseG1GC", "-Djava.awt.headless=true",
                 f"-Dlog4j2.configurationFile={LOG4J}", "-cp", classpath,
                 "kafka.Kafka", str(self.config_file)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(str(proc.pid))
        return proc.pid

    def wait_up(self, timeout: float = 90) -> None:
        wait_port(HOST, self.port, timeout, f"Kafka node {self.node_id}", self.log_file,
                  pid=self.pid())

    def stop(self) -> None:
        pid = self.pid()
        if pid:
            stop_pid(pid, timeout=45)
        self.pid_file.unlink(missing_ok=True)

    def kill(self) -> None:
        """``kill -9``, as a crash would (fault tests); :meth:`EmbeddedKafka.start_node` brings
        it back."""
        pid = self.pid()
        if pid:
            kill_pid(pid)
        self.pid_file.unlink(missing_ok=True)


class EmbeddedKafka:
    """KRaft nodes on loopback from the Maven jars: one, or a cluster of several.

    Every node is broker and controller at once: one node is its own quorum (the dynamic
    quorum of ``--standalone``); several nodes form one controller quorum of them all (static
    voters), so a cluster of three keeps its metadata and its partitions' leaders while any one
    node is down. Node *i* listens on ``ports[i - 1]`` (broker, controller).
    """

    def __init__(self, home: Path, ports: Sequence[tuple[int, int]], partitions: int = 4,
                 *, heap: str = "768m") -> None:
        self.home = Path(home)
        self.partitions = partitions
        self.heap = heap
        if len(ports) == 1:  # the single broker keeps the layout it always had
            (port, controller), = ports
            self.nodes = [KafkaNode(1, port, controller, self.home,
                                    self.home / "logs" / "kafka.log")]
        else:
            self.nodes = [
                KafkaNode(i, port, controller, self.home / CLUSTER_DIR / f"node-{i}",
                          self.home / "logs" / f"kafka-{i}.log")
                for i, (port, controller) in enumerate(ports, start=1)
            ]

    @property
    def bootstrap(self) -> str:
        return ",".join(node.address for node in self.nodes)

    def node(self, node_id: int) -> KafkaNode:
        return self.nodes[node_id - 1]

    def running(self) -> bool:
        return all(node.running() for node in self.nodes)

    def any_running(self) -> bool:
        return any(node.running() for node in self.nodes)

    def _properties(self, node: KafkaNode) -> Path:
        n = len(self.nodes)
        copies, in_sync = min(3, n), (2 if n >= 3 else 1)
        if n == 1:
            quorum = f"controller.quorum.bootstrap.servers={HOST}:{node.controller_port}"
        else:
            quorum = "controller.quorum.voters=" + ",".join(
                f"{other.node_id}@{HOST}:{other.controller_port}" for other in self.nodes)
        node.home.mkdir(parents=True, exist_ok=True)
        node.config_file.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    f"node.id={node.node_id}",
                    quorum,
                    f"listeners=PLAINTEXT://{node.address},CONTROLLER://{HOST}:{node.controller_port}",
                    f"advertised.listeners=PLAINTEXT://{node.address}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={node.data_dir}",
                    f"num.partitions={self.partitions}",
                    f"default.replication.factor={copies}",
                    f"min.insync.replicas={in_sync}",
                    f"offsets.topic.replication.factor={copies}",
                    "offsets.topic.num.partitions=8",
                    f"transaction.state.log.replication.factor={copies}",
                    f"transaction.state.log.min.isr={in_sync}",
                    f"share.coordinator.state.topic.replication.factor={copies}",
                    f"share.coordinator.state.topic.min.isr={in_sync}",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=false",
                    "unclean.leader.election.enable=false",
                    "log.retention.hours=168",
                ]
            )
            + "\n"
        )
        return node.config_file

    def _format(self, java: str, classpath: str) -> None:
        """Format the nodes' storage that is not yet, all with the one cluster id."""
        todo = [node for node in self.nodes if not node.formatted()]
        if not todo:
            return
        known = [n.cluster_id() for n in self.nodes if n.formatted()]
        cluster_id = next(filter(None, known), None) or _random_cluster_id()
        for node in todo:
            cmd = [java, "-cp", classpath, f"-Dlog4j2.configurationFile={LOG4J}",
                   "kafka.tools.StorageTool", "format", "-t", cluster_id,
                   "-c", str(node.config_file)]
            if len(self.nodes) == 1:
                cmd.append("--standalone")
            fmt = subprocess.run(cmd, capture_output=True, text=True)
            if fmt.returncode != 0:
                raise StackError("Formatting the KRaft storage failed:\n" + fmt.stdout + fmt.stderr)

    def up(self, log=print) -> bool:
        """Start the nodes that do not run yet; True when this call started any."""
        down = [node for node in self.nodes if not node.running()]
        if not down:
            return False
        java = java_binary()
        for node in down:
            ensure_port_free(HOST, node.port, f"Kafka broker (node {node.node_id})")
            ensure_port_free(HOST, node.controller_port, f"Kafka controller (node {node.node_id})")
        classpath = f"{ensure_jars(log)}/*"
        for node in self.nodes:
            self._properties(node)
        self._format(java, classpath)
        for node in down:
            node.launch(java, classpath, self.heap)
        for node in down:
            node.wait_up()
        return True

    def start_node(self, node_id: int) -> None:
        """Start one node again (after :meth:`KafkaNode.kill`), and wait for its port."""
        node = self.node(node_id)
        node.launch(java_binary(), f"{ensure_jars()}/*", self.heap)
        node.wait_up()

    def down(self) -> None:
        """Stop every node, all at once: stopped one by one, the last ones would wait for a
        quorum that is gone."""
        for node in self.nodes:
            if node.running():
                os.kill(node.pid(), signal.SIGTERM)
        for node in self.nodes:
            node.stop()


def running_nodes(home: Path) -> int | None:
    """How many nodes the Kafka kept in ``home`` has, judged by what runs there: its cluster's
    count when a node of that runs, 1 for the single broker; None when nothing runs."""
    nodes = sorted((home / CLUSTER_DIR).glob("node-*"))
    if any(pid_alive(_read_pid(node / "kafka.pid")) for node in nodes):
        return len(nodes)
    return 1 if pid_alive(_read_pid(home / "kafka.pid")) else None


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def _random_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding, not starting with
    ``-`` (the storage tool's argument parser would take it for an option)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id
