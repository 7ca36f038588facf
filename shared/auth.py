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
import base64
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, NoReturn

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import (
    EllipticCurvePrivateKey,
    EllipticCurvePublicKey,
)
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)
from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import TypeAdapter, ValidationError

from shared.bounds import SubjectId
from shared.problems import Forbidden, Problem, Unauthorized, ValidationFailed
from shared.regions import InvalidRegion, Region
from shared.settings import MIN_SECRET_BYTES, CommonSettings

__all__ = [
    "PARTNER_SEPARATOR",
    "ForbiddenRegion",
    "ForbiddenRole",
    "Principal",
    "Role",
    "TokenVerifier",
    "TrustedPartner",
    "authorize_region",
    "current_principal",
    "install_auth",
    "jwk_set",
    "jwk_thumbprint",
    "mint_token",
    "optional_principal",
    "partner_of",
    "public_jwk",
    "require",
    "require_region",
]

_REQUIRED_CLAIMS = ["exp", "iss", "aud", "sub", "role", "region"]
_SUBJECT = TypeAdapter(SubjectId)
_ASYMMETRIC = ["ES256", "RS256"]
PARTNER_SEPARATOR = ":"
"""Between a partner's alias and its account in a partner principal's subject:
``hebei:jizhong-steel``."""


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
    partner: str | None = None
    """The alias of the partner deployment that issued the token (None: this deployment's
    own issuer); its subject is then ``<partner>:<sub>``."""


PARTNER_ROLES = frozenset({Role.BUYER})
"""The roles a partner's token is honoured with here: its buyers take part in this deployment's
procedures; everything else (listing, operating, registering, overseeing) stays home."""


class ForbiddenRole(Forbidden):
    slug = "forbidden-role"
    title = "Role not permitted"


class ForbiddenRegion(Forbidden):
    slug = "forbidden-region"
    title = "Region not permitted"


_VERIFIED_CACHE = 50_000
"""Verified tokens kept in memory (a token is a few hundred bytes)."""
_KEYS_BACKOFF = 5.0
"""Seconds a partner's key set is not asked again after it could not be fetched, so a partner
whose endpoint is down costs each request a quick 503, not a thread blocked until a timeout."""


def _keys_unavailable(whose: str) -> Problem:
    return Problem(f"The token signing keys of {whose} cannot be fetched right now.",
                   slug="auth-keys-unavailable", status=503, title="Authentication unavailable",
                   headers={"Retry-After": str(int(_KEYS_BACKOFF))})


@dataclass(slots=True)
class TrustedPartner:
    """A partner deployment whose tokens this one honours (for :data:`PARTNER_ROLES`):
    its ``iss``, its alias (the prefix of its principals' subjects), the province its
    principals must be of (``000000``, the national hub: any region) and its key set."""

    issuer: str
    alias: str
    region: str
    keys: jwt.PyJWKClient
    unavailable_until: float = 0.0

    def signing_key(self, token: str) -> Any:
        """The key of the token's ``kid`` from the partner's JWKS (may block on the network:
        at most the client's timeout, and not at all for a while after a failure)."""
        if time.monotonic() < self.unavailable_until:
            raise _keys_unavailable(f"partner {self.alias}")
        try:
            return self.keys.get_signing_key_from_jwt(token)
        except (jwt.PyJWKClientConnectionError, OSError, ValueError) as exc:
            # OSError, ValueError: a connection reset mid-answer, a body that is not JSON.
            self.unavailable_until = time.monotonic() + _KEYS_BACKOFF
            raise _keys_unavailable(f"partner {self.alias}") from exc
        except jwt.DecodeError as exc:
            raise Unauthorized("The bearer token is malformed.") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("The token's signing key is unknown.") from exc

    def admits(self, region: Region) -> bool:
        from shared.federation import NATIONAL_REGION

        return self.region == NATIONAL_REGION or Region.parse(self.region).contains(region)


