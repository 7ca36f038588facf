"""A deployment's region and partner topics come from its federation file."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from shared.settings import CommonSettings

HEBEI = {
    "alias": "hebei", "name": "河北省", "region": "130000",
    "partners": [
        {"alias": "tianjin", "name": "天津市", "region": "120000",
         "bootstrap_servers": ["127.0.0.1:19040"]},
        {"alias": "national", "name": "全国技术转移网络", "region": "000000",
         "national_hub": True, "bootstrap_servers": ["127.0.0.1:19060"], "topic_prefix": "tt"},
    ],
}


@pytest.fixture
def hebei_file(tmp_path):
    path = tmp_path / "hebei.json"
    path.write_text(json.dumps(HEBEI, ensure_ascii=False), encoding="utf-8")
    return path


def test_without_a_federation_file_there_are_no_partners():
    settings = CommonSettings(_env_file=None)
    assert settings.federation is None
    assert settings.partner_topics("public.catalog") == {}


def test_the_region_is_the_federation_files(hebei_file):
    settings = CommonSettings(federation_file=hebei_file)
    assert settings.region == "130000"
    assert settings.federation.alias == "hebei"


def test_a_region_that_disagrees_with_the_file_is_refused(hebei_file):
    with pytest.raises(ValidationError, match="not the region of the federation file"):
        CommonSettings(federation_file=hebei_file, region="120000")
    assert CommonSettings(federation_file=hebei_file, region="130000").region == "130000"


def test_partner_topics_are_the_mirrored_names_with_each_partners_prefix(hebei_file):
    settings = CommonSettings(federation_file=hebei_file)
    assert settings.partner_topics("public.catalog") == {
        "tianjin.techex.public.catalog": "tianjin",
        "national.tt.public.catalog": "national",
    }


def test_a_broken_federation_file_names_the_field(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**HEBEI, "region": "130100"}), encoding="utf-8")
    with pytest.raises(ValidationError, match=r"bad\.json is not a valid partner list:\n"
                                              r"  region: a deployment serves"):
        CommonSettings(federation_file=path)
