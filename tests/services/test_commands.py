"""What the four services' OpenAPI documents promise of every command: it takes an
Idempotency-Key, and says how a key in progress (409) and a key reused (422) are answered."""

from __future__ import annotations

import pytest

from services.auction.api import create_app as auction
from services.listing.api import create_app as listing
from services.registry.api import create_app as registry
from services.settlement.api import create_app as settlement

COMMANDS = ("post", "put", "patch", "delete")
NOT_COMMANDS = {("settlement", "/bank/callbacks")}
"""The bank's signed notices carry their own key (the bank reference) and no caller token."""


@pytest.mark.parametrize("name, create", [("auction", auction), ("listing", listing),
                                          ("registry", registry), ("settlement", settlement)])
def test_every_command_takes_an_idempotency_key(name, create):
    doc = create().openapi()
    commands = [(path, method, op) for path, item in doc["paths"].items()
                for method, op in item.items() if method in COMMANDS
                and (name, path) not in NOT_COMMANDS]
    assert len(commands) >= 4
    for path, method, op in commands:
        where = f"{name} {method.upper()} {path}"
        headers = [p for p in op.get("parameters", []) if p["in"] == "header"
                   and p["name"] == "Idempotency-Key"]
        assert headers and headers[0]["required"] is False, where
        assert "idempotency-key-in-progress" in op["responses"]["409"]["description"], where
        assert "idempotency-key-reused" in op["responses"]["422"]["description"], where
