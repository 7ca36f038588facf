from __future__ import annotations

import json
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Annotated, Any

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
    mint_token,
    require,
    require_region,
)
from shared.problem_handlers import install_problem_handlers
from shared.problems import PROBLEM_MEDIA_TYPE, Problem
from shared.regions import Region, RegionCode
from shared.settings import CommonSettings

SECRET = "test-secret-that-is-long-enough-for-hs256"


def _settings(**overrides: Any) -> CommonSettings:
    values: dict[str, Any] = {
        "jwt_secret": SECRET,
        "jwt_public_key": None,
        "jwks_url": None,
        "jwt_issuer": "techex",
        "jwt_audience": "techex",
    }
    return CommonSettings(**(values | overrides))


SETTINGS = _settings()


def _app(settings: CommonSettings = SETTINGS) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    install_auth(app, settings)

    @app.get("/me")
    async def me(principal: Annotated[Principal, Depends(current_principal)]) -> dict[str, str]:
        return {"sub": principal.subject, "role": principal.role, "region": str(principal.region)}

    @app.post("/settlements")
    async def settle(
        principal: Annotated[Principal, Depends(require(Role.OPERATOR, Role.REGISTRAR))],
    ) -> dict[str, str]:
        return {"by": principal.subject}

    @app.get("/regions/{region}/listings")
    async def listings(
        region: RegionCode,
        principal: Annotated[Principal, Depends(require_region(Role.OPERATOR))],
    ) -> dict[str, str]:
        return {"region": region}

    @app.get("/reports")
    async def reports(
        principal: Annotated[Principal, Depends(require_region(Role.REGULATOR, param="area"))],
    ) -> dict[str, str]:
        return {"by": principal.subject}

    @app.post("/contracts/{code}/approve")
    async def approve(
        code: str, principal: Annotated[Principal, Depends(current_principal)]
    ) -> dict[str, str]:
        return {"region": str(authorize_region(principal, code))}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def _bearer(role: Role | str = Role.OPERATOR, region: str = "230100", **kw: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(SETTINGS, 'u-1', role, region, **kw)}"}


def _claims(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims = {
        "iss": "techex",
        "aud": "techex",
        "sub": "u-1",
        "role": "operator",
        "region": "230100",
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    return {k: v for k, v in (claims | overrides).items() if v is not None}


def _signed(key: Any = SECRET, algorithm: str = "HS256", **overrides: Any) -> dict[str, str]:
    token = jwt.encode(_claims(**overrides), key, algorithm=algorithm)
    return {"Authorization": f"Bearer {token}"}


def _unauthorized(response: httpx.Response) -> str:
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["type"] == "urn:techex:problem:unauthorized"
    return body["detail"]


async def test_valid_token_yields_the_principal(client: httpx.AsyncClient) -> None:
    response = await client.get("/me", headers=_bearer())
    assert response.status_code == 200
    assert response.json() == {"sub": "u-1", "role": "operator", "region": "230100"}


async def test_missing_token_is_401_with_a_bare_challenge(client: httpx.AsyncClient) -> None:
    response = await client.get("/me")
    assert _unauthorized(response) == "A bearer token is required."
    assert response.headers["www-authenticate"] == "Bearer"


async def test_other_schemes_are_401_invalid_request(client: httpx.AsyncClient) -> None:
    response = await client.get("/me", headers={"Authorization": "Basic dTpw"})
    assert "Bearer scheme" in _unauthorized(response)
    assert 'error="invalid_request"' in response.headers["www-authenticate"]


async def test_expired_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/me", headers=_bearer(ttl=timedelta(minutes=-5)))
    assert _unauthorized(response) == "The bearer token has expired."
    assert response.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="The bearer token has expired."'
    )


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        (lambda: _signed(key="another-secret-that-is-also-long-enough"), "signature is invalid"),
        (lambda: {"Authorization": "Bearer not.a.jwt"}, "malformed"),
        (lambda: _signed(aud="elsewhere"), "another audience"),
        (lambda: _signed(iss="mallory"), "untrusted issuer"),
        (lambda: _signed(region=None), "'region' claim"),
        (lambda: _signed(role=None), "'role' claim"),
        (lambda: _signed(exp=None), "'exp' claim"),
        (lambda: _signed(role="emperor"), "not a known role"),
        (lambda: _signed(region="990000"), "unknown province"),
        (lambda: _signed(key=None, algorithm="none"), "algorithm is not accepted"),
        (lambda: _signed(nbf=datetime.now(UTC) + timedelta(hours=1)), "not valid yet"),
        (lambda: _signed(sub="u\x001"), "not a valid account id"),
        (lambda: _signed(sub="u" * 201), "not a valid account id"),
    ],
)
async def test_bad_tokens_are_401_with_distinct_details(
    client: httpx.AsyncClient, headers: Callable[[], dict[str, str]], detail: str
) -> None:
    # Made when the test runs: a token made at collection would expire in a long session.
    headers = headers()
    assert detail in _unauthorized(await client.get("/me", headers=headers))


