"""How the stack is chosen and what it says when a prerequisite is missing."""

from __future__ import annotations

import pytest

from techex.stack import kafka, postgres
from techex.stack.process import StackError
from techex.stack.stack import SERVICES, Stack


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
    assert len(urls) == 4
    assert stack.database_url("listing").endswith(":15432/techex_listing")
    assert stack.bootstrap == "127.0.0.1:19092"


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
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        broker = kafka.EmbeddedKafka(tmp_path, port, port + 1)
        with pytest.raises(StackError, match="taken by another process"):
            broker.up(log=lambda _: None)


def test_a_kraft_cluster_id_never_reads_as_an_option():
    """The storage tool's parser takes an argument starting with "-" for an option; about one
    random id in 64 did, and formatting the broker's storage then failed."""
    import base64

    ids = [kafka._random_cluster_id() for _ in range(2000)]
    assert not [i for i in ids if i.startswith("-")]
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)
