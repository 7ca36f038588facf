"""Secrets that cannot be guessed: outside the embedded default a service refuses to start with
the repository's development secrets (or empty / short ones)."""

from __future__ import annotations

import pytest

from services.listing.api import create_app as listing_app
from services.listing.config import ListingSettings
from services.settlement.api import create_app as settlement_app
from services.settlement.config import SettlementSettings
from shared.settings import (
    DEVELOPMENT_FLAG,
    DEVELOPMENT_JWT_SECRET,
    CommonSettings,
    InsecureSecrets,
    refuse_development_secrets,
)

STRONG = "f3a1c0de9b8e4d2f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d"


@pytest.fixture(autouse=True)
def production(monkeypatch):
    """A process that is not on the embedded default (no flag, no simulation clock)."""
    monkeypatch.delenv(DEVELOPMENT_FLAG, raising=False)
    monkeypatch.delenv("TECHEX_CLOCK_SHIFT_FILE", raising=False)
    for name in ("TECHEX_JWT_SECRET", "TECHEX_JWT_PUBLIC_KEY", "TECHEX_JWKS_URL",
                 "SETTLEMENT_BANK_CALLBACK_SECRET"):
        monkeypatch.delenv(name, raising=False)


def refused(common: CommonSettings, settings) -> list[str]:
    with pytest.raises(InsecureSecrets) as caught:
        refuse_development_secrets(common, settings)
    return caught.value.variables


def test_development_secrets_are_refused_naming_each_variable():
    assert refused(CommonSettings(), SettlementSettings()) == [
        "TECHEX_JWT_SECRET", "SETTLEMENT_BANK_CALLBACK_SECRET"]
    assert refused(CommonSettings(), ListingSettings()) == ["TECHEX_JWT_SECRET"]


@pytest.mark.parametrize("bank", ["", "short", "techex-local-bank-callback-secret-change-me"])
def test_an_empty_short_or_default_bank_secret_is_refused(bank):
    common = CommonSettings(jwt_secret=STRONG)
    assert refused(common, SettlementSettings(bank_callback_secret=bank)) == [
        "SETTLEMENT_BANK_CALLBACK_SECRET"]


def test_strong_secrets_from_the_environment_start(monkeypatch):
    monkeypatch.setenv("TECHEX_JWT_SECRET", STRONG)
    monkeypatch.setenv("SETTLEMENT_BANK_CALLBACK_SECRET", STRONG[::-1])
    refuse_development_secrets(CommonSettings(), SettlementSettings())


def test_a_key_of_the_issuer_replaces_the_token_secret():
    common = CommonSettings(jwks_url="https://sso.example.cn/.well-known/jwks.json")
    assert common.jwt_secret == DEVELOPMENT_JWT_SECRET
    refuse_development_secrets(common, ListingSettings())
    assert refused(common, SettlementSettings()) == ["SETTLEMENT_BANK_CALLBACK_SECRET"]


def test_the_embedded_default_runs_on_the_development_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv(DEVELOPMENT_FLAG, "1")
    assert CommonSettings().embedded_default()
    refuse_development_secrets(CommonSettings(), SettlementSettings())
    monkeypatch.delenv(DEVELOPMENT_FLAG)
    monkeypatch.setenv("TECHEX_CLOCK_SHIFT_FILE", str(tmp_path / "clock-shift"))
    refuse_development_secrets(CommonSettings(), SettlementSettings())


def test_the_message_names_the_variable_and_the_way_out():
    message = str(InsecureSecrets(["SETTLEMENT_BANK_CALLBACK_SECRET"]))
    assert "SETTLEMENT_BANK_CALLBACK_SECRET is the development default" in message
    assert "openssl rand -hex 32" in message
    assert f"{DEVELOPMENT_FLAG}=1" in message


def test_the_service_is_not_built_with_development_secrets():
    with pytest.raises(InsecureSecrets, match="TECHEX_JWT_SECRET"):
        listing_app(ListingSettings())
    with pytest.raises(InsecureSecrets, match="SETTLEMENT_BANK_CALLBACK_SECRET"):
        settlement_app(SettlementSettings(), CommonSettings(jwt_secret=STRONG))
    app = settlement_app(SettlementSettings(bank_callback_secret=STRONG[::-1]),
                         CommonSettings(jwt_secret=STRONG))
    assert app.title == "techex settlement service"