async def test_wrong_role_is_403(client: httpx.AsyncClient) -> None:
    response = await client.post("/settlements", headers=_bearer(Role.BUYER))
    assert response.status_code == 403
    body = response.json()
    assert body["type"] == "urn:techex:problem:forbidden-role"
    assert body["required_roles"] == ["operator", "registrar"]


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.REGISTRAR, Role.ADMIN])
async def test_listed_roles_and_admin_pass(client: httpx.AsyncClient, role: Role) -> None:
    response = await client.post("/settlements", headers=_bearer(role))
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("role", "home", "target", "status"),
    [
        (Role.OPERATOR, "230100", "230102", 200),  # a county of the operator's city
        (Role.OPERATOR, "230100", "230100", 200),
        (Role.OPERATOR, "230100", "230200", 403),  # a sibling city
        (Role.OPERATOR, "230100", "230000", 403),  # the enclosing province
        (Role.OPERATOR, "230000", "230202", 200),
        (Role.ADMIN, "110000", "230200", 200),
        (Role.BUYER, "230100", "230102", 403),  # right region, wrong role
    ],
)
async def test_region_scope_comes_from_the_path(
    client: httpx.AsyncClient, role: Role, home: str, target: str, status: int
) -> None:
    response = await client.get(f"/regions/{target}/listings", headers=_bearer(role, home))
    assert response.status_code == status
    if status == 403:
        expected = "forbidden-role" if role is Role.BUYER else "forbidden-region"
        assert response.json()["type"] == f"urn:techex:problem:{expected}"


async def test_region_scope_can_come_from_the_query(client: httpx.AsyncClient) -> None:
    headers = _bearer(Role.REGULATOR, "230000")
    assert (await client.get("/reports?area=230102", headers=headers)).status_code == 200
    denied = await client.get("/reports?area=440300", headers=headers)
    assert denied.json()["type"] == "urn:techex:problem:forbidden-region"
    missing = await client.get("/reports", headers=headers)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "query.area"


async def test_invalid_region_parameter_is_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/regions/230012/listings", headers=_bearer())
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["field"] == "path.region"
    assert "without a city" in error["message"]


async def test_authorize_region_can_be_called_directly(client: httpx.AsyncClient) -> None:
    ok = await client.post("/contracts/230102/approve", headers=_bearer())
    assert ok.json() == {"region": "230102"}
    denied = await client.post("/contracts/230200/approve", headers=_bearer())
    assert denied.status_code == 403
    assert "230100" in denied.json()["detail"]
    invalid = await client.post("/contracts/23/approve", headers=_bearer())
    assert invalid.status_code == 422


def test_authorize_region_returns_the_parsed_region() -> None:
    operator = Principal("u-1", Role.OPERATOR, Region.parse("230100"))
    assert authorize_region(operator, "230102") == Region.parse("230102")
    with pytest.raises(Problem) as caught:
        authorize_region(operator, Region.parse("230200"))
    assert caught.value.status == 403


def test_require_needs_at_least_one_role() -> None:
    with pytest.raises(ValueError, match="at least one role"):
        require()
    with pytest.raises(ValueError):
        require("emperor")


