from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class ListingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LISTING_", extra="ignore")

    database_url: str = "postgresql://techex@127.0.0.1:15432/techex_listing"
    port: int = 8001
    listing_validity_days: int = 365
    """How long a published listing stays published without a transaction."""
    gauge_refresh_seconds: float = 15.0
