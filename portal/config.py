"""Where the portal listens and where it reads the public API (env prefix ``PORTAL_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PORT = 8000
"""The embedded default's port, moved by ``TECHEX_PORT_OFFSET`` when `techex up` starts it."""


class PortalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    listing_url: str = Field(default="http://127.0.0.1:8001",
                             description="Base URL of the listing service's public API")
    auction_url: str = Field(default="http://127.0.0.1:8002",
                             description="Base URL of the auction service's public API")
    registry_url: str = Field(default="http://127.0.0.1:8004",
                              description="Base URL of the registry service's public API")
    timeout_seconds: float = Field(default=5.0, gt=0,
                                   description="How long a page waits for the public API")
    page_size: int = Field(default=20, ge=1, le=100)
