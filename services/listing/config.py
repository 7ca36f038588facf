from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class ListingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LISTING_", extra="ignore")

    database_url: str = "postgresql://techex@127.0.0.1:15432/techex_listing"
    port: int = 8001
    listing_validity_days: int = 365
    """How long a published listing stays published without a transaction."""
    gauge_refresh_seconds: float = 15.0
    webhooks_per_account: int = 10
    webhook_max_attempts: int = 8
    """A delivery failing this many times is dead."""
    webhook_backoff_seconds: float = 10.0
    """The wait after the first failed attempt; it doubles after each one."""
    webhook_backoff_cap_seconds: float = 3600.0
    webhook_timeout_seconds: float = 5.0
    webhook_poll_seconds: float = 2.0
    """How often due webhook deliveries are looked for."""
    webhook_batch: int = 50
    notification_stream_poll_seconds: float = 1.0
    """How often a notification stream looks for new notifications."""
    notification_stream_seconds: float = 300.0
    """How long one notification stream stays open before the client reconnects."""
