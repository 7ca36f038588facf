from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class SettlementSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SETTLEMENT_", extra="ignore")

    database_url: str = "postgresql://techex@127.0.0.1:15432/techex_settlement"
    port: int = 8003
