"""deploy/compose.yaml: the compose-spec JSON Schema (check-jsonschema's vendored copy), then
what the schema cannot know: references, mounts, and the env names the services really read."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from services.listing.config import ListingSettings
from shared.settings import CommonSettings
from techex.cli import _service_settings, service_port
from techex.stack.stack import REPO, SERVICES

DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "compose.yaml"


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def check_schema(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(path)], capture_output=True, text=True, timeout=120)


def test_compose_file_matches_the_compose_spec():
    out = check_schema(COMPOSE)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_schema_check_rejects_a_mistake(tmp_path):
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text().replace("healthcheck:\n      test: [\"CMD-SHELL\", "
                                                  "\"pg_isready", "healthcheck:\n      tst: "
                                                  "[\"CMD-SHELL\", \"pg_isready", 1))
    assert broken.read_text() != COMPOSE.read_text()
    out = check_schema(broken)
    assert out.returncode != 0
    assert "tst" in out.stdout + out.stderr


def test_dependencies_exist_and_wait_for_health_checks():
    services = compose()["services"]
    for name, spec in services.items():
        for dep, how in spec.get("depends_on", {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            if how["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{dep} has no healthcheck"
        assert "healthcheck" in spec, f"{name} has no healthcheck"


def test_bind_mounts_exist():
    for name, spec in compose()["services"].items():
        for volume in spec.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"


@pytest.mark.parametrize("service", SERVICES)
def test_service_runs_the_image_against_kafka_and_its_own_database(service, monkeypatch):
    spec = compose()["services"][service]
    assert spec["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert spec["command"] == ["serve", service]
    port = service_port(service, {})
    assert spec["ports"] == [f"{port}:{port}"]
    assert f"127.0.0.1:{port}/readyz" in " ".join(spec["healthcheck"]["test"])
    assert {"kafka", "postgres"} <= set(spec["depends_on"])

    # The environment reaches the settings the service reads (names and prefixes are real).
    env = {k: str(v) for k, v in spec["environment"].items() if "${" not in str(v)}
    # The partner file is the one the service mounts from deploy/.
    mounts = dict(reversed(v.split(":")[:2]) for v in spec["volumes"])
    env["TECHEX_FEDERATION_FILE"] = str(DEPLOY / mounts[env["TECHEX_FEDERATION_FILE"]])
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    common = CommonSettings()
    assert common.kafka_bootstrap_servers == "kafka:9092"
    assert common.federation is not None and common.federation.region == common.region
    assert common.topic_prefix == env["TECHEX_TOPIC_PREFIX"]
    url = env[f"{service.upper()}_DATABASE_URL"]
    assert _service_settings(service).database_url == url
    database = url.rsplit("/", 1)[1]
    init = (DEPLOY / "postgres" / "init-databases.sql").read_text()
    assert f"CREATE DATABASE {database} " in init
    assert re.match(rf"postgresql://{database}:\w+@postgres:5432/{database}$", url)


def test_the_image_binds_all_interfaces(monkeypatch):
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    match = re.search(r"^ENV (LISTING_HOST=.*)$", dockerfile, re.M)
    assert match
    for pair in match.group(1).split():
        key, value = pair.split("=")
        monkeypatch.setenv(key, value)
    assert ListingSettings().host == "0.0.0.0"
    for service in SERVICES:
        assert _service_settings(service).host == "0.0.0.0"
    assert 'ENTRYPOINT ["techex"]' in dockerfile


def test_prometheus_and_grafana_get_the_deploy_files():
    services = compose()["services"]
    prom = services["prometheus"]["volumes"]
    assert "./prometheus/prometheus.compose.yml:/etc/prometheus/prometheus.yml:ro" in prom
    assert "./prometheus/rules:/etc/prometheus/rules:ro" in prom
    grafana = services["grafana"]
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    assert "./grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana["volumes"]
    assert grafana["environment"]["TECHEX_PROMETHEUS_URL"] == "http://prometheus:9090"


def test_kafka_runs_in_kraft_mode():
    kafka = compose()["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"


def test_auction_advertises_where_other_instances_forward_to(monkeypatch):
    env = compose()["services"]["auction"]["environment"]
    monkeypatch.setenv("AUCTION_ADVERTISED_URL", env["AUCTION_ADVERTISED_URL"])
    monkeypatch.setenv("AUCTION_HOST", "0.0.0.0")
    assert _service_settings("auction").own_url() == "http://auction:8002"


def env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as compose reads them (comments and blank lines skipped)."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def test_the_secrets_come_from_an_env_file_that_is_not_committed():
    services = compose()["services"]
    for service in SERVICES:
        spec = services[service]
        assert spec["env_file"] == [{"path": "techex.env", "required": True}], service
        assert not [k for k in spec["environment"] if "SECRET" in k], service
    ignored = subprocess.run(["git", "check-ignore", "-q", str(DEPLOY / "techex.env")],
                             cwd=REPO, timeout=30)
    assert ignored.returncode == 0, "deploy/techex.env must be ignored by git"
    tracked = subprocess.run(["git", "ls-files", "deploy/techex.env"], cwd=REPO,
                             capture_output=True, text=True, timeout=30)
    assert tracked.stdout == ""


def test_the_example_env_file_names_every_secret_and_none_is_usable(monkeypatch):
    from shared.settings import DEVELOPMENT_FLAG, InsecureSecrets, refuse_development_secrets

    example = env_file(DEPLOY / "techex.env.example")
    monkeypatch.delenv(DEVELOPMENT_FLAG, raising=False)
    monkeypatch.delenv("TECHEX_CLOCK_SHIFT_FILE", raising=False)
    for key, value in example.items():
        monkeypatch.setenv(key, value)
    refused: set[str] = set()
    for service in SERVICES:
        with pytest.raises(InsecureSecrets) as caught:
            refuse_development_secrets(CommonSettings(), _service_settings(service))
        refused |= set(caught.value.variables)
    # Every secret a service checks is in the example, and each one as given is refused.
    assert sorted(refused) == sorted(example)


def test_mirrormaker_mirrors_into_this_kafka_on_the_configuration_of_its_partner_file():
    from shared.federation import load_federation
    from techex.stack.kafka import kafka_version
    from techex.stack.mirrormaker import mm2_properties

    services = compose()["services"]
    mm2 = services["mirrormaker"]
    assert mm2["image"] == services["kafka"]["image"] == f"apache/kafka:{kafka_version()}"
    script, config, flag, alias = mm2["command"]
    assert script.endswith("/connect-mirror-maker.sh") and flag == "--clusters"
    assert mm2["depends_on"] == {"kafka": {"condition": "service_healthy"}}

    (mount,) = [v for v in mm2["volumes"] if v.split(":")[1] == config]
    source = DEPLOY / mount.split(":")[0]
    federation = load_federation(DEPLOY / "federation" / f"{alias}.json")
    assert source.read_text() == mm2_properties(federation, "kafka:9092", brokers=1)
    # The deployment the services are by default.
    region = services["listing"]["environment"]["TECHEX_REGION"]
    assert region == f"${{TECHEX_REGION:-{federation.region}}}"
    assert "--bootstrap-server kafka:9092 --topic heartbeats" in mm2["healthcheck"]["test"][1]
