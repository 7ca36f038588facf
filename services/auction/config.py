from pathlib import Path

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
    calendar_file: Path | None = None
    """Official working-day calendars of years the chinesecalendar package does not know yet
    (see services/auction/calendar_file.py)."""
    advertised_url: str | None = None
    """Where the other auction-service processes reach this one, e.g. ``http://10.0.3.7:8002``
    (in Kubernetes, the pod's IP). A request for an auction that another process writes is
    forwarded to that process's URL. Unset: ``http://<host>:<port>`` when ``host`` is a
    concrete address; empty: never forward (answer 409 auction-owned-elsewhere)."""

    def own_url(self) -> str | None:
        if self.advertised_url is not None:
            return self.advertised_url.rstrip("/") or None
        if self.host in ("0.0.0.0", "::", ""):
            return None
        return f"http://{self.host}:{self.port}"
