"""Our Prometheus instance, for real: Debian's binary scraping a running listing service."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import pytest

from techex.cli import service_port, start_prometheus
from techex.stack.process import StackError
from techex.stack.prometheus import (
    PORTS,
    PrometheusServer,
    default_rule_files,
    ensure_prometheus,
    scrape_config,
)
from techex.stack.stack import REPO, SERVICES, Stack, run_sync
from tests.support.auction_processes import free_port


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.status, resp.read().decode()


@pytest.fixture
def listing(new_database, common, tmp_path):
    """``techex serve listing`` on a free port against a fresh database and the test Kafka;
    yields its base URL once /readyz answers."""
    port = free_port()
    env = {
        **os.environ,
        "LISTING_DATABASE_URL": run_sync(new_database()),
        "LISTING_PORT": str(port),
        "KAFKA_BOOTSTRAP_SERVERS": common.kafka_bootstrap_servers,
        "TECHEX_TOPIC_PREFIX": common.topic_prefix,
        "TECHEX_TOPIC_PARTITIONS": str(common.topic_partitions),
    }
    log_path = tmp_path / "listing.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "techex", "serve", "listing", "--port", str(port)],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
            try:
                if _get(base + "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "listing was not ready after 90 s"
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_prometheus_scrapes_a_running_service_and_answers_queries(listing, tmp_path):
    requests = 7
    for _ in range(requests):
        assert _get(listing + "/healthz")[0] == 200
    address = listing.removeprefix("http://")
    prom = PrometheusServer(tmp_path / "prometheus", PORTS["test"], {"listing": address},
                            scrape_interval="1s")
    with prom:
        assert _get(prom.url + "/-/ready")[0] == 200
        up = prom.wait_for('up{job="techex", service="listing"} == 1')
        assert up and up[0]["metric"]["instance"] == address

        promql = ('sum(techex_http_requests_total'
                  '{service="listing", route="/healthz", status="200"})')
        deadline = time.monotonic() + 30
        while True:
            result = prom.query(promql)
            value = int(float(result[0]["value"][1])) if result else 0
            if value == requests or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        assert value == requests

        # The alert rules are loaded and evaluated by this instance.
        groups = prom.api("rules")["groups"]
        loaded = {rule["name"] for group in groups for rule in group["rules"]}
        assert "TechexServiceDown" in loaded and "TechexOutboxStalled" in loaded
        assert prom.api("targets")["activeTargets"][0]["health"] == "up"
    assert not prom.running()


def test_a_bad_query_is_a_clear_error(tmp_path):
    with PrometheusServer(tmp_path / "prometheus", PORTS["test"], {}, rule_files=[]) as prom:
        with pytest.raises(StackError, match="bad_data"):
            prom.query("sum(")


def test_a_taken_port_is_refused(tmp_path):
    with PrometheusServer(tmp_path / "a", PORTS["test"], {}, rule_files=[]):
        other = PrometheusServer(tmp_path / "b", PORTS["test"], {}, rule_files=[])
        with pytest.raises(StackError, match="taken"):
            other.start()


def test_techex_up_runs_prometheus_on_the_profile_port_against_the_four_services(tmp_path):
    stack = Stack("test", env={**os.environ, "TECHEX_HOME": str(tmp_path)})
    prom = start_prometheus(stack)
    assert prom is not None
    try:
        assert prom.url == f"http://127.0.0.1:{PORTS['test']}"
        want = {s: f"http://127.0.0.1:{service_port(s)}/metrics" for s in SERVICES}
        deadline = time.monotonic() + 15  # discovery hands the targets over just after ready
        while True:
            active = prom.api("targets")["activeTargets"]
            targets = {t["labels"]["service"]: t["scrapeUrl"] for t in active}
            if targets == want or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert targets == want
    finally:
        prom.stop()


def test_default_rules_are_the_deploy_rules():
    assert [p.name for p in default_rule_files()] == ["techex.rules.yml"]


def test_scrape_config_labels_each_target_with_its_service():
    config = scrape_config({"listing": "127.0.0.1:8001", "auction": "127.0.0.1:8002"}, "1s")
    job = config["scrape_configs"][0]
    assert config["global"]["scrape_interval"] == "1s"
    assert job["static_configs"] == [
        {"targets": ["127.0.0.1:8001"], "labels": {"service": "listing"}},
        {"targets": ["127.0.0.1:8002"], "labels": {"service": "auction"}},
    ]


def test_the_binary_is_there_after_ensure():
    path = ensure_prometheus()
    out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "prometheus, version" in (out.stdout + out.stderr)
