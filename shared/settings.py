"""Settings common to every service, read from the environment.

Per-service settings (database URL, HTTP port) live in each service's ``config.py`` with an
env prefix of their own (``LISTING_``, ``AUCTION_`` …); what every process shares is here.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from shared.federation import Federation
    from shared.subplatforms import Subplatforms

DEVELOPMENT_JWT_SECRET = "techex-local-development-secret-change-me"
"""The embedded default's token secret: in the repository, so anyone can sign with it."""
MIN_SECRET_BYTES = 32
"""RFC 7518 §3.2: an HMAC key at least as long as the hash (SHA-256)."""
DEVELOPMENT_FLAG = "TECHEX_DEVELOPMENT"


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TECHEX_", extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:19092",
        validation_alias="KAFKA_BOOTSTRAP_SERVERS",
        description="Kafka bootstrap servers; the embedded default broker when unset.",
    )
    topic_prefix: str = "techex"
    topic_partitions: int = 4
    topic_replication: int | None = Field(
        default=None, ge=1,
        description="Replication factor of the topics a service creates when they are missing; "
                    "unset: 3 on a cluster of three or more brokers, else one per broker (see "
                    "shared.kafka.replication_for).")
    region: str = Field(default="230000", description=(
        "GB/T 2260 code of the province this deployment serves (000000: the national hub); "
        "with a federation file, the file's region unless given, and then it must agree."))
    federation_file: Path | None = Field(default=None, description=(
        "This deployment's partner file (shared.federation): whose public topics it reads "
        "and whose tokens it trusts. Unset: a deployment without partners."))
    subplatforms_file: Path | None = Field(default=None, description=(
        "This deployment's sub-platforms (shared.subplatforms): the provincial platform and "
        "the city and county ones, with their operators, fees, review deadlines, targets and "
        "subsidy policy; they lie inside TECHEX_REGION. Unset: the example techex ships for "
        "that province (Heilongjiang, Hebei, Liaoning, Tianjin, Fujian), else none (the "
        "services' own settings apply)."))
    jwt_secret: str = DEVELOPMENT_JWT_SECRET
    jwt_public_key: str | None = None
    jwks_url: str | None = None
    jwt_issuer: str = "techex"
    jwt_audience: str = "techex"
    log_level: str = "INFO"
    clock_shift_file: Path | None = Field(
        default=None,
        description="Run on a simulation clock moved forward by the offset in this file "
                    "(training and demonstration deployments; see `techex clock`).",
    )

    idempotency_retention_days: float = Field(
        default=30, gt=0,
        description="How long an Idempotency-Key's answer is kept for retries, then swept.")
    inbox_retention_days: float = Field(
        default=30, gt=0,
        description="How long a consumer remembers an event it handled, then swept; keep it "
                    "longer than the topics' retention (Kafka's default is 7 days), or a "
                    "redelivered event would be applied again.")
    retention_sweep_seconds: float = Field(
        default=3600, gt=0, description="How often each process sweeps expired rows.")
    development: bool = Field(
        default=False,
        description="Run on the embedded default's development secrets (TECHEX_DEVELOPMENT=1: "
                    "tests, benchmarks, a developer's `techex serve`). Never in production.",
    )

    # Rate limits: a token bucket of `burst` requests, refilled at `rate` per second (0: none).
    bid_rate: float = Field(default=5.0, ge=0, description=(
        "Bids per second one account may place, sustained: auction bids, proxy maxima and "
        "listing-trade bids together."))
    bid_burst: int = Field(default=20, ge=1, description="Bids one account may place at once.")
    search_rate: float = Field(default=5.0, ge=0, description=(
        "Searches and matching requests per second of one account."))
    search_burst: int = Field(default=30, ge=1)
    unauthenticated_rate: float = Field(default=1.0, ge=0, description=(
        "Requests per second from one client address that carry no valid token (each 401)."))
    unauthenticated_burst: int = Field(default=20, ge=1)
    bank_callback_rate: float = Field(default=50.0, ge=0, description=(
        "Bank callbacks per second from one client address."))
    bank_callback_burst: int = Field(default=500, ge=1)
    public_rate: float = Field(default=20.0, ge=0, description=(
        "Requests per second from one client address on the public (anonymous) surfaces."))
    public_burst: int = Field(default=60, ge=1)

    def embedded_default(self) -> bool:
        """Whether this process runs on the embedded default (a development flag or the
        simulation clock), where the repository's development secrets are allowed."""
        return self.development or self.clock_shift_file is not None

    @model_validator(mode="after")
    def _region_of_the_federation(self) -> CommonSettings:
        federation = self.federation
        if federation is not None:
            if "region" not in self.model_fields_set:
                self.region = federation.region
            elif self.region != federation.region:
                raise ValueError(f"TECHEX_REGION {self.region} is not the region of the "
                                 f"federation file {self.federation_file} ({federation.region})")
        return self

    @model_validator(mode="after")
    def _subplatforms_of_the_province(self) -> CommonSettings:
        """Defined after the federation's check, which may set the region: the deployment's
        province is checked, and its sub-platform file read, on start."""
        from shared.subplatforms import deployment_region

        deployment_region(self.region)
        _ = self.subplatforms
        return self

    @cached_property
    def subplatforms(self) -> Subplatforms | None:
        """The sub-platform file (or the province's example), validated
        (``InvalidSubplatforms`` names what is wrong), or None without either."""
        from shared.subplatforms import example_file, load_subplatforms

        path = self.subplatforms_file or example_file(self.region)
        return None if path is None else load_subplatforms(path, province=self.region)

    @cached_property
    def federation(self) -> Federation | None:
        """The partner file, validated (``InvalidFederation`` names what is wrong), or None."""
        if self.federation_file is None:
            return None
        from shared.federation import load_federation  # the file's model needs the regions

        return load_federation(self.federation_file)

    def partner_topics(self, aggregate: str) -> dict[str, str]:
        """Where the partners' public ``aggregate`` (``public.catalog``) arrives here, mirrored:
        topic -> partner alias (``tianjin.techex.public.catalog`` -> ``tianjin``)."""
        federation = self.federation
        if federation is None:
            return {}
        return {f"{p.alias}.{p.topic_prefix}.{aggregate}": p.alias for p in federation.partners}

    def topic(self, aggregate: str) -> str:
        """Kafka topic carrying one aggregate type's events."""
        return f"{self.topic_prefix}.{aggregate}"

    def group(self, consumer: str) -> str:
        """Kafka consumer group of one consumer (a service), prefixed like the topics so two
        deployments sharing a cluster under different prefixes never share a group."""
        return f"{self.topic_prefix}.{consumer}"


