"""The portal's unit tests: the portal served by uvicorn on a port of its own, over a fake
public API (a real HTTP server answering the contract from fixture files)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from portal.app import create_app
from portal.config import PortalSettings
from tests.portal.fake_api import FakePublicApi


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PortalServer:
    def __init__(self, settings: PortalSettings) -> None:
        self.url = f"http://127.0.0.1:{settings.port}"
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=settings.port,
                                log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> PortalServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the portal did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def api() -> Iterator[FakePublicApi]:
    with FakePublicApi() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _no_failures(api: FakePublicApi) -> None:
    api.fail.clear()
    api.stream_hold = 0.0


@pytest.fixture(scope="module")
def portal(api: FakePublicApi) -> Iterator[PortalServer]:
    settings = PortalSettings(port=_free_port(), listing_url=api.url, auction_url=api.url,
                              registry_url=api.url, timeout_seconds=3)
    with PortalServer(settings) as server:
        yield server


@pytest.fixture
def browser(portal: PortalServer) -> Iterator[httpx.Client]:
    """Plain HTTP to the portal, as a browser sends it (redirects not followed)."""
    with httpx.Client(base_url=portal.url, timeout=10) as client:
        yield client
