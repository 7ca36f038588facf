"""The listing seed: deterministic, valid bodies, loaded through the handlers exactly once."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from services.listing import handlers
from services.listing.domain.achievement import PricingRoute, Status
from services.listing.domain.fields import TechField
from services.listing.schemas import AchievementIn, DemandIn
from shared.auth import Role
from shared.clock import ManualClock
from shared.context import Command
from shared.db import create_pool, migrate
from shared.outbox import OutboxWriter
from shared.regions import Region, RegionLevel
from techex.seed import listing as seed

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def data() -> seed.SeedSet:
    return seed.generate()


def test_generate_is_deterministic(data):
    assert seed.generate(2026) == data
    other = seed.generate(7)
    assert other != data
    assert [a.title for a in other.achievements] != [a.title for a in data.achievements]


def test_there_is_enough_of_everything(data):
    assert len(data.achievements) >= 240
    assert len(data.demands) >= 60
    assert sum(len(d.proposals) for d in data.demands) >= 20
    assert any(d.awarded is not None for d in data.demands)
    assert data.interests


def test_every_body_validates(data):
    for a in data.achievements:
        body = AchievementIn.model_validate(a.body)
        assert body.details().missing_for_submission() == [], a.title
        assert 2 <= body.abstract.count("。") <= 4, body.abstract
        assert body.keywords and body.holders and body.inventors
    for d in data.demands:
        body = DemandIn.model_validate(d.body(NOW))
        assert body.deadline > NOW


def test_titles_and_ip_numbers_are_unique(data):
    titles = [a.title for a in data.achievements]
    assert len(set(titles)) == len(titles)
    numbers = [n for a in data.achievements for n in a.body["ip_numbers"]]
    assert len(set(numbers)) == len(numbers)
    patents = [n for n in numbers if n.startswith("ZL")]
    assert len(patents) > 100  # and AchievementIn checked their check digits above


def test_every_region_is_a_known_code_of_the_five_provinces(data):
    for party in data.parties.values():
        region = Region.known(party.region)
        assert region.province.code in seed.PROVINCES, party
        assert region.level in (RegionLevel.CITY, RegionLevel.COUNTY)
    for a in data.achievements:
        assert a.region == data.party(a.seller).region  # the seller files where it is
        assert a.body["holders"][0]["name"] == data.party(a.seller).name
    for d in data.demands:
        assert d.region == data.party(d.enterprise).region
        assert data.party(d.enterprise).kind == "enterprise"
    assert {a.region[:2] + "0000" for a in data.achievements} == set(seed.PROVINCES)
    assert len({a.region for a in data.achievements}) >= 40


def test_a_harbin_university_files_in_a_harbin_district(data):
    hit = [a for a in data.achievements if a.seller == "hit"]
    assert hit
    assert {Region.known(a.region).full_name for a in hit} == {"黑龙江省哈尔滨市南岗区"}


def test_fields_maturity_prices_and_flags(data):
    fields = Counter(a.field for a in data.achievements)
    assert len(fields) >= 8
    assert set(fields) <= set(TechField)
    trls = Counter(a.body["trl"] for a in data.achievements)
    assert sum(trls[t] for t in (4, 5, 6, 7)) > len(data.achievements) / 2
    for a in data.achievements:
        price = a.body["reference_price_fen"]
        if a.body["pricing_route"] != PricingRoute.AUCTION:
            assert price is not None
        if price is not None:
            assert 100_000_00 <= price <= 50_000_000_00
    routes = Counter(a.body["pricing_route"] for a in data.achievements)
    assert set(routes) == set(PricingRoute)
    for flag in ("dual_use", "public_welfare", "cross_border"):
        assert 0 < sum(a.body[flag] for a in data.achievements) < len(data.achievements) / 10


def test_target_states_and_their_steps(data):
    targets = Counter(a.target for a in data.achievements)
    assert 0.70 < targets[Status.PUBLISHED] / len(data.achievements) < 0.80
    assert all(targets[s] for s in (Status.DRAFT, Status.SUBMITTED, Status.UNDER_REVIEW,
                                    Status.REJECTED))
    for a in data.achievements:
        actions = [s.action for s in a.steps]
        assert actions[0] == "create"
        agos = [s.ago for s in a.steps]
        assert agos == sorted(agos, reverse=True) and len(set(agos)) == len(agos)
        assert (a.reject_reason is not None) == (a.target is Status.REJECTED)
        if a.body["cross_border"]:
            assert a.target in (Status.PUBLISHED, Status.UNDER_REVIEW)
            assert "security" in actions and a.security_number
            assert not a.body["dual_use"]
        last = {Status.DRAFT: "create", Status.SUBMITTED: "submit",
                Status.PUBLISHED: "approve", Status.REJECTED: "reject"}.get(a.target)
        if last:
            assert actions[-1] == last
        if a.target is Status.PUBLISHED:
            assert a.steps[-1].ago < seed.DEFAULT_VALIDITY  # still published at "now"


def test_proposals_come_after_the_demand_and_rest_on_published_listings(data):
    by_title = {(a.seller, a.title): a for a in data.achievements}
    for d in data.demands:
        providers = [p.provider for p in d.proposals]
        assert len(set(providers)) == len(providers)
        assert d.enterprise not in providers
        for p in d.proposals:
            assert timedelta(0) < p.ago < d.posted_ago
            assert p.ago < d.posted_ago + d.deadline_in
            if p.listing_title:
                listing = by_title[(p.provider, p.listing_title)]
                assert listing.target is Status.PUBLISHED
                assert listing.steps[-1].ago > p.ago
        if d.awarded is not None:
            assert d.award_ago is not None
            assert d.award_ago < min(p.ago for p in d.proposals)


async def _outbox(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT aggregateid, type, payload FROM outbox ORDER BY seq")


def _name(ce_type: str) -> str:
    return ce_type.removeprefix("cn.techex.").removesuffix(".v1")


async def test_load_writes_every_step_through_the_handlers_once(database_url, data):
    pool = await create_pool(database_url, min_size=1, max_size=4)
    try:
        async with pool.acquire() as conn:
            await migrate(conn, seed.MIGRATIONS)
        # An interrupted earlier run left one listing as a draft: the load completes it.
        started = next(a for a in data.achievements if a.target is Status.PUBLISHED)
        seller = data.party(started.seller).principal(Role.SELLER)
        at = ManualClock(NOW - started.steps[0].ago)
        async with Command(pool, OutboxWriter("listing"), at, None) as tx:
            await handlers.create_achievement(
                tx, seller, region=started.region,
                details=AchievementIn.model_validate(started.body).details())

        counts = await seed.seed_listing(database_url, now=NOW)

        targets = Counter(a.target.value for a in data.achievements)
        proposals = sum(len(d.proposals) for d in data.demands)
        awarded = sum(d.awarded is not None for d in data.demands)
        cross_border = sum(a.body["cross_border"] for a in data.achievements)
        assert counts == {
            "achievements": len(data.achievements) - 1,
            **{f"achievements.{s}": targets[s] for s in
               ("draft", "submitted", "under_review", "published", "rejected")},
            "security_reviews": cross_border, "demands": len(data.demands),
            "demands.awarded": awarded, "proposals": proposals,
            "interests": len(data.interests), "skipped": 0,
        }
        rows = await pool.fetch("SELECT status, count(*) FROM achievements GROUP BY status")
        assert dict(rows) == dict(targets)
        assert await pool.fetchval("SELECT count(*) FROM proposals") == proposals
        assert await pool.fetchval(
            "SELECT count(*) FROM demands WHERE status = 'awarded'") == awarded

        events = await _outbox(pool)
        kinds = Counter(_name(e["type"]) for e in events)
        assert kinds["listing.created"] == len(data.achievements)
        assert kinds["listing.submitted"] == len(data.achievements) - targets["draft"]
        assert kinds["listing.security_reviewed"] == cross_border
        assert kinds["listing.published"] == targets["published"]
        assert kinds["listing.rejected"] == targets["rejected"]
        assert kinds["demand.posted"] == len(data.demands)
        assert kinds["demand.proposal_submitted"] == proposals
        assert kinds["demand.awarded"] == awarded
        # Interests were saved before the listings were published: publication matched them.
        matched = {json.loads(e["payload"])["buyer_id"] for e in events
                   if _name(e["type"]) == "listing.interest_matched"}
        assert matched == {i.buyer for i in data.interests}

        # Each listing's own events, in order, at the planned times, by the right actors.
        ids = {(r["seller_id"], r["title"]): str(r["id"]) for r in await pool.fetch(
            "SELECT id, seller_id, title FROM achievements")}
        assert len(ids) == len(data.achievements)
        history: dict[str, list[dict]] = {}
        for e in events:
            if e["type"].startswith("cn.techex.listing.") and "interest_matched" not in e["type"]:
                history.setdefault(e["aggregateid"], []).append(
                    {"type": _name(e["type"]), **json.loads(e["payload"])})
        event_of = {"create": "listing.created", "submit": "listing.submitted",
                    "security": "listing.security_reviewed", "approve": "listing.published",
                    "reject": "listing.rejected"}
        for a in data.achievements:
            got = [h for h in history[ids[(a.seller, a.title)]]
                   if h["type"] != "listing.review_started"]
            planned = [s for s in a.steps if s.action in event_of]
            assert [h["type"] for h in got] == [event_of[s.action] for s in planned]
            for h, step in zip(got, planned, strict=True):
                assert datetime.fromisoformat(h["occurred_at"]) == NOW - step.ago
            if a.target in (Status.PUBLISHED, Status.REJECTED):
                operator = got[-1]["actor"]
                city = Region.known(operator.removeprefix("exchange-"))
                assert city.contains(a.region) and city.level is not RegionLevel.COUNTY

        again = await seed.load(pool, OutboxWriter("listing"), now=NOW + timedelta(hours=1))
        assert {k: v for k, v in again.items() if v} == {
            "skipped": len(data.achievements) + len(data.demands) + proposals
            + len(data.interests)}
        assert len(await _outbox(pool)) == len(events)
        assert await pool.fetchval("SELECT count(*) FROM achievements") == len(data.achievements)
        assert await pool.fetchval("SELECT count(*) FROM demands") == len(data.demands)
        assert await pool.fetchval("SELECT count(*) FROM interests") == len(data.interests)
    finally:
        await pool.close()
