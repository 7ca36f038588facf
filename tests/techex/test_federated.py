"""The federation run on one machine, without starting it: what runs where, on which ports,
with which environment, partner files and token keys."""

from __future__ import annotations

import socket
import stat
import subprocess
import sys

import jwt
import pytest

from shared.auth import TokenVerifier, public_jwk
from shared.federation import load_federation
from shared.settings import CommonSettings
from techex.federated import (
    HUB_SERVICES,
    FederationLayout,
)
from techex.stack.process import StackError
from techex.stack.stack import REPO, SERVICES


def layout(tmp_path, profile: str = "dev", **env: str) -> FederationLayout:
    return FederationLayout(profile, env={"TECHEX_HOME": str(tmp_path), **env})


def test_provinces_run_five_services_and_the_hub_only_listing_and_registry(tmp_path):
    fed = layout(tmp_path)
    assert fed.aliases == ["tianjin", "hebei", "national"]
    assert fed.services("tianjin") == fed.services("hebei") == SERVICES
    assert fed.services("national") == HUB_SERVICES == ("listing", "registry")
    assert fed.processes("national") == ("listing", "registry", "portal")
    assert "national.auction" not in fed.names() and "national.settlement" not in fed.names()
    assert len(fed.names()) == 6 + 6 + 3


def test_ports_of_each_block_and_the_offset(tmp_path):
    fed = layout(tmp_path, "test", TECHEX_PORT_OFFSET="1900")
    assert fed.urls("hebei") == {
        "listing": "http://127.0.0.1:30954", "auction": "http://127.0.0.1:30955",
        "settlement": "http://127.0.0.1:30956", "registry": "http://127.0.0.1:30957",
        "records": "http://127.0.0.1:30959", "portal": "http://127.0.0.1:30958"}
    assert fed.port("national", "portal") == 30968
    dev = layout(tmp_path)
    assert [dev.port(a, "listing") for a in dev.aliases] == [19044, 19054, 19064]
    assert [dev.port(a, "portal") for a in dev.aliases] == [19048, 19058, 19068]
    # The PostgreSQL is the profile's one, moved like its other ports.
    assert fed.postgres.port == 25432 + 1900 and dev.postgres.port == 15432


def test_each_process_gets_its_deployments_cluster_region_databases_key_and_clock(tmp_path):
    fed = layout(tmp_path)
    env = fed.env_of("hebei")
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:19050"
    assert env["TECHEX_REGION"] == "130000" and env["TECHEX_TOPIC_PREFIX"] == "techex"
    assert env["LISTING_PORT"] == "19054" and env["REGISTRY_PORT"] == "19057"
    assert env["LISTING_DATABASE_URL"] == "postgresql://techex@127.0.0.1:15432/techex_hebei_listing"
    assert env["TECHEX_FEDERATION_FILE"] == str(tmp_path / "dev" / "federation" / "hebei.json")
    assert env["TECHEX_JWT_ISSUER"] == "http://127.0.0.1:19054"
    assert env["TECHEX_JWT_PUBLIC_KEY"].startswith("-----BEGIN PUBLIC KEY-----")
    assert env["PORTAL_PORT"] == "19058"
    assert env["PORTAL_LISTING_URL"] == "http://127.0.0.1:19054"
    # One clock for every deployment: the profile's, which `techex clock` moves.
    clocks = {fed.env_of(a)["TECHEX_CLOCK_SHIFT_FILE"] for a in fed.aliases}
    assert clocks == {str(tmp_path / "dev" / "clock-shift")}
    hub = fed.env_of("national")
    assert hub["TECHEX_REGION"] == "000000"
    assert "AUCTION_DATABASE_URL" not in hub and "REGISTRY_DATABASE_URL" in hub
    # Keys and databases are each deployment's own.
    assert len({fed.env_of(a)["TECHEX_JWT_PUBLIC_KEY"] for a in fed.aliases}) == 3
    urls = [fed.database_url(a, s) for a in fed.aliases for s in fed.services(a)]
    assert len(set(urls)) == len(urls) == 12


def test_the_callers_token_settings_do_not_leak_into_a_deployment(tmp_path):
    fed = layout(tmp_path, TECHEX_JWKS_URL="http://elsewhere/jwks.json",
                 TECHEX_JWT_ISSUER="someone", TECHEX_FEDERATION_FILE="/nowhere.json")
    env = fed.process_env("tianjin")
    assert "TECHEX_JWKS_URL" not in env
    assert env["TECHEX_JWT_ISSUER"] == fed.issuer("tianjin")
    assert env["TECHEX_FEDERATION_FILE"] == str(fed.federation_file("tianjin"))


