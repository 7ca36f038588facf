"""What the public API may show, field by field: every public view model of every service is
compared with this allow-list, so a private field cannot reach the public by accident (a new
field needs a line here, in review)."""

from __future__ import annotations

import importlib

import pytest
from pydantic import BaseModel

ALLOWED: dict[str, set[str]] = {
    # listing
    "PublicAchievementHit": {"id", "title", "abstract", "field", "region", "trl", "ip_type",
                             "pricing_route", "reference_price_fen", "status", "published_at",
                             "highlight", "score", "origin", "origin_url"},
    "PublicOrigin": {"alias", "region", "name"},
    "PublicAchievement": {"id", "title", "abstract", "field", "industry", "keywords", "ip_type",
                          "ip_numbers", "trl", "holders", "inventors", "transfer_mode",
                          "pricing_route", "reference_price_fen", "region", "seller_id",
                          "status", "published_at", "expires_at"},
    "PublicDemandHit": {"id", "title", "description", "field", "region", "mode", "min_trl",
                        "budget_fen", "deadline", "status", "created_at"},
    "PublicHolder": {"name", "kind"},
    "PublicDemand": {"id", "enterprise_id", "title", "description", "field", "keywords",
                     "region", "mode", "budget_fen", "min_trl", "deadline", "status",
                     "created_at", "proposals_count"},
    # auction
    "PublicProcedure": {"id", "route", "listing_id", "title", "field", "region", "status",
                        "announced_at", "starts_at", "ends_at", "price_fen", "high_bid_fen",
                        "bid_count", "result"},
    "PublicResult": {"outcome", "price_fen", "winner_number", "failure", "ended_at"},
    "PublicAuction": {"id", "listing_id", "title", "region", "start_price_fen", "increment_fen",
                      "deposit_fen", "has_reserve", "starts_at", "ends_at", "status",
                      "high_bid_fen", "high_bidder_number", "bid_count", "result"},
    "PublicBid": {"bidder_number", "sequence", "amount_fen", "at", "automatic"},
    "PublicLiveBid": {"bidder_number", "sequence", "amount_fen", "at", "automatic",
                      "high_bid_fen", "ends_at"},
    "PublicExtended": {"ends_at"},
    "PublicClosed": {"result"},
    "PublicListingTrade": {"id", "listing_id", "title", "region", "price_fen", "status",
                           "period_ends_at", "ends_at", "bid_count", "high_bid_fen", "result"},
    "PublicNotice": {"id", "listing_id", "title", "region", "price_fen", "published_at",
                     "objection_until", "status", "objections"},
    "PublicObjection": {"id", "reason", "filed_at", "status", "outcome"},
    # registry
    "PublicStatistics": {"region", "name", "year", "month", "published_at", "contracts",
                         "tech_amount_fen", "previous_year_tech_amount_fen", "growth_percent",
                         "by_region", "by_category", "by_flow", "target", "subplatforms",
                         "cross_province"},
    "PublicCrossProvince": {"outflow", "inflow"},
    "PublicCrossProvinceRow": {"region", "name", "contracts", "amount_fen"},
    "PublicNationalStatistics": {"year", "month", "published_at", "contracts",
                                 "tech_amount_fen", "by_province", "by_category", "by_field"},
    "PublicStatisticsRow": {"key", "name", "contracts", "tech_amount_fen"},
    # registry: the sub-platforms (GET /public/subplatforms) and their targets' progress
    "PublicSubplatform": {"region", "region_name", "level", "parent", "name", "operator",
                          "fees", "review_days", "subsidy_policy", "targets"},
    "PublicFees": {"set_by", "auction", "listing", "negotiated"},
    "PublicFeeSchedule": {"tiers", "minimum_fen", "maximum_fen"},
    "PublicFeeTier": {"up_to_fen", "rate_bp"},
    "PublicYearTarget": {"year", "growth_percent", "amount_fen", "contracts"},
    "PublicTargetProgress": {"region", "name", "year", "through_month", "target", "contracts",
                             "tech_amount_fen", "previous_year_tech_amount_fen",
                             "growth_percent", "amount_progress_percent",
                             "contracts_progress_percent", "growth_met", "amount_met",
                             "contracts_met"},
    # records: the chain's head and digests, a certificate's online verification
    "PublicChainHead": {"seq", "head", "last_digest"},
    "PublicDigest": {"day", "seq", "head", "events", "digested_at"},
    "PublicDigests": {"items", "next_before"},
    "PublicCertificate": {"number", "kind", "status", "cancelled_at", "issued_at", "region",
                          "achievement", "route", "price_fen", "concluded_at", "settled_at",
                          "seller_name", "registration_number", "registered_at", "category",
                          "tech_amount_fen", "digest", "signature", "signature_valid",
                          "pdf_sha256"},
    "PublicPdfCheck": {"number", "matches", "sha256", "status"},
    "PublicSigningKey": {"kty", "crv", "x", "use", "alg"},
}
"""Field names a public model may have; pages have ``items`` and ``next_cursor`` only."""

NEVER = {"bidder_id", "winner_id", "buyer_id", "reject_reason", "security_review", "dual_use",
         "contact", "objector", "objector_name", "reserve_fen", "max_fen", "token", "email",
         "phone"}
"""Fields no public model may have whatever its name (the objection form takes a name and a
contact in, and is an input model: it is not shown)."""

PAGE = {"items", "next_cursor"}

SERVICES = ("listing", "auction", "registry", "records")


def _public_models() -> list[type[BaseModel]]:
    models = []
    for service in SERVICES:
        schemas = importlib.import_module(f"services.{service}.schemas")
        declared = getattr(schemas, "PUBLIC_MODELS", None)
        assert declared, f"services.{service}.schemas declares no PUBLIC_MODELS"
        models += list(declared)
    return models


def test_every_public_model_is_on_the_allow_list() -> None:
    for model in _public_models():
        fields = set(model.model_fields)
        name = model.__name__.split("[")[0]
        if name.endswith("Page"):
            assert fields == PAGE, f"{name} is a page: {sorted(fields)}"
        elif name in ALLOWED:
            extra = fields - ALLOWED[name]
            assert not extra, f"{name} shows {sorted(extra)} beyond its allow-list"
        elif name.endswith("In"):
            continue  # an input form, never answered
        else:
            assert not fields & NEVER, f"{name} shows {sorted(fields & NEVER)}"
        assert not fields & NEVER or name.endswith("In"), f"{name}: {sorted(fields & NEVER)}"


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_the_allow_list_names_models_that_exist(name: str) -> None:
    names = {m.__name__.split("[")[0] for m in _public_models()}
    assert name in names, f"{name} is allowed but no service declares it"


def test_public_models_are_not_private_ones_in_disguise() -> None:
    """A public view is its own model: not a subclass of a model the private API answers."""
    for model in _public_models():
        for base in model.__mro__[1:]:
            if isinstance(base, type) and issubclass(base, BaseModel) and base is not BaseModel:
                assert base.__name__.startswith(("Public", "Page", "Generic")), \
                    f"{model.__name__} inherits {base.__name__}"
