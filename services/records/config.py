from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class RecordsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RECORDS_", extra="ignore")
    secret_fields: ClassVar[tuple[str, ...]] = ("signing_key",)

    database_url: str = "postgresql://techex@127.0.0.1:15432/techex_records"
    port: int = 8005
    signing_key: str | None = Field(default=None, description=(
        "The exchange's Ed25519 private key (PKCS#8 PEM) certificates are signed with. "
        "Required outside the embedded default, which makes one and keeps it in the "
        "records database."))
    public_url: str = Field(default="http://127.0.0.1:8005", description=(
        "Where anyone reaches this service's public API: printed on certificates for "
        "their online verification."))
    issuer: str = Field(default="techex 技术交易市场", max_length=100,
                        description="The exchange's name on certificates and reports.")
    digest_check_seconds: float = 30.0
    """How often the service looks for an ended day whose digest is not yet published."""
    render_seconds: float = 1.0
    """How often certificates issued since are rendered as PDF (and announced)."""
    gauge_seconds: float = 15.0