class TokenVerifier:
    """Verifies bearer tokens and turns them into :class:`Principal` objects.

    Exactly one key source is used for this deployment's own issuer: a JWKS endpoint, else a
    PEM public key (RS256 or ES256, chosen by key type), else the shared HS256 secret.
    ``partners`` (by issuer) are trusted partner deployments: a token whose ``iss`` is one of
    theirs is checked with that partner's JWKS and yields a partner principal (see
    :meth:`_partner_principal`). ``leeway`` absorbs clock skew between the issuer and this
    service when checking ``exp``, ``nbf`` and ``iat``.
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
        partners: Iterable[TrustedPartner] = (),
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
        self.partners: dict[str, TrustedPartner] = {}
        for partner in partners:
            if partner.issuer == issuer or partner.issuer in self.partners:
                raise ValueError(f"token issuer {partner.issuer!r} is trusted twice "
                                 "(this deployment's own, or two partners')")
            self.partners[partner.issuer] = partner
        self._aliases = frozenset(p.alias for p in self.partners.values())

    @classmethod
    def from_settings(cls, settings: CommonSettings, *, keys_timeout: float = 3.0
                      ) -> TokenVerifier:
        """The verifier of ``settings``; every partner of the federation file with a
        ``token_issuer`` is trusted, its JWKS fetched with ``keys_timeout`` and cached."""
        federation = settings.federation
        partners = [
            TrustedPartner(p.token_issuer, p.alias, p.region, jwt.PyJWKClient(
                str(p.jwks_url), cache_keys=True, lifespan=300, timeout=keys_timeout))
            for p in (federation.partners if federation else ())
            if p.token_issuer is not None and p.jwks_url is not None]
        common = {"issuer": settings.jwt_issuer, "audience": settings.jwt_audience,
                  "partners": partners}
        if settings.jwks_url:
            client = jwt.PyJWKClient(settings.jwks_url, timeout=5)
            return cls(**common, algorithms=_ASYMMETRIC, jwks_client=client)
        if settings.jwt_public_key:
            key = _public_key(settings.jwt_public_key)
            algorithm = "RS256" if isinstance(key, RSAPublicKey) else "ES256"
            return cls(**common, algorithms=[algorithm], key=key)
        if len(settings.jwt_secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"jwt_secret must be at least {MIN_SECRET_BYTES} bytes")
        return cls(**common, algorithms=["HS256"], key=settings.jwt_secret)

    def verify(self, token: str) -> Principal:
        """Check signature, ``exp``, ``iss``, ``aud`` and the required claims.

        Raises a 401 :class:`Problem` naming what is wrong (a partner's token of a role it
        is not honoured with: 403). With a JWKS endpoint this may block on the network; in
        async code use :meth:`verify_async`.
        """
        partner = self._partner_of(token)
        if partner is not None:
            return self._partner_principal(token, partner, partner.signing_key(token))
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
        partner = self._partner_of(token)
        if partner is not None:
            key = await asyncio.to_thread(partner.signing_key, token)
            principal = self._partner_principal(token, partner, key)
        elif self._jwks_client is None:
            principal = self._verify(token, self._key)
        else:
            principal = self._verify(token, await asyncio.to_thread(self._signing_key, token))
        if isinstance(principal.claims.get("exp"), int | float):
            if len(self._verified) >= _VERIFIED_CACHE:
                self._verified.clear()
            self._verified[token] = principal
        return principal

    def _partner_of(self, token: str) -> TrustedPartner | None:
        """The trusted partner named by the token's ``iss``, read before any check (the
        partner's own keys then check it); None for a token of the own issuer, or one the
        own issuer's checks will name the fault of. An issuer neither is: 401."""
        if not self.partners:
            return None
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except (jwt.PyJWTError, AttributeError):
            return None
        if not isinstance(issuer, str) or issuer == self.issuer:
            return None
        if issuer not in self.partners:
            raise Unauthorized("The bearer token comes from an untrusted issuer.")
        return self.partners[issuer]

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

    def _claims(self, token: str, key: Any, algorithms: list[str], issuer: str
                ) -> tuple[dict[str, Any], str, Role, Region]:
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.audience,
                issuer=issuer,
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
        return claims, subject, parsed_role, parsed_region

    def _verify(self, token: str, key: Any) -> Principal:
        claims, subject, role, region = self._claims(token, key, self.algorithms, self.issuer)
        if partner_of(subject, self._aliases) is not None:
            raise Unauthorized("The token's 'sub' claim begins with a partner's alias and "
                               f"{PARTNER_SEPARATOR!r}: such accounts are that partner's.")
        return Principal(subject, role, region, claims)

    def _partner_principal(self, token: str, partner: TrustedPartner, key: Any) -> Principal:
        """A partner's token, checked with its key: honoured for :data:`PARTNER_ROLES`
        only (else 403), of a region inside the partner's province (else 401), its subject
        ``<alias>:<sub>`` so it never meets an account of this deployment."""
        claims, subject, role, region = self._claims(token, key, _ASYMMETRIC, partner.issuer)
        if role not in PARTNER_ROLES:
            names = ", ".join(sorted(PARTNER_ROLES))
            raise ForbiddenRole(
                f"A token of partner {partner.alias} is honoured here for the role "
                f"{names} only, not '{role}'.", required_roles=sorted(PARTNER_ROLES))
        if not partner.admits(region):
            raise Unauthorized(f"The token's 'region' claim {region} lies outside partner "
                               f"{partner.alias}'s region {partner.region}.")
        qualified = f"{partner.alias}{PARTNER_SEPARATOR}{subject}"
        try:
            _SUBJECT.validate_python(qualified)
        except ValidationError as exc:
            raise Unauthorized("The token's 'sub' claim is too long for a partner's account "
                               f"({exc.errors()[0]['msg']}).") from exc
        return Principal(qualified, role, region, claims, partner=partner.alias)


