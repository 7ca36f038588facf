"""Bearer JWT authentication and role/region authorization for FastAPI services.

Tokens carry ``sub``, ``role`` (a :class:`Role`) and ``region`` (a GB/T 2260 code: the part of
the country the principal acts for). Typical use::

    install_auth(app, settings)

    @app.post("/regions/{region}/listings")
    async def create(
        region: RegionCode,
        principal: Annotated[Principal, Depends(require_region(Role.SELLER))],
    ) -> ...
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, NoReturn

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import TypeAdapter, ValidationError

from shared.bounds import SubjectId
from shared.problems import Forbidden, Problem, Unauthorized, ValidationFailed
from shared.regions import InvalidRegion, Region
from shared.settings import MIN_SECRET_BYTES, CommonSettings

__all__ = [
    "ForbiddenRegion",
    "ForbiddenRole",
    "Principal",
    "Role",
    "TokenVerifier",
    "authorize_region",
    "current_principal",
    "install_auth",
    "mint_token",
    "optional_principal",
    "require",
    "require_region",
]

_REQUIRED_CLAIMS = ["exp", "iss", "aud", "sub", "role", "region"]
_SUBJECT = TypeAdapter(SubjectId)


class Role(StrEnum):
    SELLER = "seller"
    BUYER = "buyer"
    OPERATOR = "operator"
    REGISTRAR = "registrar"
    REGULATOR = "regulator"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    subject: str
    role: Role
    region: Region
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


class ForbiddenRole(Forbidden):
    slug = "forbidden-role"
    title = "Role not permitted"


class ForbiddenRegion(Forbidden):
    slug = "forbidden-region"
    title = "Region not permitted"


_VERIFIED_CACHE = 50_000
"""Verified tokens kept in memory (a token is a few hundred bytes)."""


class TokenVerifier:
    """Verifies bearer tokens and turns them into :class:`Principal` objects.

    Exactly one key source is used: a JWKS endpoint, else a PEM public key (RS256 or ES256,
    chosen by key type), else the shared HS256 secret. ``leeway`` absorbs clock skew between
    the issuer and this service when checking ``exp``, ``nbf`` and ``iat``.
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithms: list[str],
        key: Any = None,
        jwks_client: jwt.PyJWKClient | None = None,
        leeway: timedelta = timedelta(seconds=30),
    ) -> None:
        if (key is None) == (jwks_client is None):
            raise ValueError("give exactly one of key and jwks_client")
        self.issuer = issuer
        self.audience = audience
        self.algorithms = algorithms
        self.leeway = leeway
        self._key = key
        self._jwks_client = jwks_client
        self._verified: dict[str, Principal] = {}

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> TokenVerifier:
        common = {"issuer": settings.jwt_issuer, "audience": settings.jwt_audience}
        if settings.jwks_url:
            client = jwt.PyJWKClient(settings.jwks_url, timeout=5)
            return cls(**common, algorithms=["RS256", "ES256"], jwks_client=client)
        if settings.jwt_public_key:
            # Environment variables often carry PEM newlines as a literal backslash-n.
            pem = settings.jwt_public_key.replace("\\n", "\n").encode()
            key = load_pem_public_key(pem)
            if isinstance(key, RSAPublicKey):
                return cls(**common, algorithms=["RS256"], key=key)
            if isinstance(key, EllipticCurvePublicKey):
                return cls(**common, algorithms=["ES256"], key=key)
            raise ValueError(f"jwt_public_key must be an RSA or EC key, not {type(key).__name__}")
        if len(settings.jwt_secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"jwt_secret must be at least {MIN_SECRET_BYTES} bytes")
        return cls(**common, algorithms=["HS256"], key=settings.jwt_secret)

    def verify(self, token: str) -> Principal:
        """Check signature, ``exp``, ``iss``, ``aud`` and the required claims.

        Raises a 401 :class:`Problem` naming what is wrong. With a JWKS endpoint this may block
        on the network; in async code use :meth:`verify_async`.
        """
        return self._verify(token, self._signing_key(token))

    async def verify_async(self, token: str) -> Principal:
        """Like :meth:`verify`, fetching JWKS keys in a worker thread.

        A token seen before is answered from memory until it expires: verifying the signature
        of the same token on every request (a bidder's whole session) cost a fifth of a bid.
        """
        known = self._verified.get(token)
        if known is not None:
            if time.time() <= known.claims["exp"] + self.leeway.total_seconds():
                return known
            del self._verified[token]
        if self._jwks_client is None:
            principal = self._verify(token, self._key)
        else:
            principal = self._verify(token, await asyncio.to_thread(self._signing_key, token))
        if isinstance(principal.claims.get("exp"), int | float):
            if len(self._verified) >= _VERIFIED_CACHE:
                self._verified.clear()
            self._verified[token] = principal
        return principal

    def _signing_key(self, token: str) -> Any:
        if self._jwks_client is None:
            return self._key
        try:
            return self._jwks_client.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            raise Problem(
                "The token signing keys cannot be fetched right now.",
                slug="auth-keys-unavailable",
                status=503,
                title="Authentication unavailable",
            ) from exc
        except jwt.DecodeError as exc:
            raise Unauthorized("The bearer token is malformed.") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("The token's signing key is unknown.") from exc

    def _verify(self, token: str, key: Any) -> Principal:
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(_describe(exc)) from exc
        subject, role, region = claims["sub"], claims["role"], claims["region"]
        if not isinstance(subject, str) or not subject:
            raise Unauthorized("The token's 'sub' claim must be a non-empty string.")
        try:
            _SUBJECT.validate_python(subject)
        except ValidationError as exc:
            raise Unauthorized("The token's 'sub' claim is not a valid account id: "
                               f"{exc.errors()[0]['msg']}.") from exc
        try:
            parsed_role = Role(role)
        except ValueError as exc:
            raise Unauthorized(f"The token's 'role' claim {role!r} is not a known role.") from exc
        try:
            parsed_region = Region.parse(region)
        except InvalidRegion as exc:
            raise Unauthorized(f"The token's 'region' claim is invalid: {exc}") from exc
        return Principal(subject, parsed_role, parsed_region, claims)


