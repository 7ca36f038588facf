"""Demonstration data for the listing service: the exchanges of 黑龙江, 河北, 辽宁, 天津, 福建.

Demo tooling, not part of the service: it drives the listing service's own handlers.

``generate(seed)``
    Pure and deterministic: a :class:`SeedSet` of achievements (with the state each should end
    in and when each step happened, as offsets before "now"), demands with proposals and awards,
    and buyers' saved interests. Every achievement body validates against ``AchievementIn``
    and every ``SeedDemand.body(now)`` against ``DemandIn``.

``load(pool, outbox, *, now, seed)``
    Writes a seed set through the listing's command handlers, one transaction context
    (:class:`shared.context.Command`, on a clock standing at the step's time) per command, so
    every row has its events in the outbox exactly as if it had come through the API:
    create → submit → (start review) → (security review, for cross-border listings) →
    approve / reject; post demand → proposals → award; saved interests (before the listings
    are published, so publication also records the interest matches).

``seed_listing(database_url, *, now=None)``
    Opens a pool, applies the listing migrations, loads, closes. The ``techex seed`` command
    calls it for the listing service's database.

Idempotency
    The handlers choose their own (random) ids, so the seed cannot fix ids in advance. Each
    seed item has a natural key instead — an achievement is (seller, title), a demand
    (enterprise, title), a proposal (demand, provider), an interest (buyer, query) — and titles
    are unique within a seed set. ``load`` reads what already exists for the seed's parties and
    performs only the steps not yet done: a second run creates nothing, and a run that was
    interrupted is completed by the next one (a listing left as a draft is submitted and
    reviewed as planned). A listing that has since moved off the seed's path (withdrawn,
    in a transaction, traded, expired) is left alone. Runs are serialised by an advisory lock.
    Seed sellers act under their slugs (``hit``, ``dicp`` …), so a token for such a subject sees
    the seeded listings as its own.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

import services.listing
from services.listing import handlers
from services.listing.config import ListingSettings
from services.listing.domain.achievement import PricingRoute, Status, TransferMode
from services.listing.domain.demand import CallMode
from services.listing.domain.fields import TechField
from services.listing.domain.ip import IpType, patent_check_digit
from services.listing.schemas import AchievementIn, DemandIn
from shared.auth import Principal, Role
from shared.clock import ManualClock, SystemClock
from shared.context import Command
from shared.db import create_pool, migrate
from shared.outbox import OutboxWriter
from shared.regions import Region, RegionLevel
from techex.seed.vocabulary import (
    DEMANDS,
    DUAL_USE_REJECT_REASON,
    FJ,
    GIVEN_CHARS,
    HEB,
    HLJ,
    LN,
    PARTIES,
    PROPOSAL_APPROACHES,
    PROVINCE_ABBR,
    REJECT_REASONS,
    SUFFIXES,
    SURNAMES,
    TECHS,
    TJ,
    VARIETIES,
    DemandRow,
    TechRow,
    VarietyRow,
)

__all__ = [
    "PROVINCES",
    "Party",
    "SeedAchievement",
    "SeedDemand",
    "SeedInterest",
    "SeedProposal",
    "SeedSet",
    "Step",
    "generate",
    "load",
    "seed_listing",
]

MIGRATIONS = Path(services.listing.__file__).resolve().parent / "migrations"
PROVINCES = ("230000", "130000", "210000", "120000", "350000")
"""The provincial-level divisions the seed covers."""

ACHIEVEMENTS_PER_PROVINCE = {HLJ: 56, HEB: 50, LN: 54, TJ: 50, FJ: 50}
DEMANDS_PER_PROVINCE = 12
STATUS_SHARES = {  # the rest is published (~75 %)
    Status.DRAFT: 0.06, Status.SUBMITTED: 0.06, Status.UNDER_REVIEW: 0.07,
    Status.REJECTED: 0.06,
}
CROSS_BORDER = {Status.PUBLISHED: 8, Status.UNDER_REVIEW: 2}
DEFAULT_VALIDITY = timedelta(days=365)
_LOCK = 7_301_000_101  # pg_advisory_lock key: one seed load at a time per database
_DAY = 86_400

_TRL_WEIGHTS = (1, 2, 5, 12, 16, 18, 14, 7, 4)  # TRL 1 … 9, weighted toward 4–7
_RANGE = re.compile(r"\{(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)\}")
_REGULATOR = {HLJ: "hlj-kjt", HEB: "heb-kjt", LN: "ln-kjt", TJ: "tj-kjj", FJ: "fj-kjt"}


# -- the seed set ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Party:
    """A university, institute or enterprise; its slug is its subject on the exchange."""

    slug: str
    name: str
    kind: str  # university | institute | enterprise
    region: str
    fields: tuple[TechField, ...]

    @property
    def province(self) -> str:
        return self.region[:2] + "0000"

    def holder(self) -> dict[str, str]:
        return {"name": self.name, "kind": self.kind}

    def principal(self, role: Role) -> Principal:
        return Principal(subject=self.slug, role=role, region=Region.known(self.region),
                         claims={})


@dataclass(frozen=True)
class Step:
    """One command of a listing's life, ``ago`` before the load's ``now``."""

    action: str  # create | submit | review | security | approve | reject
    ago: timedelta


@dataclass(frozen=True)
class SeedAchievement:
    seller: str
    body: dict[str, Any]
    """An ``AchievementIn`` body."""
    target: Status
    steps: tuple[Step, ...]
    reject_reason: str | None = None
    security_number: int | None = None
    """The serial of the cross-border security review's document number, if it has one."""

    @property
    def title(self) -> str:
        return self.body["title"]

    @property
    def region(self) -> str:
        return self.body["region"]

    @property
    def field(self) -> TechField:
        return TechField(self.body["field"])

    def step(self, action: str) -> Step | None:
        return next((s for s in self.steps if s.action == action), None)