def partner_of(subject: str, aliases: Iterable[str]) -> str | None:
    """The partner alias a subject is qualified with (``hebei:jizhong-steel`` -> ``hebei``),
    if it is one of ``aliases``; None for this deployment's own accounts."""
    alias, separator, rest = subject.partition(PARTNER_SEPARATOR)
    return alias if separator and rest and alias in set(aliases) else None


def _public_key(pem: str) -> RSAPublicKey | EllipticCurvePublicKey:
    # Environment variables often carry PEM newlines as a literal backslash-n.
    key = load_pem_public_key(pem.replace("\\n", "\n").encode())
    if not isinstance(key, RSAPublicKey | EllipticCurvePublicKey):
        raise ValueError(f"jwt_public_key must be an RSA or EC key, not {type(key).__name__}")
    return key


def public_jwk(public_pem: str) -> dict[str, str]:
    """The PEM public key as a JWK (RFC 7517) for verifying signatures: its members, ``alg``,
    ``use`` and ``kid`` (:func:`jwk_thumbprint`)."""
    key = _public_key(public_pem)
    if isinstance(key, RSAPublicKey):
        jwk, alg = jwt.algorithms.RSAAlgorithm.to_jwk(key, as_dict=True), "RS256"
    else:
        jwk, alg = jwt.algorithms.ECAlgorithm.to_jwk(key, as_dict=True), "ES256"
    return {**jwk, "alg": alg, "use": "sig", "kid": _thumbprint(jwk)}


def jwk_thumbprint(public_pem: str) -> str:
    """The RFC 7638 SHA-256 thumbprint of the PEM public key (base64url, no padding): the
    ``kid`` of this deployment's key in its JWK set and its tokens."""
    return public_jwk(public_pem)["kid"]


def _thumbprint(jwk: Mapping[str, Any]) -> str:
    required = ("e", "kty", "n") if jwk["kty"] == "RSA" else ("crv", "kty", "x", "y")
    canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"),
                           sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def jwk_set(settings: CommonSettings) -> dict[str, list[dict[str, str]]]:
    """This deployment's JWK set: its ``jwt_public_key`` (none without one: an HS256 secret
    or a JWKS of another's is nothing to publish)."""
    if not settings.jwt_public_key:
        return {"keys": []}
    return {"keys": [public_jwk(settings.jwt_public_key)]}


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
    *,
    private_key: str | None = None,
    kid: str | None = None,
) -> str:
    """A token of ``settings``' issuer and audience: HS256 with ``settings.jwt_secret``, or,
    given a PEM ``private_key``, ES256 (an EC key) or RS256 (RSA) with a ``kid`` header
    (``kid``, by default the key's :func:`jwk_thumbprint`). For the embedded default, a
    deployment's own token CLI and tests."""
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
    if private_key is None:
        return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
    key = load_pem_private_key(private_key.replace("\\n", "\n").encode(), password=None)
    if isinstance(key, EllipticCurvePrivateKey):
        algorithm = "ES256"
    elif isinstance(key, RSAPrivateKey):
        algorithm = "RS256"
    else:
        raise ValueError(f"private_key must be an RSA or EC key, not {type(key).__name__}")
    if kid is None:
        kid = jwk_thumbprint(key.public_key().public_bytes(
            Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode())
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


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
