from decimal import Decimal

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")

    database_url: str = "postgresql://techex@127.0.0.1:15432/techex_registry"
    port: int = 8004
    review_days: int = 30
    """Days a registrar has to decide a filing (national rule 30; some provinces 7–15)."""
    growth_target_percent: Decimal = Decimal("8")
    """Year-on-year turnover growth the statistics compare against (Heilongjiang: ≥ 8 %)."""
    gauge_seconds: float = 15.0
    """How often the pending / overdue filings gauges are recounted."""