def test_mint_token_validates_its_input() -> None:
    with pytest.raises(ValueError):
        mint_token(SETTINGS, "u-1", "emperor", "230100")
    with pytest.raises(ValueError):
        mint_token(SETTINGS, "u-1", Role.BUYER, "990000")


def test_mint_token_round_trips_through_the_verifier() -> None:
    token = mint_token(SETTINGS, "seller-9", Role.SELLER, Region.parse("440305"))
    principal = TokenVerifier.from_settings(SETTINGS).verify(token)
    assert (principal.subject, principal.role, principal.region.code) == (
        "seller-9",
        Role.SELLER,
        "440305",
    )
    assert principal.claims["iss"] == "techex"


def test_short_hs256_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        TokenVerifier.from_settings(_settings(jwt_secret="short"))


def _pem(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.mark.parametrize(
    ("private_key", "algorithm"),
    [
        (rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"),
        (ec.generate_private_key(ec.SECP256R1()), "ES256"),
    ],
)
def test_public_key_settings_verify_asymmetric_tokens(
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, algorithm: str
) -> None:
    # Escaped newlines, as a PEM often arrives through an environment variable.
    verifier = TokenVerifier.from_settings(
        _settings(jwt_public_key=_pem(private_key).replace("\n", "\\n"))
    )
    token = jwt.encode(_claims(), private_key, algorithm=algorithm)
    assert verifier.verify(token).role is Role.OPERATOR
    # A token signed with the shared secret must not pass once a public key is configured.
    with pytest.raises(Problem, match="algorithm is not accepted"):
        verifier.verify(mint_token(SETTINGS, "u-1", Role.ADMIN, "230000"))


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(rsa_key: rsa.RSAPrivateKey) -> Iterator[str]:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True)
    body = json.dumps({"keys": [jwk | {"kid": "k1", "alg": "RS256", "use": "sig"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/jwks.json"
    server.shutdown()
    server.server_close()


def _bearer_rs256(key: rsa.RSAPrivateKey, kid: str) -> dict[str, str]:
    token = jwt.encode(_claims(), key, algorithm="RS256", headers={"kid": kid})
    return {"Authorization": f"Bearer {token}"}


async def test_jwks_keys_verify_tokens_by_kid(rsa_key: rsa.RSAPrivateKey, jwks_url: str) -> None:
    transport = httpx.ASGITransport(app=_app(_settings(jwks_url=jwks_url)))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/me", headers=_bearer_rs256(rsa_key, "k1"))
        assert response.status_code == 200, response.text

        unknown = await client.get("/me", headers=_bearer_rs256(rsa_key, "other"))
        assert "signing key is unknown" in _unauthorized(unknown)

        # The endpoint's key does not make HS256 tokens acceptable.
        forged = await client.get("/me", headers=_bearer(Role.ADMIN))
        assert forged.status_code == 401


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_unreachable_jwks_is_503() -> None:
    app = _app(_settings(jwks_url=f"http://127.0.0.1:{_unused_port()}/jwks.json"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/me", headers=_bearer())
    assert response.status_code == 503
    assert response.json()["type"] == "urn:techex:problem:auth-keys-unavailable"


async def test_a_remembered_token_is_checked_again_once_past_its_expiry(monkeypatch):
    from shared import auth as auth_module

    settings = CommonSettings()
    verifier = TokenVerifier(issuer=settings.jwt_issuer, audience=settings.jwt_audience,
                             algorithms=["HS256"], key=settings.jwt_secret,
                             leeway=timedelta(0))
    token = mint_token(settings, "bidder", Role.BUYER, "230100", ttl=timedelta(seconds=60))
    checks = 0
    real_verify = verifier._verify

    def counting(*args):
        nonlocal checks
        checks += 1
        return real_verify(*args)

    monkeypatch.setattr(verifier, "_verify", counting)
    await verifier.verify_async(token)
    await verifier.verify_async(token)
    assert checks == 1  # the second answer came from memory
    later = auth_module.time.time() + 120
    monkeypatch.setattr(auth_module.time, "time", lambda: later)
    await verifier.verify_async(token)
    assert checks == 2  # past its exp the memory no longer vouches for it
