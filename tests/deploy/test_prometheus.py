"""deploy/prometheus: the three scrape configs and the alert rules, through promtool."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from techex.cli import service_port
from techex.stack.stack import REPO, SERVICES

PROM = REPO / "deploy" / "prometheus"
RULES = PROM / "rules" / "techex.rules.yml"
CONFIGS = ["prometheus.yml", "prometheus.compose.yml", "prometheus.k8s.yml"]

# What the brief of each alert is about; every one must exist and be unit-tested.
REQUIRED_ALERTS = {
    "TechexServiceDown", "TechexHttpErrorRateHigh", "TechexConsumerLagHigh",
    "TechexOutboxStalled", "TechexDeadLettersGrowing", "TechexDeadlinesFiringLate",
    "TechexDeadlinesOverdue", "TechexPaymentsOverdue", "TechexRegistrationsOverdue",
    "TechexArchiveFallingBehind", "TechexArchiveDigestMissing",
}


def run(*cmd: str, cwd: Path = PROM) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)


def alerts() -> list[dict]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


@pytest.mark.parametrize("config", CONFIGS)
def test_scrape_config_passes_promtool(promtool_bin, config):
    out = run(promtool_bin, "check", "config", config)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 rule files found" in out.stdout


def test_rules_pass_promtool(promtool_bin):
    out = run(promtool_bin, "check", "rules", str(RULES))
    assert out.returncode == 0, out.stdout + out.stderr


def test_rule_unit_tests_pass(promtool_bin):
    tests = sorted(str(p) for p in (PROM / "tests").glob("*.yml"))
    assert tests
    out = run(promtool_bin, "test", "rules", *tests)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_promtool_unit_tests_catch_a_wrong_expectation(promtool_bin, tmp_path):
    """The unit tests compare for real: the same file with one expected value changed fails."""
    source = (PROM / "tests" / "alerts.test.yml").read_text()
    broken = source.replace("settlement is 1200 events behind", "settlement is 999 events behind")
    assert broken != source
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / RULES.name).write_text(RULES.read_text())
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "alerts.test.yml").write_text(broken)
    out = run(promtool_bin, "test", "rules", "tests/alerts.test.yml", cwd=tmp_path)
    assert out.returncode != 0
    assert "TechexConsumerLagHigh" in out.stdout + out.stderr


def test_every_alert_has_severity_summary_runbook_and_a_unit_test():
    tested = set()
    for path in (PROM / "tests").glob("*.yml"):
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                if check["exp_alerts"]:
                    tested.add(check["alertname"])
    names = set()
    for rule in alerts():
        names.add(rule["alert"])
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert len(rule["annotations"]["description"]) > 120, rule["alert"]
    assert names >= REQUIRED_ALERTS
    assert names == tested, f"alerts never shown firing: {names - tested}"


def test_embedded_config_scrapes_each_service_on_its_default_port():
    config = yaml.safe_load((PROM / "prometheus.yml").read_text())
    static = config["scrape_configs"][0]["static_configs"]
    got = {entry["labels"]["service"]: entry["targets"][0] for entry in static}
    assert got == {s: f"127.0.0.1:{service_port(s, {})}" for s in SERVICES}


def test_compose_config_scrapes_the_compose_services():
    config = yaml.safe_load((PROM / "prometheus.compose.yml").read_text())
    static = config["scrape_configs"][0]["static_configs"]
    got = {entry["labels"]["service"]: entry["targets"][0] for entry in static}
    assert got == {s: f"{s}:{service_port(s, {})}" for s in SERVICES}
