"""The embedded Kafka broker: jars from Maven Central, one KRaft broker+controller on loopback."""

from __future__ import annotations

import base64
import fcntl
import os
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from techex.stack.process import (
    StackError,
    ensure_port_free,
    pid_alive,
    require_binary,
    stop_pid,
    wait_port,
)

HERE = Path(__file__).resolve().parent
POM = HERE / "kafka-pom.xml"
LOG4J = HERE / "log4j2.yaml"
HOST = "127.0.0.1"


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
    libs = cache_dir() / version / "libs"
    if (libs / f"kafka_2.13-{version}.jar").exists():
        return libs
    mvn = require_binary(
        "mvn", "Maven", "Install it (Debian: `apt-get install maven`); it fetches the Kafka jars."
    )
    libs.parent.mkdir(parents=True, exist_ok=True)
    with open(libs.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (libs / f"kafka_2.13-{version}.jar").exists():
            return libs
        log(f"Resolving Apache Kafka {version} jars from Maven Central into {libs} (first run)")
        staging = libs.parent / "libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        cmd = [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
               f"-DoutputDirectory={staging}", "-DincludeScope=runtime"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise StackError(
                "Maven could not resolve the Kafka jars:\n" + (proc.stdout + proc.stderr)[-3000:]
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
class EmbeddedKafka:
    home: Path
    port: int
    controller_port: int
    partitions: int = 4

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.home / "kafka-data"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "kafka.log"

    @property
    def pid_file(self) -> Path:
        return self.home / "kafka.pid"

    def pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text())
        except (OSError, ValueError):
            return None

    def running(self) -> bool:
        return pid_alive(self.pid())

    def _properties(self) -> Path:
        path = self.home / "server.properties"
        path.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.bootstrap.servers={HOST}:{self.controller_port}",
                    f"listeners=PLAINTEXT://{HOST}:{self.port},CONTROLLER://{HOST}:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://{HOST}:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"log.dirs={self.data_dir}",
                    f"num.partitions={self.partitions}",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=8",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=false",
                    "log.retention.hours=168",
                ]
            )
            + "\n"
        )
        return path

    def up(self, log=print) -> bool:
        """Start the broker unless it runs already; True when this call started it."""
        if self.running():
            return False
        java = java_binary()
        ensure_port_free(HOST, self.port, "Kafka broker")
        ensure_port_free(HOST, self.controller_port, "Kafka controller")
        libs = ensure_jars(log)
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        props = self._properties()
        classpath = f"{libs}/*"
        if not (self.data_dir / "meta.properties").exists():
            cluster_id = _random_cluster_id()
            fmt = subprocess.run(
                [java, "-cp", classpath, f"-Dlog4j2.configurationFile={LOG4J}",
                 "kafka.tools.StorageTool", "format", "--standalone", "-t", cluster_id,
                 "-c", str(props)],
                capture_output=True, text=True,
            )
            if fmt.returncode != 0:
                raise StackError("Formatting the KRaft storage failed:\n" + fmt.stdout + fmt.stderr)
        with open(self.log_file, "ab") as out:
            proc = subprocess.Popen(
                [java, "-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
                 f"-Dlog4j2.configurationFile={LOG4J}", "-cp", classpath,
                 "kafka.Kafka", str(props)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(str(proc.pid))
        wait_port(HOST, self.port, 90, "Kafka", self.log_file, pid=proc.pid)
        return True

    def down(self) -> None:
        pid = self.pid()
        if pid:
            stop_pid(pid, timeout=45)
        self.pid_file.unlink(missing_ok=True)


def _random_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding, not starting with
    ``-`` (the storage tool's argument parser would take it for an option)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id
