"""Partners' tokens: a deployment honours its partners' buyers, checked with each partner's
JWK set served over real HTTP, and publishes its own key as a JWK set."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Annotated

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Depends, FastAPI

from shared.auth import (
    Principal,
    Role,
    TokenVerifier,
    authorize_region,
    current_principal,
    install_auth,
    jwk_set,
    jwk_thumbprint,
    mint_token,
    partner_of,
)
from shared.problem_handlers import install_problem_handlers
from shared.problems import Problem
from shared.regions import Region
from shared.roles import Buyer
from shared.settings import CommonSettings
from tests.support.partners import HEBEI_ISSUER, Issuer, JwksServer, tianjin_file, unused_url

SECRET = "test-secret-that-is-long-enough-for-hs256"
BEIJING_ISSUER = "https://auth.beijing.example"


@pytest.fixture(scope="module")
def hebei() -> Issuer:
    return Issuer()


@pytest.fixture
def jwks(hebei: Issuer) -> Iterator[JwksServer]:
    with JwksServer(hebei.jwks).running() as server:
        yield server


@pytest.fixture
def settings(tmp_path, jwks: JwksServer) -> CommonSettings:
    """Tianjin trusting Hebei (served) and Beijing (whose JWKS nobody answers)."""
    path = tianjin_file(tmp_path, hebei=(HEBEI_ISSUER, jwks.url),
                        beijing=(BEIJING_ISSUER, unused_url()))
    return CommonSettings(jwt_secret=SECRET, jwt_public_key=None, jwks_url=None,
                          federation_file=path)


def _app(settings: CommonSettings) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    install_auth(app, settings)

    @app.get("/me")
    async def me(principal: Annotated[Principal, Depends(current_principal)]) -> dict:
        return {"sub": principal.subject, "role": principal.role,
                "region": str(principal.region), "partner": principal.partner}

    @app.post("/auctions/{region}/registrations")
    async def register(region: str, buyer: Buyer) -> dict:
        return {"bidder": buyer.subject}

    return app


@pytest.fixture
async def client(settings: CommonSettings) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://tianjin") as client:
        yield client


def _problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


async def test_a_partner_buyer_is_a_principal_of_the_partner(client, hebei):
    response = await client.get("/me", headers=hebei.bearer("jizhong-steel"))
    assert response.status_code == 200, response.text
    assert response.json() == {"sub": "hebei:jizhong-steel", "role": "buyer",
                               "region": "130109", "partner": "hebei"}
    registered = await client.post("/auctions/120101/registrations",
                                   headers=hebei.bearer("jizhong-steel"))
    assert registered.json() == {"bidder": "hebei:jizhong-steel"}


@pytest.mark.parametrize("role", ["operator", "seller", "registrar", "regulator", "admin"])
async def test_a_partner_token_of_any_other_role_is_403(client, hebei, role):
    body = _problem(await client.get("/me", headers=hebei.bearer("hb-1", role, "130000")), 403)
    assert body["type"] == "urn:techex:problem:forbidden-role"
    assert body["required_roles"] == ["buyer"]


@pytest.mark.parametrize("region", ["120101", "110000", "000000"])
async def test_a_partner_token_of_a_region_outside_the_partner_is_401(client, hebei, region):
    body = _problem(await client.get("/me", headers=hebei.bearer("hb-1", region=region)), 401)
    assert body["type"] == "urn:techex:problem:unauthorized"


async def test_an_unknown_issuer_is_401_even_with_a_good_signature(client):
    stranger = Issuer("https://auth.shanxi.example")
    body = _problem(await client.get("/me", headers=stranger.bearer("sx-1")), 401)
    assert "untrusted issuer" in body["detail"]


async def test_a_tampered_partner_token_is_401(client, hebei):
    token = hebei.sign("jizhong-steel")
    header, _, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = base64.urlsafe_b64encode(
        json.dumps(claims | {"sub": "someone-else"}).encode()).rstrip(b"=").decode()
    headers = {"Authorization": f"Bearer {header}.{forged}.{signature}"}
    assert "signature is invalid" in _problem(await client.get("/me", headers=headers),
                                              401)["detail"]
    other = ec.generate_private_key(ec.SECP256R1())  # the partner's kid, another key
    token = jwt.encode(hebei.claims("x", "buyer", "130109"), other, algorithm="ES256",
                       headers={"kid": hebei.kid})
    response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert "signature is invalid" in _problem(response, 401)["detail"]


async def test_a_partner_token_is_refused_for_what_else_is_wrong(client, hebei):
    cases = {
        "signing key is unknown": hebei.sign("x", kid="not-a-key-of-hebei"),
        "another audience": hebei.sign("x", aud="elsewhere"),
        "has expired": hebei.sign("x", exp=int(time.time()) - 3600),
        "algorithm is not accepted": jwt.encode(hebei.claims("x", "buyer", "130109"), SECRET,
                                                algorithm="HS256", headers={"kid": hebei.kid}),
        "too long": hebei.sign("x" * 200),
    }
    for detail, token in cases.items():
        response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert detail in _problem(response, 401)["detail"], detail


async def test_an_own_token_with_a_partners_prefix_is_401(client, settings):
    token = mint_token(settings, "hebei:jizhong-steel", Role.BUYER, "120101")
    body = _problem(await client.get("/me", headers={"Authorization": f"Bearer {token}"}), 401)
    assert "partner's alias" in body["detail"]
    own = mint_token(settings, "tj-buyer", Role.BUYER, "120101")
    me = await client.get("/me", headers={"Authorization": f"Bearer {own}"})
    assert me.json()["partner"] is None and me.json()["sub"] == "tj-buyer"


async def test_a_partner_whose_keys_are_down_is_a_503_problem(client):
    beijing = Issuer(BEIJING_ISSUER)
    body = _problem(await client.get("/me", headers=beijing.bearer("bj-1", region="110108")),
                    503)
    assert body["type"] == "urn:techex:problem:auth-keys-unavailable"
    started = time.monotonic()
    again = await client.get("/me", headers=beijing.bearer("bj-2", region="110108"))
    assert again.status_code == 503 and time.monotonic() - started < 1  # not asked again yet


@pytest.mark.parametrize("mode", ["error", "garbage", "reset"])
async def test_a_partner_jwks_answering_badly_is_503_never_500(client, hebei, jwks, mode):
    jwks.mode = mode
    response = await client.get("/me", headers=hebei.bearer("jizhong-steel"))
    assert _problem(response, 503)["type"] == "urn:techex:problem:auth-keys-unavailable"


async def test_a_partners_keys_are_fetched_once_and_cached(client, hebei, jwks):
    for n in range(3):
        response = await client.get("/me", headers=hebei.bearer(f"buyer-{n}"))
        assert response.status_code == 200
    assert jwks.hits == 1


def test_the_blocking_verify_routes_by_issuer_too(settings, hebei):
    verifier = TokenVerifier.from_settings(settings)
    principal = verifier.verify(hebei.sign("jizhong-steel", region="130100"))
    assert (principal.subject, principal.partner, principal.region.code) == (
        "hebei:jizhong-steel", "hebei", "130100")
    with pytest.raises(Problem) as caught:
        verifier.verify(hebei.sign("op", "operator", "130000"))
    assert caught.value.status == 403


def test_a_partner_buyer_may_act_in_its_own_region_only(hebei, settings):
    buyer = TokenVerifier.from_settings(settings).verify(hebei.sign("jizhong-steel"))
    assert authorize_region(buyer, "130109") == Region.parse("130109")
    with pytest.raises(Problem) as caught:
        authorize_region(buyer, "120101")
    assert caught.value.status == 403


def test_a_partner_issuer_that_is_the_own_one_is_refused(tmp_path, jwks):
    path = tianjin_file(tmp_path, hebei=("techex", jwks.url))
    with pytest.raises(ValueError, match="trusted twice"):
        TokenVerifier.from_settings(CommonSettings(jwt_secret=SECRET, federation_file=path))


def test_partner_of_reads_only_known_aliases():
    assert partner_of("hebei:jizhong-steel", {"hebei"}) == "hebei"
    assert partner_of("shanxi:x", {"hebei"}) is None
    assert partner_of("hebei:", {"hebei"}) is None
    assert partner_of("jizhong-steel", {"hebei"}) is None


# -- this deployment's own key ---------------------------------------------------------------


def _public_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _private_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def test_the_thumbprint_is_rfc_7638s():
    # RFC 7638 §3.1's example key and thumbprint.
    n = ("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSo"
         "c_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65Y"
         "GjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrd"
         "kt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKn"
         "qDKgw")
    key = rsa.RSAPublicNumbers(
        int.from_bytes(base64.urlsafe_b64decode("AQAB"), "big"),
        int.from_bytes(base64.urlsafe_b64decode(n + "=" * (-len(n) % 4)), "big")).public_key()
    pem = key.public_bytes(serialization.Encoding.PEM,
                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    assert jwk_thumbprint(pem) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_es256_tokens_with_a_kid_verify_against_the_own_public_key():
    key = ec.generate_private_key(ec.SECP256R1())
    settings = CommonSettings(jwt_public_key=_public_pem(key).replace("\n", "\\n"))
    token = mint_token(settings, "tj-operator", Role.OPERATOR, "120000",
                       private_key=_private_pem(key))
    assert jwt.get_unverified_header(token) == {
        "alg": "ES256", "typ": "JWT", "kid": jwk_thumbprint(_public_pem(key))}
    principal = TokenVerifier.from_settings(settings).verify(token)
    assert (principal.subject, principal.role, principal.partner) == (
        "tj-operator", Role.OPERATOR, None)
    named = mint_token(settings, "x", Role.BUYER, "120101", private_key=_private_pem(key),
                       kid="k-2026")
    assert jwt.get_unverified_header(named)["kid"] == "k-2026"


def test_the_jwk_set_publishes_the_own_public_key_under_its_thumbprint():
    key = ec.generate_private_key(ec.SECP256R1())
    (jwk,) = jwk_set(CommonSettings(jwt_public_key=_public_pem(key)))["keys"]
    assert jwk["kid"] == jwk_thumbprint(_public_pem(key))
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("EC", "P-256", "ES256", "sig")
    assert "d" not in jwk
    assert jwt.PyJWK(jwk).key.public_numbers() == key.public_key().public_numbers()
    assert jwk_set(CommonSettings(jwt_public_key=None)) == {"keys": []}


async def test_every_service_serves_its_jwk_set():
    from services.listing.api import create_app
    from services.listing.config import ListingSettings

    key = ec.generate_private_key(ec.SECP256R1())
    common = CommonSettings(jwt_public_key=_public_pem(key))
    app = create_app(ListingSettings(database_url="postgresql://unused/x"), common,
                     run_background=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tianjin") as client:
        response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.json() == jwk_set(common)
    assert "max-age" in response.headers["cache-control"]