class ServiceSettings(BaseSettings):
    """What one service process needs besides the common settings.

    Each service subclasses this in its ``config.py`` with its own env prefix, e.g.
    ``LISTING_DATABASE_URL`` and ``LISTING_PORT``.
    """

    model_config = SettingsConfigDict(extra="ignore")

    secret_fields: ClassVar[Sequence[str]] = ()
    """Fields holding a secret whose default is a development value (see
    :func:`refuse_development_secrets`)."""

    database_url: str
    host: str = "127.0.0.1"
    port: int
    db_pool_min: int = 2
    db_pool_max: int = 20
    db_acquire_timeout: float = Field(
        default=5.0, gt=0,
        description="Seconds a request waits for a pooled connection before it is answered "
                    "503 database-unavailable.")
    db_command_timeout: float = Field(
        default=30.0, gt=0, description="Seconds a statement may take (migrations excepted).")
    db_connect_timeout: float = Field(
        default=5.0, gt=0, description="Seconds to open a connection to the server.")
    consumer_batch: int = 500
    consumer_retries: int = 3
    relay_batch: int = 1000


class InsecureSecrets(RuntimeError):
    """A service was asked to start outside the embedded default with a development or
    guessable secret; ``variables`` names the environment variables to set."""

    def __init__(self, variables: Sequence[str]) -> None:
        self.variables = list(variables)
        names = ", ".join(self.variables)
        super().__init__(
            f"refusing to start: {names} {'is' if len(self.variables) == 1 else 'are'} the "
            f"development default, empty or shorter than {MIN_SECRET_BYTES} bytes. Set "
            f"{'it' if len(self.variables) == 1 else 'each'} to a long random value (e.g. "
            f"`openssl rand -hex 32`), or set {DEVELOPMENT_FLAG}=1 to run on the embedded "
            "default's development secrets (never in production).")


def _env_name(settings: BaseSettings, name: str) -> str:
    return f"{settings.model_config.get('env_prefix', '')}{name}".upper()


def _guessable(settings: BaseSettings, name: str) -> bool:
    value = getattr(settings, name)
    default = type(settings).model_fields[name].default
    return value == default or len(str(value).encode()) < MIN_SECRET_BYTES


def refuse_development_secrets(common: CommonSettings, settings: ServiceSettings) -> None:
    """Raise :class:`InsecureSecrets` unless every secret the service uses cannot be guessed
    from the repository, or the process runs on the embedded default.

    The token secret counts only when tokens are verified with it (HS256): a public key or a
    JWKS endpoint replaces it.
    """
    if common.embedded_default():
        return
    weak = []
    if not (common.jwt_public_key or common.jwks_url) and _guessable(common, "jwt_secret"):
        weak.append(_env_name(common, "jwt_secret"))
    weak += [_env_name(settings, n) for n in settings.secret_fields if _guessable(settings, n)]
    if weak:
        raise InsecureSecrets(weak)