def test_the_local_partner_files_name_the_local_partners_clusters_and_issuers(tmp_path):
    fed = layout(tmp_path)
    fed.write_federation_files()
    hebei = load_federation(fed.federation_file("hebei"))  # validates as any partner file
    assert hebei.alias == "hebei" and hebei.region == "130000"
    assert [p.alias for p in hebei.partners] == ["tianjin", "national"]  # no Heilongjiang
    tianjin = hebei.partner("tianjin")
    assert tianjin.bootstrap == "127.0.0.1:19040"
    assert tianjin.token_issuer == "http://127.0.0.1:19044"
    assert str(tianjin.jwks_url) == "http://127.0.0.1:19044/.well-known/jwks.json"
    hub = load_federation(fed.federation_file("national"))
    assert hub.national_hub and [p.alias for p in hub.partners] == ["tianjin", "hebei"]
    # A service reads its region from it.
    settings = CommonSettings(federation_file=fed.federation_file("hebei"))
    assert settings.region == "130000"
    assert settings.partner_topics("public.catalog") == {
        "tianjin.techex.public.catalog": "tianjin", "national.techex.public.catalog": "national"}


def test_a_deployment_without_a_partner_in_the_layout_gets_no_partner_file(tmp_path):
    fed = FederationLayout("dev", env={"TECHEX_HOME": str(tmp_path)},
                           deployments=("tianjin", "heilongjiang"))
    fed.write_federation_files()
    assert fed.local_federation("tianjin") is None
    assert not fed.federation_file("tianjin").exists()
    assert "TECHEX_FEDERATION_FILE" not in fed.env_of("tianjin")
    assert fed.env_of("tianjin")["TECHEX_REGION"] == "120000"


def test_keys_are_made_once_private_and_sign_tokens_the_deployments_services_accept(tmp_path):
    fed = layout(tmp_path)
    key = fed.key("tianjin")
    assert stat.S_IMODE(key.private_file.stat().st_mode) == 0o600
    again = layout(tmp_path).key("tianjin")
    assert again.private_pem == key.private_pem and again.kid == key.kid

    token = fed.token("tianjin", "seller", "120100", "nankai")
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": key.kid, "typ": "JWT"}
    common = CommonSettings(jwt_public_key=fed.env_of("tianjin")["TECHEX_JWT_PUBLIC_KEY"],
                            jwt_issuer=fed.issuer("tianjin"))
    principal = TokenVerifier.from_settings(common).verify(token)
    assert (principal.subject, principal.role, str(principal.region)) == (
        "nankai", "seller", "120100")
    assert set(principal.claims) == {"iss", "aud", "sub", "role", "region", "iat", "exp"}
    # Hebei's services refuse it: another key (and another issuer).
    hebei = CommonSettings(jwt_public_key=fed.env_of("hebei")["TECHEX_JWT_PUBLIC_KEY"],
                           jwt_issuer=fed.issuer("tianjin"))
    with pytest.raises(Exception, match="signature"):
        TokenVerifier.from_settings(hebei).verify(token)


def test_the_public_jwk_round_trips_to_the_same_key(tmp_path):
    key = layout(tmp_path).key("hebei")
    jwk = public_jwk(key.public_pem)
    assert jwk["kid"] == key.kid and jwk["kty"] == "EC" and jwk["crv"] == "P-256"
    token = key.sign({"sub": "x"})
    assert jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["ES256"]) == {"sub": "x"}


def test_the_token_command_signs_with_a_deployments_key(tmp_path):
    env = {"TECHEX_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-m", "techex", "token", "--deployment", "hebei", "--role", "buyer",
         "--region", "130100", "--subject", "hbu"],
        cwd=REPO, env=env, capture_output=True, text=True, check=True).stdout.strip()
    fed = layout(tmp_path)
    claims = jwt.decode(out, fed.key("hebei").public_pem, algorithms=["ES256"],
                        audience="techex", issuer=fed.issuer("hebei"))
    assert (claims["sub"], claims["role"], claims["region"]) == ("hbu", "buyer", "130100")
    bad = subprocess.run(
        [sys.executable, "-m", "techex", "token", "--deployment", "shanghai", "--role", "buyer",
         "--region", "310000"], cwd=REPO, env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "no deployment 'shanghai'" in bad.stderr


def test_describe_names_every_portal_api_and_a_token_command(tmp_path):
    text = "\n".join(layout(tmp_path, "test").describe())
    assert "http://127.0.0.1:29048" in text and "http://127.0.0.1:29068" in text
    assert "http://127.0.0.1:29054/docs" in text
    assert "bin/techex token --deployment hebei --profile test --role operator" in text
    assert "29065" not in text  # the hub runs no auction


def test_a_second_run_is_refused_while_the_first_one_listens(tmp_path):
    fed = layout(tmp_path, "test", TECHEX_PORT_OFFSET="1900")
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", fed.port("hebei", "registry")))
        taken.listen()
        with pytest.raises(StackError, match=r"hebei.registry \(30957\).*running already"):
            fed.start()
    assert fed.procs == {}  # nothing was started
