"""Who a deployment federates with: its own place in the federation and its partners, as data.

Each deployment of techex serves one province (or, as the national hub, the country) on a Kafka
cluster of its own. What it shares is its public topics, ``<prefix>.public.*`` (the public
information standard between deployments); everything else stays home. Apache Kafka MirrorMaker
2, run by each deployment next to its own cluster, copies every partner's public topics into it
as ``<alias>.<topic>`` — Tianjin's ``techex.public.catalog`` arrives in Hebei as
``tianjin.techex.public.catalog`` (MirrorMaker's DefaultReplicationPolicy).

The partner list is a JSON file per deployment (``deploy/federation/<alias>.json``), read with
:func:`load_federation`, which names every field that is wrong::

    {
      "alias": "hebei", "name": "河北省", "region": "130000", "topic_prefix": "techex",
      "partners": [
        {"alias": "tianjin", "name": "天津市", "region": "120000",
         "bootstrap_servers": ["kafka-0.tianjin.example:9094"],
         "token_issuer": "https://auth.tianjin.example", "jwks_url": "https://…/jwks.json"}
      ]
    }

The national hub is the deployment whose region is :data:`NATIONAL_REGION` (``000000``): it
is no division of GB/T 2260 (whose provincial codes run from 11 to 82), so it can never be
taken for a province's code, and its all-zero digits read as "above every province".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shared.problems import field_errors
from shared.regions import InvalidRegion, Region, RegionLevel

__all__ = [
    "NATIONAL_REGION",
    "NATIONAL_STAFF_REGION",
    "PUBLIC_SEGMENT",
    "Federation",
    "InvalidFederation",
    "Partner",
    "load_federation",
    "mirrored_topic",
    "parse_federation",
    "public_topic",
    "public_topics_pattern",
    "staff_region",
]

NATIONAL_REGION = "000000"
"""The national hub's region code (see the module docstring)."""
NATIONAL_STAFF_REGION = "110000"
"""The region in the tokens of the national hub's own staff. A token names a GB/T 2260
division and 000000 is none (a deployment's region is not a token's); the national network's
staff sit in Beijing. The hub's national figures are open to a regulator or operator of any
region, so this choice limits nothing there."""
PUBLIC_SEGMENT = "public"
"""The topic segment after the prefix that marks a topic as shared with partners."""

_ALIAS = r"^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?$"
_PREFIX = r"^[a-z][a-z0-9_-]{0,39}$"
_HOST_PORT = re.compile(
    r"^(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):(?P<port>\d{1,5})$")


def _deployment_region(code: str) -> str:
    if code == NATIONAL_REGION:
        return code
    try:
        region = Region.known(code)
    except InvalidRegion as exc:
        raise PydanticCustomError("region_code", "{reason}", {"reason": str(exc)}) from exc
    if region.level is not RegionLevel.PROVINCE:
        raise PydanticCustomError(
            "deployment_region",
            "a deployment serves a provincial-level division (PP0000) or, as the national "
            "hub, {national}; {code} is a {level}",
            {"national": NATIONAL_REGION, "code": code, "level": region.level.value})
    return code


def _host_port(value: str) -> str:
    match = _HOST_PORT.fullmatch(value)
    if match is None or not 1 <= int(match["port"]) <= 65535:
        raise PydanticCustomError(
            "bootstrap_server", "'{value}' is not host:port (a port from 1 to 65535)",
            {"value": value})
    return value


Alias = Annotated[str, Field(
    pattern=_ALIAS,
    description="The deployment's name in the federation: the prefix its public topics get "
                "in a partner's cluster. Lower-case letters, digits and inner hyphens, at most "
                "32 characters (no dot: MirrorMaker reads the part before the first dot of a "
                "mirrored topic as the cluster it came from).",
    examples=["tianjin"])]
TopicPrefix = Annotated[str, Field(
    pattern=_PREFIX, description="The deployment's topic prefix (TECHEX_TOPIC_PREFIX).")]
DeploymentRegion = Annotated[str, AfterValidator(_deployment_region), Field(
    description=f"GB/T 2260 code of the province served, or {NATIONAL_REGION} for the "
                "national hub.",
    examples=["130000", NATIONAL_REGION])]
BootstrapServer = Annotated[str, AfterValidator(_host_port)]


