from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class AuctionSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUCTION_", extra="ignore")

    database_url: str = "postgresql://techex@127.0.0.1:15432/techex_auction"
    port: int = 8002
    lease_seconds: float = 10.0
    """How long a process owns an auction without renewing; a takeover waits this long."""
    max_batch: int = 1024
    """Most bids written in one transaction."""