def _describe(exc: jwt.PyJWTError) -> str:
    # Order matters: InvalidSignatureError is a DecodeError.
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "The bearer token has expired."
    if isinstance(exc, jwt.InvalidSignatureError):
        return "The bearer token's signature is invalid."
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"The bearer token lacks the required '{exc.claim}' claim."
    if isinstance(exc, jwt.InvalidAudienceError):
        return "The bearer token is meant for another audience."
    if isinstance(exc, jwt.InvalidIssuerError):
        return "The bearer token comes from an untrusted issuer."
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return "The bearer token's signing algorithm is not accepted."
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "The bearer token is not valid yet."
    if isinstance(exc, jwt.DecodeError):
        return "The bearer token is malformed."
    return "The bearer token is invalid."


def mint_token(
    settings: CommonSettings,
    subject: str,
    role: Role | str,
    region: Region | str,
    ttl: timedelta = timedelta(hours=12),
) -> str:
    """An HS256 token signed with ``settings.jwt_secret``, for local development and tests."""
    now = datetime.now(UTC)
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": subject,
        "role": str(Role(role)),
        "region": str(region if isinstance(region, Region) else Region.parse(region)),
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


def install_auth(app: FastAPI, settings: CommonSettings) -> TokenVerifier:
    """Build the app's :class:`TokenVerifier` from settings and keep it in ``app.state``."""
    verifier = TokenVerifier.from_settings(settings)
    app.state.token_verifier = verifier
    return verifier


# auto_error=False: the 401 must be our problem document, not FastAPI's default.
_bearer = HTTPBearer(auto_error=False, bearerFormat="JWT", scheme_name="bearer")


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """FastAPI dependency: the principal of the request's bearer token, or a 401 problem."""
    if credentials is None:
        _missing_bearer(request, request.headers.get("Authorization"))
    return await _verified(request, credentials.credentials)


async def _verified(request: Request, token: str) -> Principal:
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        return await verifier.verify_async(token)
    except Unauthorized:
        _unauthenticated(request)
        raise


async def optional_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """FastAPI dependency of a public view that shows more to some: the principal of the
    bearer token, None without an Authorization header (a bad token is still a 401)."""
    if credentials is None:
        if request.headers.get("Authorization"):
            _missing_bearer(request, request.headers.get("Authorization"))
        return None
    return await _verified(request, credentials.credentials)


def _unauthenticated(request: Request) -> None:
    """A request without a valid principal costs its address a token of the unauthenticated
    rate limit (shared.ratelimit), which answers 429 once the address is over it."""
    limits = getattr(request.app.state, "rate_limits", None)
    if limits is not None:
        limits.refuse_unauthenticated(request)


