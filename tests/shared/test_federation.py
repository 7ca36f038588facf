"""The partner list: the shipped examples, and every way a file can be wrong being named."""

from __future__ import annotations

import copy
import json

import pytest

from shared.federation import (
    NATIONAL_REGION,
    Federation,
    InvalidFederation,
    load_federation,
    mirrored_topic,
    parse_federation,
    public_topic,
    public_topics_pattern,
)
from shared.regions import Region
from techex.stack.stack import REPO

EXAMPLES = REPO / "deploy" / "federation"
GOOD = {
    "alias": "hebei", "name": "河北省", "region": "130000",
    "partners": [{"alias": "tianjin", "name": "天津市", "region": "120000",
                  "bootstrap_servers": ["kafka-0.tianjin.example:9094"],
                  "token_issuer": "https://auth.tianjin.example",
                  "jwks_url": "https://auth.tianjin.example/.well-known/jwks.json"}],
}


def examples() -> dict[str, Federation]:
    return {p.stem: load_federation(p) for p in sorted(EXAMPLES.glob("*.json"))}


def with_change(path: str, value) -> dict:
    """GOOD with one field set (``partners.0.alias``); ``...`` deletes it."""
    doc = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    node = doc
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return doc


def errors(doc) -> list[tuple[str, str]]:
    with pytest.raises(InvalidFederation) as caught:
        parse_federation(doc, "test.json")
    assert str(caught.value).startswith("test.json is not a valid partner list:\n  ")
    return [(e["field"], e["message"]) for e in caught.value.errors]


def test_the_examples_are_valid_and_named_after_their_deployment():
    found = examples()
    assert {"tianjin", "hebei", "national"} <= set(found)
    for stem, federation in found.items():
        assert federation.alias == stem
        assert federation.topic_prefix == "techex"
    assert found["tianjin"].region == "120000" and found["hebei"].region == "130000"
    assert found["national"].region == NATIONAL_REGION and found["national"].national_hub


def test_the_hub_mirrors_every_province_and_京津冀_mirror_each_other():
    found = examples()
    provinces = {alias for alias, f in found.items() if not f.national_hub}
    assert {p.alias for p in found["national"].partners} == provinces
    assert "hebei" in {p.alias for p in found["tianjin"].partners}
    assert "tianjin" in {p.alias for p in found["hebei"].partners}
    # What one file says of a deployment is what that deployment's own file says.
    for federation in found.values():
        for partner in federation.partners:
            if partner.alias in found:
                own = found[partner.alias]
                assert (partner.region, partner.name, partner.national_hub,
                        partner.topic_prefix) == (own.region, own.name, own.national_hub,
                                                  own.topic_prefix)
            assert partner.token_issuer and partner.jwks_url


def test_a_valid_file_reads_into_the_model():
    federation = parse_federation(json.dumps(GOOD, ensure_ascii=False))
    tianjin = federation.partner("tianjin")
    assert tianjin.bootstrap == "kafka-0.tianjin.example:9094"
    assert str(tianjin.jwks_url).endswith("/jwks.json")
    assert federation.topic_prefix == "techex" and not federation.national_hub
    with pytest.raises(KeyError):
        federation.partner("fujian")


def test_public_topics_and_their_mirrored_names():
    assert public_topic("techex", "catalog") == "techex.public.catalog"
    assert mirrored_topic("tianjin", "techex.public.catalog") == "tianjin.techex.public.catalog"
    assert public_topics_pattern("techex") == r"techex\.public\..*"
    assert parse_federation(GOOD).public_topics_pattern() == r"techex\.public\..*"


@pytest.mark.parametrize(("path", "value", "field", "says"), [
    ("alias", "he.bei", "alias", "String should match pattern"),
    ("alias", "Hebei", "alias", "String should match pattern"),
    ("alias", "hebei-", "alias", "String should match pattern"),
    ("alias", "x" * 33, "alias", "String should match pattern"),
    ("region", "130100", "region", "provincial-level division (PP0000)"),
    ("region", "990000", "region", "990000"),
    ("region", "13", "region", "13"),
    ("name", "", "name", "at least 1 character"),
    ("topic_prefix", "tech.ex", "topic_prefix", "String should match pattern"),
    ("partners", [], "partners", "at least 1 item"),
    ("partners.0.bootstrap_servers", [], "partners.0.bootstrap_servers", "at least 1 item"),
    ("partners.0.bootstrap_servers", ["kafka:0"], "partners.0.bootstrap_servers.0",
     "'kafka:0' is not host:port"),
    ("partners.0.bootstrap_servers", ["kafka:70000"], "partners.0.bootstrap_servers.0",
     "not host:port"),
    ("partners.0.bootstrap_servers", ["kafka"], "partners.0.bootstrap_servers.0",
     "not host:port"),
    ("partners.0.bootstrap_servers", "kafka:9092", "partners.0.bootstrap_servers",
     "valid list"),
    ("partners.0.jwks_url", "not a url", "partners.0.jwks_url", "URL"),
    ("partners.0.jwks_url", ..., "partners.0", "token_issuer and jwks_url go together"),
    ("partners.0.region", ..., "partners.0.region", "Field required"),
    ("partners.0.colour", "blue", "partners.0.colour", "Extra inputs are not permitted"),
    ("national_hub", True, "", f"national_hub is true exactly when the region is "
                               f"{NATIONAL_REGION}"),
    ("partners.0.region", NATIONAL_REGION, "partners.0", "national_hub is true exactly"),
])
def test_each_mistake_is_named_with_its_field(path, value, field, says):
    found = errors(with_change(path, value))
    assert [m for f, m in found if f == field and says in m], found


def test_deployments_are_distinct_and_aliases_never_read_as_topic_segments():
    doc = with_change("partners.0.alias", "hebei")
    assert "repeated: hebei" in errors(doc)[0][1]
    doc = with_change("partners.0.region", "130000")
    assert "own region; repeated: 130000" in errors(doc)[0][1]
    doc = copy.deepcopy(GOOD)
    doc["partners"].append(copy.deepcopy(doc["partners"][0]) | {"region": "110000"})
    assert "repeated: tianjin" in errors(doc)[0][1]
    for alias in ("techex", "public"):
        message = errors(with_change("partners.0.alias", alias))[0][1]
        assert f"must not be a topic prefix or 'public': {alias}" in message


def test_a_hub_and_its_region_go_together():
    hub = with_change("region", NATIONAL_REGION) | {"national_hub": True}
    assert parse_federation(hub).national_hub
    assert Region.known("110000")  # a province code is fine for a partner of the hub
    assert parse_federation(with_change("partners.0.region", "110000")).partners[0].region


def test_a_file_that_is_no_json_or_missing_is_named(tmp_path):
    path = tmp_path / "hebei.json"
    path.write_text('{"alias": "hebei",')
    with pytest.raises(InvalidFederation, match=r"hebei\.json is not a valid partner list:\n"
                                                 r"  \(file\): Invalid JSON"):
        load_federation(path)
    with pytest.raises(InvalidFederation, match="No such file or directory"):
        load_federation(tmp_path / "fujian.json")


def test_a_partners_portal_gives_the_url_of_a_page_of_it() -> None:
    doc = with_change("partners.0.portal_url", "https://jishu.tianjin.example/")
    partner = parse_federation(doc).partner("tianjin")
    assert partner.page("/achievements/42") == "https://jishu.tianjin.example/achievements/42"
    assert parse_federation(GOOD).partner("tianjin").page("/achievements/42") is None
    with pytest.raises(InvalidFederation, match="portal_url"):
        parse_federation(with_change("partners.0.portal_url", "javascript:alert(1)"))