@dataclass(frozen=True)
class SeedProposal:
    provider: str
    listing_title: str | None
    """Title of one of the provider's own seed listings the proposal rests on, if any."""
    price_fen: int | None
    summary: str
    ago: timedelta


@dataclass(frozen=True)
class SeedDemand:
    enterprise: str
    title: str
    description: str
    region: str
    field: TechField
    keywords: tuple[str, ...]
    mode: CallMode
    budget_fen: int | None
    min_trl: int
    posted_ago: timedelta
    deadline_in: timedelta
    """The deadline is this long after the load's ``now``."""
    proposals: tuple[SeedProposal, ...] = ()
    awarded: int | None = None
    """Index of the proposal the enterprise awards, if it awards one."""
    award_ago: timedelta | None = None

    def body(self, now: datetime) -> dict[str, Any]:
        """The ``DemandIn`` body of this demand for a load at ``now``."""
        return {
            "title": self.title, "description": self.description, "region": self.region,
            "field": self.field.value, "keywords": list(self.keywords), "mode": self.mode.value,
            "budget_fen": self.budget_fen, "min_trl": self.min_trl,
            "deadline": (now + self.deadline_in).isoformat(),
        }


@dataclass(frozen=True)
class SeedInterest:
    buyer: str
    query: str
    field: TechField | None
    min_trl: int | None
    max_price_fen: int | None
    ago: timedelta


@dataclass(frozen=True)
class SeedSet:
    parties: dict[str, Party]
    achievements: tuple[SeedAchievement, ...]
    demands: tuple[SeedDemand, ...]
    interests: tuple[SeedInterest, ...]

    def party(self, slug: str) -> Party:
        return self.parties[slug]


# -- generation --------------------------------------------------------------------------------

def generate(seed: int = 2026) -> SeedSet:
    """The seed set for ``seed``: the same seed always gives an equal set."""
    return _Generator(random.Random(seed)).run()


