"""The deploy checks run Debian's promtool; it is installed the way `techex test` does."""

from __future__ import annotations

import pytest

from techex.stack.prometheus import ensure_prometheus, promtool


@pytest.fixture(scope="session")
def promtool_bin() -> str:
    ensure_prometheus(log=lambda msg: print(f"[prometheus] {msg}", flush=True))
    return promtool()
