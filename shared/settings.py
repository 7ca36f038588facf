"""Settings common to every service, read from the environment.

Per-service settings (database URL, HTTP port) live in each service's ``config.py`` with an
env prefix of their own (``LISTING_``, ``AUCTION_`` …); what every process shares is here.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    region: str = Field(default="230000", description="GB/T 2260 code this deployment serves")
    jwt_secret: str = "techex-local-development-secret-change-me"
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