class _Generator:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.parties = {p.slug: Party(*p) for p in PARTIES}
        self.titles: set[str] = set()
        self.numbers: set[str] = set()
        self.security_serials: Counter[str] = Counter()

    def run(self) -> SeedSet:
        drafts = []
        for province, count in ACHIEVEMENTS_PER_PROVINCE.items():
            for _ in range(count):
                drafts.append(self._achievement(province))
        achievements = self._lifecycles(drafts)
        demands = []
        for province in ACHIEVEMENTS_PER_PROVINCE:
            used: set[tuple[str, str]] = set()
            for _ in range(DEMANDS_PER_PROVINCE):
                demands.append(self._demand(province, used, achievements))
        demands = self._awards(demands)
        return SeedSet(parties=self.parties, achievements=tuple(achievements),
                       demands=tuple(demands), interests=tuple(self._interests(achievements)))

    # -- achievements --------------------------------------------------------------------------
    def _sellers(self, province: str) -> list[Party]:
        return [p for p in self.parties.values() if p.region[:2] == province]

    def _achievement(self, province: str) -> dict[str, Any]:
        rng = self.rng
        sellers = self._sellers(province)
        weights = [1 if p.kind == "enterprise" else 3 for p in sellers]
        for _ in range(200):
            seller = rng.choices(sellers, weights)[0]
            field = rng.choice(seller.fields)
            options: list[tuple[TechRow | VarietyRow, str]] = [
                (t, t.core + suffix)
                for t in TECHS if t.field is field and (not t.provinces or province in t.provinces)
                for suffix in SUFFIXES[t.kind] if t.core + suffix not in self.titles
            ]
            if field is TechField.AGRICULTURE and "农" in seller.name:
                options += [(v, "") for v in VARIETIES if province in v.provinces]
            if not options:
                continue
            tech, title = rng.choice(options)
            if isinstance(tech, VarietyRow):
                title = self._variety_title(tech)
            if title in self.titles:
                continue
            self.titles.add(title)
            return self._body(seller, tech, title)
        raise RuntimeError(f"the vocabulary has too few technologies for province {province}")

    def _variety_title(self, v: VarietyRow) -> str:
        return f"{v.trait}{v.crop}新品种“{v.prefix}{self.rng.randint(101, 399)}”"

    def _body(self, seller: Party, tech: TechRow | VarietyRow, title: str) -> dict[str, Any]:
        rng = self.rng
        variety = isinstance(tech, VarietyRow)
        trl = (rng.choices((6, 7, 8, 9), (2, 4, 4, 2))[0] if variety
               else rng.choices(range(1, 10), _TRL_WEIGHTS)[0])
        ip_type, numbers = self._ip(tech, trl)
        holders = [seller.holder()]
        partner_kinds = ("university", "institute") if seller.kind == "enterprise" else (
            "enterprise",)
        partners = [p for p in self._sellers(seller.region[:2])
                    if p.kind in partner_kinds and set(p.fields) & set(seller.fields)]
        if partners and rng.random() < (0.15 if seller.kind == "enterprise" else 0.2):
            holders.append(rng.choice(partners).holder())
        route = rng.choices(list(PricingRoute), (2, 3, 4))[0]
        price = self._price(trl)
        if route is PricingRoute.AUCTION and rng.random() < 0.2:
            price = None  # the starting price is set when the auction is announced
        if variety:
            assert isinstance(tech, VarietyRow)
            name = title.split("“")[1].rstrip("”")
            field, industry = TechField.AGRICULTURE, "种子种苗培育"
            keywords = [tech.crop, "新品种", name]
            abstract = (
                f"针对{tech.crop}生产中{tech.issue}的问题，本成果以优质高产品系为亲本，"
                f"经多年杂交选育和多点鉴定育成{tech.trait}{tech.crop}新品种“{name}”。"
                f"{self._fill(tech.result)}。适宜在{tech.application}种植推广。"
            )
            if rng.random() < 0.6:
                abstract += "已通过省级品种审定并获得植物新品种权。"
            dual_use = public_welfare = False
        else:
            assert isinstance(tech, TechRow)
            field, industry = tech.field, tech.industry
            keywords = list(tech.keywords)
            if rng.random() < 0.3:
                keywords.append(field.label)
            sentences = [f"针对{tech.problem}，本成果{self._fill(tech.method)}。",
                         f"{self._evidence(trl, tech.kind)}{self._fill(tech.result)}。"]
            if rng.random() < 0.75:
                sentences.append(f"成果可应用于{tech.application}。")
            if rng.random() < 0.6:
                sentences.append(self._maturity(trl))
            abstract = "".join(sentences)
            dual_use = tech.dual_use and rng.random() < 0.5
            public_welfare = tech.public_welfare and rng.random() < 0.5
        return {
            "title": title, "abstract": abstract, "region": seller.region,
            "field": field.value, "industry": industry, "keywords": keywords,
            "ip_type": ip_type.value, "ip_numbers": numbers, "trl": trl, "holders": holders,
            "inventors": self._inventors(3 if seller.kind == "enterprise" else 5),
            "transfer_mode": self._transfer_mode(trl, variety).value,
            "pricing_route": route.value, "reference_price_fen": price,
            "dual_use": dual_use, "public_welfare": public_welfare, "cross_border": False,
            # not part of the body: who files it
            "_seller": seller.slug,
        }

    def _ip(self, tech: TechRow | VarietyRow, trl: int) -> tuple[IpType, list[str]]:
        rng = self.rng
        if isinstance(tech, VarietyRow):
            return IpType.PLANT_VARIETY, [self._number("CNA", rng.randint(2015, 2023), "",
                                                        rng.randint(1, 9999), 4)]
        table = {
            "software": ((IpType.SOFTWARE_COPYRIGHT, 6), (IpType.PATENT_INVENTION, 3),
                         (IpType.PATENT_APPLICATION, 2)),
            "device": ((IpType.PATENT_INVENTION, 5), (IpType.PATENT_UTILITY, 4),
                       (IpType.PATENT_APPLICATION, 2), (IpType.PATENT_DESIGN, 1),
                       (IpType.TRADE_SECRET, 1)),
        }.get(tech.kind, ((IpType.PATENT_INVENTION, 7), (IpType.PATENT_APPLICATION, 3),
                          (IpType.TRADE_SECRET, 2)))
        ip_type = rng.choices([t for t, _ in table], [w for _, w in table])[0]
        if trl <= 3 and ip_type in (IpType.PATENT_INVENTION, IpType.PATENT_UTILITY) and (
                rng.random() < 0.7):
            ip_type = IpType.PATENT_APPLICATION
        match ip_type:
            case IpType.PATENT_INVENTION:
                count = rng.choices((1, 2, 3), (5, 3, 1))[0]
                return ip_type, [self._patent("1", 2012, 2022, granted=True)
                                 for _ in range(count)]
            case IpType.PATENT_UTILITY:
                count = rng.choices((1, 2, 3, 4), (4, 3, 2, 1))[0]
                return ip_type, [self._patent("2", 2015, 2024, granted=True)
                                 for _ in range(count)]
            case IpType.PATENT_DESIGN:
                return ip_type, [self._patent("3", 2016, 2024, granted=True)]
            case IpType.PATENT_APPLICATION:
                count = rng.choices((1, 2), (3, 1))[0]
                return ip_type, [self._patent("1", 2021, 2025, granted=False)
                                 for _ in range(count)]
            case IpType.SOFTWARE_COPYRIGHT:
                count = rng.choices((1, 2, 3), (4, 2, 1))[0]
                return ip_type, [
                    self._number("", rng.randint(2016, 2025), "SR", rng.randint(100_000,
                                                                                1_999_999), 7)
                    for _ in range(count)]
            case _:
                return ip_type, []  # a trade secret has no register number

    def _patent(self, type_digit: str, first_year: int, last_year: int, *, granted: bool
                ) -> str:
        while True:
            digits = (f"{self.rng.randint(first_year, last_year)}{type_digit}"
                      f"{self.rng.randint(10_000, 1_999_999):07d}")
            if digits not in self.numbers:
                self.numbers.add(digits)
                return f"{'ZL' if granted else ''}{digits}.{patent_check_digit(digits)}"

    def _number(self, prefix: str, year: int, infix: str, serial: int, width: int) -> str:
        digits = f"{year}{serial:0{width}d}"
        if infix:  # software copyright: 2019SR0123456
            number = f"{year}{infix}{serial:0{width}d}"
        else:  # plant variety right: CNA20190123.4
            number = f"{prefix}{digits}.{patent_check_digit(digits)}"
        if number in self.numbers:
            return self._number(prefix, year, infix, (serial + 7919) % 10 ** width, width)
        self.numbers.add(number)
        return number

    def _price(self, trl: int) -> int:
        """A reference price in fen between ¥100,000 and ¥50,000,000, higher for mature work."""
        exponent = min(max(self.rng.gauss(5.4 + 0.22 * (trl - 1), 0.35), 5.0), 7.69)
        yuan = 10 ** exponent
        step = 10_000 if yuan < 1_000_000 else 50_000 if yuan < 10_000_000 else 100_000
        yuan = min(max(round(yuan / step) * step, 100_000), 50_000_000)
        return int(yuan) * 100

    def _transfer_mode(self, trl: int, variety: bool) -> TransferMode:
        modes = list(TransferMode)  # transfer, exclusive, sole, ordinary, equity, co-development
        if variety:
            weights = (4, 3, 1, 3, 0, 0)
        elif trl <= 4:
            weights = (2, 1, 0.5, 2, 1, 4)
        else:
            weights = (4, 2, 1, 2, 2, 1)
        return self.rng.choices(modes, weights)[0]

    def _inventors(self, most: int) -> list[str]:
        rng = self.rng
        names: list[str] = []
        while len(names) < rng.randint(2, most + 2):
            given = "".join(rng.choice(GIVEN_CHARS) for _ in range(rng.choices((1, 2),
                                                                               (3, 7))[0]))
            name = rng.choice(SURNAMES) + given
            if name not in names:
                names.append(name)
        return names

    def _fill(self, text: str) -> str:
        def number(m: re.Match[str]) -> str:
            lo, hi = m.group(1), m.group(2)
            decimals = len(lo.partition(".")[2])
            if not decimals:
                return str(self.rng.randint(int(lo), int(hi)))
            return f"{self.rng.uniform(float(lo), float(hi)):.{decimals}f}"
        return _RANGE.sub(number, text)

    def _evidence(self, trl: int, kind: str) -> str:
        if trl <= 3:
            return "实验室验证表明，"
        if trl <= 5:
            return ("样机测试表明，" if kind in ("device", "software")
                    else self.rng.choice(("小试结果表明，", "实验室验证表明，")))
        if trl <= 7:
            return self.rng.choice(("中试结果表明，", "经第三方检测，"))
        return self.rng.choice(("现场应用表明，", "经用户长期使用验证，"))

    def _maturity(self, trl: int) -> str:
        if trl <= 3:
            return "目前已完成原理验证和实验室小试，寻求企业合作开展工程化开发。"
        if trl <= 5:
            return "已完成实验室样机（小试）验证，具备开展中试的条件。"
        if trl <= 7:
            return "已完成中试并建成示范线，可提供工艺包和技术服务。"
        return (f"已在{self.rng.randint(2, 12)}家企业实现规模化应用，"
                f"累计新增产值约{self.rng.randint(5, 80) / 10:.1f}亿元。")

    # -- lifecycles ----------------------------------------------------------------------------
    def _lifecycles(self, bodies: list[dict[str, Any]]) -> list[SeedAchievement]:
        rng = self.rng
        n = len(bodies)
        targets = [Status.PUBLISHED] * n
        order = list(range(n))
        rng.shuffle(order)
        at = 0
        for status, share in STATUS_SHARES.items():
            for i in order[at:at + round(n * share)]:
                targets[i] = status
            at += round(n * share)
        for status, count in CROSS_BORDER.items():
            eligible = [i for i in order if targets[i] is status and not bodies[i]["dual_use"]
                        and bodies[i]["field"] != TechField.AEROSPACE.value]
            for i in eligible[:count]:
                bodies[i]["cross_border"] = True
        out = []
        for body, target in zip(bodies, targets, strict=True):
            seller = body.pop("_seller")
            reason = None
            if target is Status.REJECTED:
                reason = (DUAL_USE_REJECT_REASON if body["dual_use"] and rng.random() < 0.7
                          else rng.choice(REJECT_REASONS))
            number = None
            if body["cross_border"]:
                self.security_serials[body["region"][:2]] += 1
                number = self.security_serials[body["region"][:2]]
            out.append(SeedAchievement(seller=seller, body=body, target=target,
                                       steps=self._steps(target, body["cross_border"]),
                                       reject_reason=reason, security_number=number))
        return out

    def _steps(self, target: Status, cross_border: bool) -> tuple[Step, ...]:
        rng = self.rng
        days = {Status.DRAFT: (0.2, 45), Status.SUBMITTED: (0.5, 10),
                Status.UNDER_REVIEW: (2, 25), Status.REJECTED: (15, 200),
                Status.PUBLISHED: (20, 300)}[target]
        created = rng.uniform(*days) * _DAY
        actions = ["create"]
        if target is not Status.DRAFT:
            actions.append("submit")
        if target in (Status.UNDER_REVIEW, Status.REJECTED) or cross_border or (
                target is Status.PUBLISHED and rng.random() < 0.75):
            actions.append("review")
        if cross_border:
            actions.append("security")
        if target is Status.PUBLISHED:
            actions.append("approve")
        elif target is Status.REJECTED:
            actions.append("reject")
        gaps = {"submit": (0.02, 0.25), "review": (0.02, 0.15), "security": (0.05, 0.2),
                "approve": (0.02, 0.2), "reject": (0.02, 0.2)}
        steps, progress = [Step("create", timedelta(seconds=round(created)))], 0.0
        for action in actions[1:]:
            progress += rng.uniform(*gaps[action])
            steps.append(Step(action, timedelta(seconds=round(created * (1 - progress)))))
        return tuple(steps)

    # -- demands, proposals, interests ---------------------------------------------------------
    def _demand(self, province: str, used: set[tuple[str, str]],
                achievements: list[SeedAchievement]) -> SeedDemand:
        rng = self.rng
        enterprises = [p for p in self._sellers(province) if p.kind == "enterprise"]
        for _ in range(200):
            enterprise = rng.choice(enterprises)
            rows = [d for d in DEMANDS if d.field in enterprise.fields
                    and (not d.provinces or province in d.provinces)
                    and (enterprise.slug, d.title) not in used]
            fresh = [d for d in rows if d.title not in {t for _, t in used}]
            if rows:
                break
        else:
            raise RuntimeError(f"the vocabulary has too few demands for province {province}")
        row: DemandRow = rng.choice(fresh or rows)
        used.add((enterprise.slug, row.title))
        mode = CallMode.OPEN_CALL if rng.random() < 0.55 else CallMode.TENDER
        need = "我公司" + row.need[2:] if row.need.startswith("公司") else row.need
        if mode is CallMode.OPEN_CALL:
            call = (f"本需求采用揭榜挂帅方式面向社会公开征集解决方案，揭榜方须在"
                    f"{rng.choice((6, 9, 12, 18))}个月内完成攻关并通过验收。")
        else:
            call = ("本需求以技术难题招标方式择优确定承担单位，"
                    "投标方须提交技术方案、实施计划与报价。")
        lo, hi = row.budget_wan
        budget = (None if rng.random() < 0.1
                  else rng.randint(lo // 10, hi // 10) * 10 * 10_000 * 100)  # whole 10万元
        posted = timedelta(seconds=round(rng.uniform(1, 75) * _DAY))
        demand = SeedDemand(
            enterprise=enterprise.slug, title=row.title, description=f"{need}。{row.spec}。{call}",
            region=enterprise.region, field=row.field, keywords=row.keywords, mode=mode,
            budget_fen=budget, min_trl=min(max(row.min_trl + rng.choice((-1, 0, 0, 1)), 1), 9),
            posted_ago=posted, deadline_in=timedelta(seconds=round(rng.uniform(15, 150) * _DAY)))
        if rng.random() < 0.45:
            demand = self._with_proposals(demand, achievements)
        return demand

    def _with_proposals(self, demand: SeedDemand, achievements: list[SeedAchievement]
                        ) -> SeedDemand:
        rng = self.rng
        province = demand.region[:2]
        neighbours = {HEB: (TJ,), TJ: (HEB,), HLJ: (LN,), LN: (HLJ,), FJ: ()}[province]
        able = [p for p in self.parties.values()
                if demand.field in p.fields and p.slug != demand.enterprise
                and (p.kind != "enterprise" or rng.random() < 0.2)]
        near = [p for p in able if p.region[:2] == province]
        around = [p for p in able if p.region[:2] in neighbours] or able
        # Sellers with a published listing that shares a keyword with the demand answer first.
        related = [a for a in achievements
                   if a.target is Status.PUBLISHED and a.field is demand.field
                   and a.seller != demand.enterprise
                   and set(a.body["keywords"]) & set(demand.keywords)]
        holders = [self.parties[s] for s in dict.fromkeys(a.seller for a in related)]
        providers: list[Party] = []
        for _ in range(rng.choices((1, 2, 3), (4, 3, 2))[0]):
            pool = (holders if holders and rng.random() < 0.6
                    else near if near and rng.random() < 0.65 else around)
            candidates = ([p for p in pool if p not in providers]
                          or [p for p in near + around if p not in providers])
            if candidates:
                providers.append(rng.choice(candidates))
        proposals = []
        for provider in providers:
            ago = demand.posted_ago * rng.uniform(0.1, 0.9)
            own = [a for a in related if a.seller == provider.slug
                   and (approved := a.step("approve")) is not None and approved.ago > ago]
            listing = rng.choice(own) if own and rng.random() < 0.85 else None
            approach = rng.choice(PROPOSAL_APPROACHES)
            months = rng.choice((6, 9, 12, 18, 24))
            if listing is not None:
                summary = (f"以本单位已挂牌成果“{listing.title}”为基础，针对“{demand.title}”"
                           f"需求开展适配性开发，{approach}，预计{months}个月内完成并交付全套"
                           f"技术资料。")
            else:
                summary = (f"{provider.name}在{demand.field.label}领域具有多年研究积累和工程化"
                           f"经验，拟承担“{demand.title}”攻关任务，{approach}，预计{months}个月"
                           f"内完成。")
            if demand.budget_fen is not None:
                price = round(demand.budget_fen * rng.uniform(0.6, 1.0) / 1_000_000) * 1_000_000
            elif listing is not None and listing.body["reference_price_fen"] is not None:
                price = listing.body["reference_price_fen"]
            else:
                price = rng.randint(5, 50) * 100_000 * 100
            proposals.append(SeedProposal(
                provider=provider.slug, listing_title=listing.title if listing else None,
                price_fen=price, summary=summary,
                ago=timedelta(seconds=round(ago.total_seconds()))))
        return replace(demand, proposals=tuple(proposals))

    def _awards(self, demands: list[SeedDemand]) -> list[SeedDemand]:
        rng = self.rng
        out = []
        for d in demands:
            if d.proposals and rng.random() < 0.25:
                first = min(p.ago for p in d.proposals)
                d = replace(d, awarded=rng.randrange(len(d.proposals)),
                            award_ago=timedelta(seconds=round(
                                first.total_seconds() * rng.uniform(0.2, 0.8))))
            out.append(d)
        return out

    def _interests(self, achievements: list[SeedAchievement]) -> list[SeedInterest]:
        """Two buyers per province, each interested in what one of the province's published
        listings offers (the matching is per province), so publication notifies them."""
        rng = self.rng
        out = []
        for province in ACHIEVEMENTS_PER_PROVINCE:
            buyers = [p for p in self._sellers(province) if p.kind == "enterprise"]
            for buyer in rng.sample(buyers, 2):
                offered = [a for a in achievements
                           if a.region[:2] == province and a.target is Status.PUBLISHED
                           and a.seller != buyer.slug]
                mine = [a for a in offered if a.field in buyer.fields]
                wanted = rng.choice(mine or offered)
                price = wanted.body["reference_price_fen"]
                out.append(SeedInterest(
                    buyer=buyer.slug, query=" ".join(wanted.body["keywords"][:2]),
                    field=wanted.field if rng.random() < 0.5 else None,
                    min_trl=min(wanted.body["trl"], rng.choice((4, 5, 6)))
                    if rng.random() < 0.5 else None,
                    max_price_fen=max(price, rng.choice((300, 500, 1000)) * 10_000 * 100)
                    if price is not None and rng.random() < 0.3 else None,
                    ago=timedelta(seconds=round(rng.uniform(320, 360) * _DAY))))
        return out


# -- loading -----------------------------------------------------------------------------------

_RANK = {Status.DRAFT: 0, Status.SUBMITTED: 1, Status.UNDER_REVIEW: 2, Status.PUBLISHED: 4,
         Status.REJECTED: 4}
_STEP_RANK = {"create": 0, "submit": 1, "review": 2, "security": 3, "approve": 4, "reject": 4}
COUNT_KEYS = (
    "achievements", *(f"achievements.{s.value}" for s in _RANK), "security_reviews",
    "demands", "demands.awarded", "proposals", "interests", "skipped",
)


async def load(pool: asyncpg.Pool, outbox: OutboxWriter, *, now: datetime, seed: int = 2026,
               validity: timedelta = DEFAULT_VALIDITY) -> dict[str, int]:
    """Write the seed set through the listing handlers; returns what this run did.

    ``achievements``, ``demands``, ``proposals``, ``interests``: how many were created;
    ``achievements.<status>``: listings this run moved, by the status they reached;
    ``security_reviews`` and ``demands.awarded``: those commands; ``skipped``: seed items that
    were already complete. A second run returns zeros except ``skipped``.

    ``validity`` is the publication period approvals give (the service's
    ``listing_validity_days``). The pool needs at least two connections: one holds the
    advisory lock while each command takes its own.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    data = generate(seed)
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK)
        try:
            loader = _Loader(pool, outbox, data, now, validity)
            await loader.read_existing(conn)
            return await loader.run()
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK)


async def seed_listing(database_url: str, *, now: datetime | None = None) -> dict[str, int]:
    """Migrate the listing database at ``database_url`` and load the seed set into it."""
    validity = timedelta(days=ListingSettings(database_url=database_url).listing_validity_days)
    pool = await create_pool(database_url, min_size=1, max_size=4)
    try:
        async with pool.acquire() as conn:
            await migrate(conn, MIGRATIONS)
        return await load(pool, OutboxWriter("listing"), now=now or SystemClock().now(),
                          validity=validity)
    finally:
        await pool.close()


def _operator(region: str) -> Principal:
    """The exchange operator of the listing's city (Tianjin's districts: the municipality)."""
    r = Region.known(region)
    city = r.parent if r.level is RegionLevel.COUNTY and r.parent is not None else r
    return Principal(subject=f"exchange-{city.code}", role=Role.OPERATOR, region=city, claims={})


def _regulator(region: str) -> Principal:
    province = region[:2]
    return Principal(subject=_REGULATOR[province], role=Role.REGULATOR,
                     region=Region.known(province + "0000"), claims={})


class _Loader:
    def __init__(self, pool: asyncpg.Pool, outbox: OutboxWriter, data: SeedSet, now: datetime,
                 validity: timedelta) -> None:
        self.pool, self.outbox, self.data, self.now, self.validity = (
            pool, outbox, data, now, validity)
        self.counts: Counter[str] = Counter({k: 0 for k in COUNT_KEYS})
        # natural key -> [id, status, security reviewed]
        self.listings: dict[tuple[str, str], list[Any]] = {}
        self.demands: dict[tuple[str, str], list[Any]] = {}
        self.proposals: dict[tuple[Any, str], Any] = {}
        self.interests: set[tuple[str, str]] = set()
        self.touched: set[int] = set()
        self.items_touched = 0

    def _command(self, at: datetime) -> Command:
        """One command's transaction, independent of any running service, at time ``at``."""
        return Command(self.pool, self.outbox, ManualClock(at), None)

    async def read_existing(self, conn: asyncpg.Connection) -> None:
        slugs = list(self.data.parties)
        for r in await conn.fetch(
                "SELECT id, seller_id, title, status, security_review IS NOT NULL AS reviewed"
                " FROM achievements WHERE seller_id = ANY($1::text[])", slugs):
            self.listings[(r["seller_id"], r["title"])] = [r["id"], r["status"], r["reviewed"]]
        for r in await conn.fetch(
                "SELECT id, enterprise_id, title, status FROM demands"
                " WHERE enterprise_id = ANY($1::text[])", slugs):
            self.demands[(r["enterprise_id"], r["title"])] = [r["id"], r["status"]]
        for r in await conn.fetch(
                "SELECT id, demand_id, provider_id FROM proposals"
                " WHERE provider_id = ANY($1::text[])", slugs):
            self.proposals[(r["demand_id"], r["provider_id"])] = r["id"]
        for r in await conn.fetch(
                "SELECT buyer_id, query FROM interests WHERE buyer_id = ANY($1::text[])", slugs):
            self.interests.add((r["buyer_id"], r["query"]))

    async def run(self) -> dict[str, int]:
        plan: list[tuple[timedelta, int, str, int, int]] = []  # ago, order, kind, item, sub
        order = 0
        for i, interest in enumerate(self.data.interests):
            plan.append((interest.ago, order := order + 1, "interest", i, 0))
        for i, a in enumerate(self.data.achievements):
            for j, step in enumerate(a.steps):
                plan.append((step.ago, order := order + 1, "listing", i, j))
        for i, d in enumerate(self.data.demands):
            plan.append((d.posted_ago, order := order + 1, "demand", i, 0))
            for j, p in enumerate(d.proposals):
                plan.append((p.ago, order := order + 1, "proposal", i, j))
            if d.awarded is not None and d.award_ago is not None:
                plan.append((d.award_ago, order := order + 1, "award", i, 0))
        plan.sort(key=lambda p: (-p[0], p[1]))  # oldest first
        for ago, _, kind, i, j in plan:
            await getattr(self, f"_{kind}")(i, j, self.now - ago)
        for i in self.touched:
            a = self.data.achievements[i]
            self.counts[f"achievements.{self.listings[(a.seller, a.title)][1]}"] += 1
        items = (len(self.data.achievements) + len(self.data.demands) + len(self.data.interests)
                 + sum(len(d.proposals) for d in self.data.demands))
        self.counts["skipped"] = items - self.items_touched
        return dict(self.counts)

    # -- listings ------------------------------------------------------------------------------
    async def _listing(self, i: int, j: int, at: datetime) -> bool:
        a = self.data.achievements[i]
        step = a.steps[j]
        key = (a.seller, a.title)
        state = self.listings.get(key)
        if state is not None:
            status = Status(state[1])
            rank = _RANK.get(status, 99)
            if rank >= _STEP_RANK[step.action] or (step.action == "security" and state[2]):
                return False
        seller = self.data.party(a.seller).principal(Role.SELLER)
        async with self._command(at) as tx:
            match step.action:
                case "create":
                    got = await handlers.create_achievement(
                        tx, seller, region=a.region,
                        details=AchievementIn.model_validate(a.body).details())
                    self.counts["achievements"] += 1
                case "submit":
                    got = await handlers.submit_achievement(tx, seller, state[0])
                case "review":
                    got = await handlers.start_review(tx, _operator(a.region), state[0])
                case "security":
                    reference = (f"{PROVINCE_ABBR[a.region[:2]]}科审〔{at.year}〕"
                                 f"{a.security_number}号")
                    got = await handlers.record_security_review(
                        tx, _regulator(a.region), state[0], outcome="cleared",
                        reference=reference)
                    self.counts["security_reviews"] += 1
                case "approve":
                    got = await handlers.approve_achievement(
                        tx, _operator(a.region), state[0], validity=self.validity)
                case "reject":
                    got = await handlers.reject_achievement(
                        tx, _operator(a.region), state[0], reason=a.reject_reason or "材料不全")
                case other:
                    raise ValueError(f"unknown step {other}")
        self.listings[key] = [got.id, got.status.value, got.security_review is not None]
        if i not in self.touched:
            self.touched.add(i)
            self.items_touched += 1
        return True

    # -- demands -------------------------------------------------------------------------------
    async def _demand(self, i: int, _: int, at: datetime) -> bool:
        d = self.data.demands[i]
        if (d.enterprise, d.title) in self.demands:
            return False
        body = DemandIn.model_validate(d.body(self.now))
        enterprise = self.data.party(d.enterprise).principal(Role.BUYER)
        async with self._command(at) as tx:
            got = await handlers.post_demand(
                tx, enterprise, region=body.region, title=body.title,
                description=body.description, field=body.field, keywords=tuple(body.keywords),
                mode=body.mode, budget_fen=body.budget_fen, min_trl=body.min_trl,
                deadline=body.deadline)
        self.demands[(d.enterprise, d.title)] = [got.id, got.status.value]
        self.counts["demands"] += 1
        self.items_touched += 1
        return True

    async def _proposal(self, i: int, j: int, at: datetime) -> bool:
        d = self.data.demands[i]
        p = d.proposals[j]
        demand = self.demands.get((d.enterprise, d.title))
        if demand is None or (demand[0], p.provider) in self.proposals:
            return False
        if demand[1] != "open":
            return False  # awarded or closed since: too late for this proposal
        listing = self.listings.get((p.provider, p.listing_title)) if p.listing_title else None
        provider = self.data.party(p.provider).principal(Role.SELLER)
        async with self._command(at) as tx:
            proposal_id, _ = await handlers.submit_proposal(
                tx, provider, demand[0], listing_id=listing[0] if listing else None,
                price_fen=p.price_fen, summary=p.summary)
        self.proposals[(demand[0], p.provider)] = proposal_id
        self.counts["proposals"] += 1
        self.items_touched += 1
        return True

    async def _award(self, i: int, _: int, at: datetime) -> bool:
        d = self.data.demands[i]
        demand = self.demands.get((d.enterprise, d.title))
        assert d.awarded is not None
        winner = d.proposals[d.awarded].provider
        if demand is None or demand[1] != "open" or (demand[0], winner) not in self.proposals:
            return False
        enterprise = self.data.party(d.enterprise).principal(Role.BUYER)
        async with self._command(at) as tx:
            got = await handlers.award_demand(tx, enterprise, demand[0],
                                              self.proposals[(demand[0], winner)])
        demand[1] = got.status.value
        self.counts["demands.awarded"] += 1
        return True

    async def _interest(self, i: int, _: int, at: datetime) -> bool:
        s = self.data.interests[i]
        if (s.buyer, s.query) in self.interests:
            return False
        buyer = self.data.party(s.buyer).principal(Role.BUYER)
        async with self._command(at) as tx:
            await handlers.save_interest(
                tx, buyer, query=s.query, field=s.field.value if s.field else None,
                min_trl=s.min_trl, max_price_fen=s.max_price_fen)
        self.interests.add((s.buyer, s.query))
        self.counts["interests"] += 1
        self.items_touched += 1
        return True