def _missing_bearer(request: Request, header: str | None) -> NoReturn:
    _unauthenticated(request)
    if header:
        raise Unauthorized(
            "The Authorization header must use the Bearer scheme.", error="invalid_request"
        )
    raise Unauthorized("A bearer token is required.", error=None)


async def principal_with_role(request: Request, allowed: frozenset[Role]) -> Principal:
    """What ``Depends(require(...))`` gives, without FastAPI's dependency resolution: for a
    hot path served by a plain route (the same token rules, answers and problems)."""
    header = request.headers.get("Authorization")
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        _missing_bearer(request, header)
    principal = await _verified(request, token)
    _check_role(principal, allowed)
    return principal


def _roles(roles: tuple[Role | str, ...]) -> frozenset[Role]:
    if not roles:
        raise ValueError("name at least one role; use current_principal for any caller")
    return frozenset(Role(role) for role in roles)


def _check_role(principal: Principal, allowed: frozenset[Role]) -> None:
    if principal.role is Role.ADMIN or principal.role in allowed:
        return
    names = ", ".join(sorted(allowed))
    raise ForbiddenRole(
        f"Role '{principal.role}' may not do this; it needs one of: {names}.",
        required_roles=sorted(allowed),
    )


def require(*roles: Role | str) -> Callable[..., Awaitable[Principal]]:
    """A dependency yielding the principal if it has one of ``roles`` (admin always does)."""
    allowed = _roles(roles)

    async def dependency(
        principal: Annotated[Principal, Depends(current_principal)],
    ) -> Principal:
        _check_role(principal, allowed)
        return principal

    return _with_roles(dependency, allowed)


ROLES_ATTRIBUTE = "techex_roles"
"""Set on each dependency :func:`require` and :func:`require_region` make: the names of the
roles it admits (admin always), so the OpenAPI document can name them (see
:mod:`shared.openapi`)."""


OPTIONAL_ATTRIBUTE = "techex_optional"
"""Set on :func:`optional_principal`: the token may be left out (a public view)."""

setattr(optional_principal, ROLES_ATTRIBUTE, tuple(sorted(Role, key=str)))
setattr(optional_principal, OPTIONAL_ATTRIBUTE, True)


def _with_roles(dependency: Callable[..., Awaitable[Principal]], allowed: frozenset[Role]
                ) -> Callable[..., Awaitable[Principal]]:
    setattr(dependency, ROLES_ATTRIBUTE, tuple(sorted({*allowed, Role.ADMIN}, key=str)))
    return dependency


def authorize_region(principal: Principal, region_code: Region | str) -> Region:
    """Return the target region if the principal may act in it, else raise a 403 problem.

    A principal may act in its own region and everything inside it; admin may act anywhere.
    An invalid code raises a 422 problem.
    """
    try:
        target = region_code if isinstance(region_code, Region) else Region.parse(region_code)
    except InvalidRegion as exc:
        raise ValidationFailed(
            "The region code is invalid.", errors=[{"field": "region", "message": str(exc)}]
        ) from exc
    if principal.role is Role.ADMIN or principal.region.contains(target):
        return target
    raise ForbiddenRegion(
        f"A principal of region {principal.region} may not act in region {target}."
    )


def require_region(
    *roles: Role | str, param: str = "region"
) -> Callable[..., Awaitable[Principal]]:
    """Like :func:`require`, and also :func:`authorize_region` on the path or query
    parameter named ``param`` (the path wins if both are present)."""
    allowed = _roles(roles)

    async def dependency(
        request: Request,
        principal: Annotated[Principal, Depends(current_principal)],
    ) -> Principal:
        _check_role(principal, allowed)
        if param in request.path_params:
            location, code = "path", request.path_params[param]
        else:
            location, code = "query", request.query_params.get(param)
        field_name = f"{location}.{param}"
        if code is None:
            raise ValidationFailed(
                f"The {param!r} parameter is required.",
                errors=[{"field": field_name, "message": "Field required"}],
            )
        try:
            target = Region.parse(str(code))
        except InvalidRegion as exc:
            raise ValidationFailed(
                "The region code is invalid.", errors=[{"field": field_name, "message": str(exc)}]
            ) from exc
        authorize_region(principal, target)
        return principal

    return _with_roles(dependency, allowed)