class _Deployment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    alias: Alias
    name: str = Field(min_length=1, max_length=100, description="Shown to people, e.g. 天津市.")
    region: DeploymentRegion
    national_hub: bool = Field(
        default=False, description=f"The national hub (its region is {NATIONAL_REGION}).")
    topic_prefix: TopicPrefix = "techex"
    portal_url: HttpUrl | None = Field(
        default=None, description="The deployment's public portal: where a page of what it "
        "publishes is (`page(path)`), e.g. https://jishu.tianjin.example")

    @model_validator(mode="after")
    def _hub_has_the_national_region(self) -> _Deployment:
        if self.national_hub != (self.region == NATIONAL_REGION):
            raise ValueError(
                f"national_hub is true exactly when the region is {NATIONAL_REGION} "
                f"(national_hub {str(self.national_hub).lower()}, region {self.region})")
        return self

    def page(self, path: str) -> str | None:
        """The URL of ``path`` (``/achievements/<id>``) on the deployment's portal, or None
        without a portal."""
        if self.portal_url is None:
            return None
        return str(self.portal_url).rstrip("/") + "/" + path.lstrip("/")

    def public_topics_pattern(self) -> str:
        """The topics this deployment shares (a regular expression, as MirrorMaker's filter)."""
        return public_topics_pattern(self.topic_prefix)


class Partner(_Deployment):
    """A deployment this one mirrors the public topics of, and whose tokens it will trust."""

    bootstrap_servers: list[BootstrapServer] = Field(
        min_length=1, max_length=16,
        description="The partner's Kafka, as reachable from this deployment's MirrorMaker.")
    token_issuer: str | None = Field(
        default=None, min_length=1, max_length=200,
        description="The `iss` of the partner's tokens (with jwks_url: they are trusted here).")
    jwks_url: HttpUrl | None = Field(
        default=None, description="Where the partner publishes its token signing keys.")

    @model_validator(mode="after")
    def _issuer_with_its_keys(self) -> Partner:
        if (self.token_issuer is None) != (self.jwks_url is None):
            raise ValueError("token_issuer and jwks_url go together: give both or neither")
        return self

    @property
    def bootstrap(self) -> str:
        return ",".join(self.bootstrap_servers)


class Federation(_Deployment):
    """This deployment's alias, region and topic prefix, and the partners it mirrors from."""

    partners: list[Partner] = Field(min_length=1, max_length=64)

    @model_validator(mode="after")
    def _partners_distinct(self) -> Federation:
        aliases = [self.alias, *(p.alias for p in self.partners)]
        regions = [self.region, *(p.region for p in self.partners)]
        for what, values in (("alias", aliases), ("region", regions)):
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise ValueError(f"each deployment has its own {what}; repeated: "
                                 + ", ".join(repeated))
        # MirrorMaker takes a mirrored topic's first segment for its cluster: an alias that
        # is also a topic segment would make it skip that topic as a replication cycle.
        segments = {PUBLIC_SEGMENT, self.topic_prefix, *(p.topic_prefix for p in self.partners)}
        clashing = sorted(set(aliases) & segments)
        if clashing:
            raise ValueError("an alias must not be a topic prefix or "
                             f"{PUBLIC_SEGMENT!r}: {', '.join(clashing)}")
        return self

    def partner(self, alias: str) -> Partner:
        for partner in self.partners:
            if partner.alias == alias:
                return partner
        raise KeyError(alias)


class InvalidFederation(ValueError):
    """A partner list that does not validate; ``errors`` names each field and what is wrong."""

    def __init__(self, source: str, errors: list[dict[str, str]]) -> None:
        self.source = source
        self.errors = errors
        lines = "\n".join(f"  {e['field'] or '(file)'}: {e['message']}" for e in errors)
        super().__init__(f"{source} is not a valid partner list:\n{lines}")


def parse_federation(raw: str | bytes | dict[str, Any], source: str = "partner list") -> Federation:
    """Validate a partner list given as JSON text or a decoded mapping."""
    try:
        if isinstance(raw, str | bytes):
            return Federation.model_validate_json(raw)
        return Federation.model_validate(raw)
    except ValidationError as exc:
        raise InvalidFederation(source, field_errors(exc.errors())) from None


def load_federation(path: str | Path) -> Federation:
    """Read and validate a deployment's partner file; :class:`InvalidFederation` if wrong."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidFederation(
            str(path), [{"field": "", "message": exc.strerror or str(exc)}]) from None
    return parse_federation(raw, str(path))


def public_topic(prefix: str, name: str) -> str:
    """A shared topic of the deployment with topic prefix ``prefix``: ``techex.public.catalog``."""
    return f"{prefix}.{PUBLIC_SEGMENT}.{name}"


def public_topics_pattern(prefix: str) -> str:
    """The regular expression matching exactly the public topics under ``prefix``."""
    return rf"{re.escape(prefix)}\.{PUBLIC_SEGMENT}\..*"


def mirrored_topic(alias: str, topic: str) -> str:
    """The name a partner's topic has once mirrored here (MirrorMaker's default policy)."""
    return f"{alias}.{topic}"


def staff_region(federation: Federation) -> str:
    """The region a deployment's own staff carry in their tokens: its own, or at the national
    hub :data:`NATIONAL_STAFF_REGION`."""
    return NATIONAL_STAFF_REGION if federation.national_hub else federation.region
