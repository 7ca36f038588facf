"""The federation layout: which deployments run, on which ports, and what each one's local
MirrorMaker is told (the processes themselves: test_mirrormaker.py)."""

from __future__ import annotations

import json

import pytest

from techex.stack.federation import (
    FEDERATION_DIR,
    LOCAL_DEPLOYMENTS,
    MAX_DEPLOYMENTS,
    FederationStack,
)
from techex.stack.mirrormaker import mm2_properties, read_properties
from techex.stack.process import StackError
from techex.stack.stack import SERVICES


def layout(tmp_path, **kwargs) -> FederationStack:
    return FederationStack("dev", env={"TECHEX_HOME": str(tmp_path)}, **kwargs)


def test_the_default_layout_runs_two_provinces_and_the_hub_from_the_shipped_files(tmp_path):
    stack = layout(tmp_path)
    assert list(stack.deployments) == list(LOCAL_DEPLOYMENTS) == ["tianjin", "hebei", "national"]
    assert [d.bootstrap for d in stack.deployments.values()] == [
        "127.0.0.1:19040", "127.0.0.1:19050", "127.0.0.1:19060"]
    assert stack.deployment("national").federation.national_hub
    # Each keeps its data and its MirrorMaker's state apart.
    homes = {d.kafka.nodes[0].data_dir for d in stack.deployments.values()}
    assert len(homes) == 3 and all(str(tmp_path / "dev" / "federation") in str(h) for h in homes)


def test_ports_move_with_the_offset(tmp_path):
    stack = FederationStack("test", env={"TECHEX_HOME": str(tmp_path),
                                         "TECHEX_PORT_OFFSET": "6000"})
    hebei = stack.deployment("hebei")
    assert (hebei.ports.kafka, hebei.ports.controller) == (35050, 35051)
    assert hebei.ports.services == {"listing": 35054, "auction": 35055, "settlement": 35056,
                                    "registry": 35057, "records": 35059}


def test_local_partners_are_reached_on_their_local_cluster_and_others_left_out(tmp_path):
    stack = layout(tmp_path)
    hebei = stack.local_federation("hebei")
    # Hebei's file also names Heilongjiang, which this layout does not run.
    shipped = [p.alias for p in stack.deployment("hebei").federation.partners]
    assert "heilongjiang" in shipped
    assert [p.alias for p in hebei.partners] == ["tianjin", "national"]
    assert hebei.partner("tianjin").bootstrap == stack.deployment("tianjin").bootstrap
    assert hebei.partner("national").bootstrap == stack.deployment("national").bootstrap
    # What the partner file says besides the address stays as it is.
    original = stack.deployment("hebei").federation.partner("tianjin")
    assert hebei.partner("tianjin").jwks_url == original.jwks_url

    props = read_properties(mm2_properties(hebei, stack.deployment("hebei").bootstrap))
    assert props["clusters"] == "hebei, tianjin, national"
    assert props["tianjin.bootstrap.servers"] == "127.0.0.1:19040"


def test_a_deployment_without_a_partner_in_the_layout_runs_no_mirrormaker(tmp_path):
    stack = layout(tmp_path, deployments=("tianjin", "heilongjiang"))
    assert stack.deployment("tianjin").partners == []
    assert stack.deployment("heilongjiang").partners == []
    status = stack.status()
    assert status["mm2.tianjin"] == "none: no partner of it in this layout"
    assert status["kafka.heilongjiang"].startswith("down 127.0.0.1:19050 ")


def test_the_services_of_each_deployment_get_its_cluster_prefix_region_and_ports(tmp_path):
    stack = layout(tmp_path)
    envs = {alias: stack.service_env(alias) for alias in stack.deployments}
    assert envs["hebei"]["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:19050"
    assert envs["hebei"]["TECHEX_REGION"] == "130000"
    assert envs["national"]["TECHEX_REGION"] == "000000"
    ports = [env[f"{s.upper()}_PORT"] for env in envs.values() for s in SERVICES]
    assert len(set(ports)) == len(ports) == 3 * len(SERVICES)
    settings = stack.deployment("tianjin").settings()
    assert (settings.topic_prefix, settings.region) == ("techex", "120000")


def test_a_wrong_partner_file_stops_the_layout_with_its_errors(tmp_path):
    files = tmp_path / "files"
    files.mkdir()
    doc = json.loads((FEDERATION_DIR / "hebei.json").read_text())
    doc["partners"][0]["alias"] = "tian.jin"
    (files / "hebei.json").write_text(json.dumps(doc))
    with pytest.raises(StackError, match=r"hebei\.json is not a valid partner list:\n"
                                         r"  partners\.0\.alias: String should match pattern"):
        layout(tmp_path, deployments=("hebei",), directory=files)

    (files / "tianjin.json").write_text((FEDERATION_DIR / "hebei.json").read_text())
    with pytest.raises(StackError, match="names the deployment 'hebei', not 'tianjin'"):
        layout(tmp_path, deployments=("tianjin",), directory=files)
    with pytest.raises(StackError, match="No such file"):
        layout(tmp_path, deployments=("fujian",), directory=files)


def test_the_layout_has_room_for_a_few_distinct_deployments(tmp_path):
    with pytest.raises(StackError, match="distinct"):
        layout(tmp_path, deployments=("hebei", "hebei"))
    with pytest.raises(StackError, match=f"1 to {MAX_DEPLOYMENTS}"):
        layout(tmp_path, deployments=tuple(f"p{i}" for i in range(MAX_DEPLOYMENTS + 1)))
