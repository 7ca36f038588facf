"""deploy/grafana: provisioning and the exchange dashboard; every query parsed by promtool."""

from __future__ import annotations

import json
import re
import subprocess

import yaml

from techex.stack.stack import REPO

GRAFANA = REPO / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "techex-exchange.json"

# The metrics the services expose (shared/metrics.py, shared/scheduler.py, services/*/metrics).
KNOWN_METRICS = {
    "up",
    "techex_http_requests_total", "techex_http_request_duration_seconds",
    "techex_events_published_total", "techex_events_consumed_total",
    "techex_events_failed_total", "techex_events_dead_lettered_total",
    "techex_event_handler_seconds", "techex_consumer_lag", "techex_outbox_backlog",
    "techex_outbox_oldest_age_seconds", "techex_outbox_relay_active",
    "techex_deadlines_pending", "techex_deadlines_overdue", "techex_deadlines_fired_total",
    "techex_deadline_lateness_seconds", "techex_listing_listings",
    "techex_listing_commands_total", "techex_listing_search_seconds",
    "techex_auction_bids_total", "techex_auction_bid_seconds",
    "techex_auction_extensions_total", "techex_auction_procedures", "techex_auction_owned",
    "techex_auction_batch_size", "techex_settlement_settled_fen_total",
    "techex_settlement_deposits_held_fen", "techex_settlement_overdue_payments",
    "techex_settlement_subsidies_assessed_fen_total", "techex_registry_turnover_fen_total",
    "techex_registry_filings_pending", "techex_registry_filings_overdue",
    "techex_records_archived_total", "techex_records_chain_length",
    "techex_records_archive_delay_seconds", "techex_records_digest",
    "techex_records_certificates_total", "techex_records_certificates_cancelled_total",
}
# What an operator of the exchange must see on the dashboard.
SHOWN = {
    "techex_listing_listings", "techex_auction_bids_total", "techex_auction_procedures",
    "techex_auction_bid_seconds", "techex_settlement_settled_fen_total",
    "techex_settlement_deposits_held_fen", "techex_registry_turnover_fen_total",
    "techex_registry_filings_pending", "techex_registry_filings_overdue",
    "techex_settlement_overdue_payments", "techex_consumer_lag", "techex_outbox_backlog",
    "techex_outbox_oldest_age_seconds", "techex_events_dead_lettered_total",
    "techex_http_requests_total", "techex_http_request_duration_seconds",
    "techex_records_chain_length", "techex_records_archive_delay_seconds",
    "techex_records_digest", "techex_records_certificates_total",
    "techex_records_certificates_cancelled_total",
}
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def all_panels(panels: list[dict]) -> list[dict]:
    out = []
    for panel in panels:
        out.append(panel)
        out.extend(all_panels(panel.get("panels", [])))
    return out


def queries() -> list[tuple[int, str, str]]:
    return [(p["id"], t["refId"], t["expr"])
            for p in all_panels(dashboard()["panels"]) for t in p.get("targets", [])]


def test_dashboard_shape():
    dash = dashboard()
    assert isinstance(dash["schemaVersion"], int) and dash["schemaVersion"] >= 36
    assert dash["uid"] and dash["title"]
    ids = [p["id"] for p in all_panels(dash["panels"])]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    assert len(queries()) >= 20


def test_panels_use_the_provisioned_datasource():
    provisioned = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    (datasource,) = provisioned["datasources"]
    assert datasource["type"] == "prometheus"
    for panel in all_panels(dashboard()["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": datasource["uid"]}, panel
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == datasource["uid"]


def test_panels_do_not_overlap():
    taken: set[tuple[int, int]] = set()
    for panel in all_panels(dashboard()["panels"]):
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24
        cells = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"])
                 for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not cells & taken, panel["title"]
        taken |= cells


def test_the_dashboard_shows_what_operators_need_and_only_real_metrics():
    used = set()
    for _, _, expr in queries():
        for name in re.findall(r"\b(techex_[a-z_]+|up)\b(?=\s*[{\[)])", expr):
            used.add(re.sub(r"_(bucket|sum|count)$", "", name))
    assert used <= KNOWN_METRICS, f"unknown metrics: {used - KNOWN_METRICS}"
    assert used >= SHOWN, f"not on the dashboard: {SHOWN - used}"


def test_every_query_parses(promtool_bin, tmp_path):
    """Each panel's PromQL, Grafana's variables filled in, as a recording rule for promtool."""
    rules = []
    for panel_id, ref, expr in queries():
        for var, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(var, value)
        assert "$" not in expr, f"panel {panel_id}: unknown variable in {expr}"
        rules.append({"record": f"techex:panel_{panel_id}_{ref}", "expr": expr})
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    out = subprocess.run([promtool_bin, "check", "rules", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(rules)} rules found" in out.stdout


def test_a_broken_query_would_be_caught(promtool_bin, tmp_path):
    path = tmp_path / "broken.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [
        {"record": "techex:broken",
         "expr": "sum by (service (rate(techex_http_requests_total[1m]))"},
    ]}]}))
    out = subprocess.run([promtool_bin, "check", "rules", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0


def test_dashboard_provider_points_at_a_directory():
    config = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "techex.yml").read_text())
    (entry,) = config["providers"]
    assert entry["type"] == "file"
    assert entry["options"]["path"] == "/var/lib/grafana/dashboards"
