"""deploy/k8s and deploy/kustomization.yaml: every object against the Kubernetes OpenAPI
schemas in strict mode (kubernetes-validate ships them, so this runs offline), then the
references between objects and the settings the services read."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from shared.settings import CommonSettings
from techex.cli import _service_settings, service_port
from techex.stack.stack import REPO, SERVICES

DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
KUSTOMIZATION = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
# The oldest Kubernetes release the manifests promise to work on, and the newest known here.
VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]


def documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def manifests() -> list[tuple[str, dict]]:
    return [(p.name, d) for p in sorted(K8S.glob("*.yaml")) for d in documents(p)]


def generated_config_maps() -> list[dict]:
    """The ConfigMaps kustomize makes of the monitoring files (configMapGenerator)."""
    out = []
    for gen in KUSTOMIZATION["configMapGenerator"]:
        data = {}
        for entry in gen["files"]:
            key, _, source = entry.rpartition("=")
            data[key or Path(source).name] = (DEPLOY / source).read_text()
        out.append({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": gen["name"], "namespace": KUSTOMIZATION["namespace"]},
                    "data": data})
    return out


def by_kind(kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for _, d in manifests() if d["kind"] == kind}


@pytest.mark.parametrize("version", VERSIONS)
def test_every_object_passes_the_strict_schema(version):
    objects = [d for _, d in manifests()] + generated_config_maps()
    assert len(objects) >= 20
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)


def test_the_strict_schema_rejects_a_misspelt_field():
    deployment = documents(K8S / "listing.yaml")[0]
    probe = deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    probe["httpGett"] = probe.pop("httpGet")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, VERSIONS[-1], strict=True)


def test_kustomization_lists_every_manifest_but_the_secret_example():
    listed = {Path(r).name for r in KUSTOMIZATION["resources"]}
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"secret.example.yaml"}
    for _, doc in manifests():
        assert doc["kind"] == "Namespace" or doc["metadata"]["namespace"] == "techex"


def test_references_resolve():
    config_maps = set(by_kind("ConfigMap")) | {c["metadata"]["name"]
                                               for c in generated_config_maps()}
    secret = documents(K8S / "secret.example.yaml")[0]
    secret_keys = set(secret["stringData"])
    deployments = by_kind("Deployment")
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= \
            deployment["spec"]["template"]["metadata"]["labels"].items()
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps, (name, volume)
        for container in pod["containers"]:
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in config_maps
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == secret["metadata"]["name"]
                    assert ref["key"] in secret_keys, (name, ref)
    for name, service in by_kind("Service").items():
        selector = service["spec"]["selector"]["app.kubernetes.io/name"]
        assert selector in deployments, name
    for name, hpa in by_kind("HorizontalPodAutoscaler").items():
        assert hpa["spec"]["scaleTargetRef"]["name"] in deployments, name


@pytest.mark.parametrize("service", SERVICES)
def test_service_deployment(service, monkeypatch, tmp_path):
    deployment = by_kind("Deployment")[service]
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    port = service_port(service, {})
    assert container["args"] == ["serve", service]
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port)

    # What the pod's environment holds reaches the settings the service reads.
    env = dict(by_kind("ConfigMap")["techex-config"]["data"])
    env.update(documents(K8S / "secret.example.yaml")[0]["stringData"])
    wanted = {e["name"] for e in container["env"]}
    assert {"TECHEX_JWT_SECRET", f"{service.upper()}_DATABASE_URL"} <= wanted
    # The partner file comes from the techex-federation ConfigMap, mounted where it is named.
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["federation"]["configMap"]["name"] == "techex-federation"
    directory, file = env["TECHEX_FEDERATION_FILE"].rsplit("/", 1)
    assert mounts["federation"] == directory
    [generated] = [g for g in generated_config_maps() if g["metadata"]["name"]
                   == "techex-federation"]
    partners = tmp_path / file
    partners.write_text(generated["data"][file])
    env["TECHEX_FEDERATION_FILE"] = str(partners)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = _service_settings(service)
    assert settings.host == "0.0.0.0"
    assert settings.database_url == env[f"{service.upper()}_DATABASE_URL"]
    common = CommonSettings()
    assert common.kafka_bootstrap_servers == env["KAFKA_BOOTSTRAP_SERVERS"]
    assert common.jwt_secret == env["TECHEX_JWT_SECRET"]
    assert common.federation is not None and common.federation.region == common.region

    headless = by_kind("Service")[f"{service}-pods"]["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True


def test_autoscaling_for_auction_and_listing_within_the_partitions():
    hpas = by_kind("HorizontalPodAutoscaler")
    assert set(hpas) == {"auction", "listing"}
    partitions = int(by_kind("ConfigMap")["techex-config"]["data"]["TECHEX_TOPIC_PARTITIONS"])
    for hpa in hpas.values():
        assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"] <= partitions


def test_prometheus_finds_each_service_through_its_headless_service():
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.k8s.yml").read_text())
    sd = config["scrape_configs"][0]["dns_sd_configs"]
    got = {entry["names"][0]: entry["port"] for entry in sd}
    assert got == {f"{s}-pods.techex.svc.cluster.local": service_port(s, {}) for s in SERVICES}
    prometheus = by_kind("Deployment")["prometheus"]["spec"]["template"]["spec"]
    mounts = {m["name"]: m["mountPath"] for m in prometheus["containers"][0]["volumeMounts"]}
    assert mounts["rules"] == "/etc/prometheus/rules"


def test_auction_pods_advertise_their_own_address_for_forwarding(monkeypatch):
    (container,) = by_kind("Deployment")["auction"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    # Kubernetes expands $(POD_IP) from the variable defined before it.
    names = [e["name"] for e in container["env"]]
    assert names.index("POD_IP") < names.index("AUCTION_ADVERTISED_URL")
    value = env["AUCTION_ADVERTISED_URL"]["value"].replace("$(POD_IP)", "10.1.2.3")
    monkeypatch.setenv("AUCTION_ADVERTISED_URL", value)
    monkeypatch.setenv("AUCTION_HOST", "0.0.0.0")
    assert _service_settings("auction").own_url() == "http://10.1.2.3:8002"


def test_every_secret_comes_from_the_secret_and_the_example_holds_no_usable_one(monkeypatch):
    from shared.settings import DEVELOPMENT_FLAG, InsecureSecrets, refuse_development_secrets

    assert not any("SECRET" in k for k in by_kind("ConfigMap")["techex-config"]["data"])
    monkeypatch.delenv(DEVELOPMENT_FLAG, raising=False)
    monkeypatch.delenv("TECHEX_CLOCK_SHIFT_FILE", raising=False)
    for key, value in documents(K8S / "secret.example.yaml")[0]["stringData"].items():
        monkeypatch.setenv(key, value)
    refused = {}
    for service in SERVICES:
        (container,) = by_kind("Deployment")[service]["spec"]["template"]["spec"]["containers"]
        refs = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"]
                if "secretKeyRef" in e.get("valueFrom", {})}
        with pytest.raises(InsecureSecrets) as caught:
            refuse_development_secrets(CommonSettings(), _service_settings(service))
        # Each secret the service checks reaches its pod from the Secret, under its own name.
        assert {v: v for v in caught.value.variables}.items() <= refs.items(), service
        refused[service] = caught.value.variables
    assert refused["settlement"] == ["TECHEX_JWT_SECRET", "SETTLEMENT_BANK_CALLBACK_SECRET"]
    assert refused["records"] == ["TECHEX_JWT_SECRET", "RECORDS_SIGNING_KEY"]


def test_no_deploy_file_carries_a_development_secret():
    from services.settlement.config import SettlementSettings
    from shared.settings import DEVELOPMENT_JWT_SECRET

    known = [DEVELOPMENT_JWT_SECRET,
             SettlementSettings.model_fields["bank_callback_secret"].default]
    for path in DEPLOY.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert not [s for s in known if s in text], path


def test_mirrormaker_runs_the_brokers_release_on_the_configuration_of_its_partner_file():
    from shared.federation import load_federation
    from techex.stack.kafka import kafka_version
    from techex.stack.mirrormaker import mm2_properties

    deployment = by_kind("Deployment")["mirrormaker"]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == f"apache/kafka:{kafka_version()}"
    script, config, flag, alias = container["command"]
    assert script.endswith("/connect-mirror-maker.sh") and flag == "--clusters"

    # The mounted mm2.properties is the one its partner file makes for this cluster's Kafka.
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    (name,) = [n for n, path in mounts.items() if config.startswith(path + "/")]
    generated = {c["metadata"]["name"]: c for c in generated_config_maps()}
    data = generated[volumes[name]["configMap"]["name"]]["data"]
    federation = load_federation(DEPLOY / "federation" / f"{alias}.json")
    env = by_kind("ConfigMap")["techex-config"]["data"]
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    assert data[config.rsplit("/", 1)[1]] == mm2_properties(federation, bootstrap, brokers=3)
    assert federation.region == env["TECHEX_REGION"]  # the deployment the services are

    # Its probes watch its heartbeats in this cluster; the root file system stays read-only.
    for probe in ("startupProbe", "livenessProbe"):
        command = " ".join(container[probe]["exec"]["command"])
        assert f"--bootstrap-server {bootstrap} --topic heartbeats" in command
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert mounts["tmp"] == "/tmp" and "emptyDir" in volumes["tmp"]
    assert {e["name"]: e["value"] for e in container["env"]}["LOG_DIR"].startswith("/tmp/")
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
