"""How the stack is chosen and what it says when a prerequisite is missing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections import Counter

import pytest

from techex.stack import kafka, postgres
from techex.stack.federation import DEPLOYMENT_SPACING, MAX_DEPLOYMENTS, deployment_ports
from techex.stack.process import StackError
from techex.stack.prometheus import BASE_PORTS
from techex.stack.stack import PROFILES, REPO, SERVICES, Stack, kafka_ports


def test_external_kafka_and_databases_skip_the_embedded_parts(tmp_path):
    env = {"TECHEX_HOME": str(tmp_path), "KAFKA_BOOTSTRAP_SERVERS": "broker-1:9092"}
    env |= {f"{s.upper()}_DATABASE_URL": f"postgresql://db/{s}" for s in SERVICES}
    stack = Stack("dev", env=env)
    assert stack.kafka is None and stack.postgres is None
    assert stack.bootstrap == "broker-1:9092"
    assert stack.service_env()["AUCTION_DATABASE_URL"] == "postgresql://db/auction"
    assert stack.status()["kafka"] == "external broker-1:9092"


def test_the_embedded_default_gives_each_service_its_own_database(tmp_path):
    stack = Stack("dev", env={"TECHEX_HOME": str(tmp_path)})
    urls = {stack.database_url(s) for s in SERVICES}
    assert len(urls) == len(SERVICES) == 5
    assert stack.database_url("listing").endswith(":15432/techex_listing")
    assert stack.bootstrap == "127.0.0.1:19092"


def test_a_three_broker_stack_lists_its_nodes_on_ports_of_the_profile(tmp_path):
    stack = Stack("dev", env={"TECHEX_HOME": str(tmp_path), "TECHEX_PORT_OFFSET": "4000"},
                  brokers=3)
    assert stack.bootstrap == "127.0.0.1:23092,127.0.0.1:23102,127.0.0.1:23112"
    assert [n.controller_port for n in stack.kafka.nodes] == [23093, 23103, 23113]
    assert Stack("dev", env={"TECHEX_HOME": str(tmp_path)}).bootstrap == "127.0.0.1:19092"


def test_commands_use_the_kafka_that_runs_and_never_start_a_second_layout(tmp_path):
    env = {"TECHEX_HOME": str(tmp_path)}
    home = tmp_path / "dev"
    for n in (1, 2, 3):  # a three-node cluster of this profile, as its pid files say
        (home / "kafka-cluster" / f"node-{n}").mkdir(parents=True)
    (home / "kafka-cluster" / "node-2" / "kafka.pid").write_text(str(os.getpid()))
    assert Stack("dev", env=env).brokers == 3
    assert len(Stack("dev", env=env).bootstrap.split(",")) == 3

    (home / "kafka-cluster" / "node-2" / "kafka.pid").unlink()
    (home / "kafka.pid").write_text(str(os.getpid()))  # the single broker runs instead
    assert Stack("dev", env=env).brokers == 1
    with pytest.raises(StackError, match="runs with 1 node"):
        Stack("dev", env=env, brokers=3).up(log=lambda _: None)


def test_no_two_stacks_share_a_port_whatever_their_profile_and_offset():
    """Offsets in steps of 100 below 10,000: every port of every profile (Kafka nodes of a
    three-broker stack included, and every port the federation layout keeps for each of its
    deployments) is used by one stack only."""
    used: Counter[int] = Counter()
    for offset in range(0, 10_000, 100):
        for profile, base in PROFILES.items():
            ports = base.shifted(offset)
            used.update([p for pair in kafka_ports(ports, 3) for p in pair])
            used.update([ports.postgres, BASE_PORTS[profile] + offset])
            for slot in range(MAX_DEPLOYMENTS):
                layout = deployment_ports(profile, slot, offset)
                block = range(layout.kafka, layout.kafka + DEPLOYMENT_SPACING)
                assert {layout.controller, *layout.services.values()} <= set(block)
                used.update(block)
    assert used.most_common(1)[0][1] == 1


def test_missing_java_is_named(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(StackError, match="Java 17"):
        kafka.java_binary()


def test_missing_maven_is_named_when_the_jars_are_not_cached(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("TECHEX_CACHE_DIR", str(tmp_path))
    with pytest.raises(StackError, match="Maven"):
        kafka.ensure_jars()


def test_missing_postgres_binaries_are_named(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(postgres, "_server_bin_dirs", lambda: ())
    with pytest.raises(StackError, match="PostgreSQL server binaries"):
        postgres._binary("initdb")


def test_a_taken_port_is_reported_not_mistaken_for_our_broker(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        broker = kafka.EmbeddedKafka(tmp_path, [(port, port + 1)])
        with pytest.raises(StackError, match="taken by another process"):
            broker.up(log=lambda _: None)


@pytest.mark.timeout(120)
def test_a_stack_that_cannot_start_stops_the_test_run_with_one_message(tmp_path):
    """The session fixture ends the run at once (pytest.exit) with the stack's own error,
    instead of every test erroring with it."""
    with socket.socket() as taken:  # the port of the run's PostgreSQL is someone else's
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = {k: v for k, v in os.environ.items()
               if not k.endswith("_DATABASE_URL") and k != "KAFKA_BOOTSTRAP_SERVERS"}
        env["TECHEX_HOME"] = str(tmp_path / "home")
        env["TECHEX_PORT_OFFSET"] = str(taken.getsockname()[1] - PROFILES["test"].postgres)
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "tests/shared/test_db.py"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=100)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 3, out
    assert out.count("the test stack cannot start") == 1, out
    assert "taken by another process" in out
    assert " error" not in out and "passed" not in out, out


def test_a_kraft_cluster_id_never_reads_as_an_option():
    """The storage tool's parser takes an argument starting with "-" for an option; about one
    random id in 64 did, and formatting the broker's storage then failed."""
    import base64

    ids = [kafka._random_cluster_id() for _ in range(2000)]
    assert not [i for i in ids if i.startswith("-")]
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)
