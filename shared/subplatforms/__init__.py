"""The sub-platforms of a deployment (省、市、县三级子平台) as data: one JSON file per deployment.

A deployment serves one province; its provincial platform and the city and county
sub-platforms under it are entities of that deployment, each with its own operator
organisation, fee schedule, registration review deadline, yearly targets and subsidy policy.
The file is read with :func:`load_subplatforms`, which names every field that is wrong (as
:func:`shared.federation.load_federation` does for the partner list)::

    {
      "province": "130000",
      "subplatforms": [
        {"region": "130000", "name": "河北省技术交易市场", "operator": "河北省科学技术厅",
         "review_days": 30, "subsidy_policy": "hebei-2026",
         "fees": {"default": {"tiers": [{"up_to_fen": null, "rate_bp": 200}],
                              "minimum_fen": 100000, "maximum_fen": 50000000}},
         "targets": [{"year": 2026, "growth_percent": "10", "amount_fen": 120000000000000,
                      "contracts": 30000}]},
        {"region": "130100", "name": "石家庄市技术交易分市场", "operator": "石家庄市科学技术局",
         "targets": [{"year": 2026, "growth_percent": "12", "amount_fen": 30000000000000}]}
      ]
    }

Inheritance: a city or county sub-platform without ``fees`` or ``review_days`` (or
``subsidy_policy``) has those of the nearest sub-platform above it, and the provincial platform
must give all three. Targets are never inherited: they are each region's own (Hebei §19 splits
the province's contract-turnover target per city and county); the direct sub-platforms' amount
targets of a year may not add up to more than their parent's.

Which sub-platform a region belongs to: the most specific one whose region contains it
(:meth:`Subplatforms.covering`), else the provincial platform. The review deadline is in
calendar days.

Each of the five provinces of the plans (Heilongjiang, Hebei, Liaoning, Tianjin, Fujian) has
an example here (``<province>.json``, :data:`EXAMPLES`); the numbers in them are configuration
examples drawn from the plans where the plans give one, not published rules.
"""

from __future__ import annotations

from decimal import Decimal
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shared.bounds import Fen, PositiveFen
from shared.problems import field_errors
from shared.regions import InvalidRegion, Region, RegionCode, RegionLevel

__all__ = [
    "EXAMPLES",
    "NATIONAL_REGION",
    "ROUTES",
    "FeeSchedule",
    "FeeTier",
    "Fees",
    "InvalidSubplatforms",
    "Subplatform",
    "Subplatforms",
    "YearTarget",
    "check_tiers",
    "deployment_region",
    "example_file",
    "load_subplatforms",
    "parse_subplatforms",
]

NATIONAL_REGION = "000000"
"""The national hub's region (as in :mod:`shared.federation`): it has no sub-platforms."""

EXAMPLES = {"23": "heilongjiang", "13": "hebei", "21": "liaoning", "12": "tianjin",
            "35": "fujian"}
"""The provinces with an example file here, by two-digit code prefix."""

Route = Literal["auction", "listing", "negotiated"]
ROUTES: tuple[Route, ...] = ("auction", "listing", "negotiated")
"""The procedure kinds (pricing routes) a fee schedule may differ by."""

BASIS_POINTS = 10_000


def deployment_region(code: str) -> str:
    """``code`` if it is a known provincial-level code or the national hub's; else ValueError."""
    if code == NATIONAL_REGION:
        return code
    try:
        region = Region.known(code)
    except InvalidRegion as exc:
        raise ValueError(str(exc)) from None
    if region.level is not RegionLevel.PROVINCE:
        raise ValueError(f"a deployment serves a provincial-level division (PP0000) or, as the "
                         f"national hub, {NATIONAL_REGION}; {code} is a {region.level.value}")
    return code


def _province(code: str) -> str:
    if Region.parse(code).level is not RegionLevel.PROVINCE:
        raise PydanticCustomError("province", "{code} is not a provincial-level code (PP0000)",
                                  {"code": code})
    return code


Province = Annotated[RegionCode, AfterValidator(_province)]
PolicyId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$",
                                description="a subsidy policy's policy_id (settlement's "
                                            "policies), e.g. heilongjiang-2026")]
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f]*$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FeeTier(_Frozen):
    """The rate on the part of the price up to ``up_to_fen`` (``null``: no upper bound)."""

    up_to_fen: PositiveFen | None
    rate_bp: int = Field(strict=True, ge=0, le=BASIS_POINTS,
                         description="basis points (1/10,000) of the part of the price in it")


def check_tiers(bounds: list[int | None], minimum_fen: int, maximum_fen: int | None) -> None:
    """A fee schedule's shape, for every model of one: the tiers' upper bounds strictly
    increase and only the last is open; the cap is not below the minimum."""
    if bounds[-1] is not None:
        raise ValueError("the last tier must be open-ended (up_to_fen: null)")
    if None in bounds[:-1]:
        raise ValueError("only the last tier may be open-ended")
    if any(a >= b for a, b in pairwise(b for b in bounds[:-1] if b is not None)):
        raise ValueError("tier bounds must strictly increase")
    if maximum_fen is not None and maximum_fen < minimum_fen:
        raise ValueError(f"maximum_fen {maximum_fen} is below minimum_fen {minimum_fen}")


class FeeSchedule(_Frozen):
    """A 交易服务费 charged to each side: marginal tiers of the price, then the minimum and
    the maximum per side (never more than the price itself)."""

    tiers: tuple[FeeTier, ...] = Field(min_length=1, max_length=16)
    minimum_fen: Fen = 0
    maximum_fen: Fen | None = Field(default=None, description="per side; null: no cap")

    @model_validator(mode="after")
    def _tiers_ascend_and_end_open(self) -> FeeSchedule:
        check_tiers([t.up_to_fen for t in self.tiers], self.minimum_fen, self.maximum_fen)
        return self

    def rate(self, tier: FeeTier) -> Decimal:
        """A tier's rate as an exact fraction of the price."""
        return Decimal(tier.rate_bp) / BASIS_POINTS


class Fees(_Frozen):
    """The fee schedule per procedure kind; ``default`` for the kinds not given."""

    default: FeeSchedule
    auction: FeeSchedule | None = None
    listing: FeeSchedule | None = None
    negotiated: FeeSchedule | None = None

    def for_route(self, route: Route) -> FeeSchedule:
        return getattr(self, route) or self.default


class YearTarget(_Frozen):
    """One year's targets of a region (技术合同成交额 and its growth)."""

    year: int = Field(strict=True, ge=2000, le=2199)
    growth_percent: Decimal | None = Field(
        default=None, ge=-100, le=1000, max_digits=6, decimal_places=2, allow_inf_nan=False,
        description="year-on-year growth of the technology transaction amount, in percent")
    amount_fen: PositiveFen | None = Field(
        default=None, description="the technology transaction amount to reach, in fen")
    contracts: int | None = Field(default=None, strict=True, ge=1, le=10**8,
                                  description="registered contracts to reach")

    @model_validator(mode="after")
    def _something_to_reach(self) -> YearTarget:
        if self.growth_percent is None and self.amount_fen is None and self.contracts is None:
            raise ValueError("a target names growth_percent, amount_fen or contracts")
        return self


class Subplatform(_Frozen):
    """The platform of one region: the provincial one, a city's or a county's."""

    region: RegionCode
    name: Name = Field(description="e.g. 大庆市技术交易分中心")
    operator: Name = Field(description="the operator organisation, e.g. 大庆市科学技术局")
    fees: Fees | None = Field(default=None, description="null: the enclosing platform's")
    review_days: int | None = Field(
        default=None, strict=True, ge=1, le=90,
        description="calendar days a registrar has to decide a filing (national rule 30; "
                    "some provinces 7–15); null: the enclosing platform's")
    subsidy_policy: PolicyId | None = Field(default=None,
                                            description="null: the enclosing platform's")
    targets: tuple[YearTarget, ...] = Field(default=(), max_length=64)

    @model_validator(mode="after")
    def _one_target_a_year(self) -> Subplatform:
        years = [t.year for t in self.targets]
        repeated = sorted({y for y in years if years.count(y) > 1})
        if repeated:
            raise ValueError("one target a year; repeated: " + ", ".join(map(str, repeated)))
        return self

    @property
    def level(self) -> RegionLevel:
        return Region.parse(self.region).level

    def target(self, year: int) -> YearTarget | None:
        return next((t for t in self.targets if t.year == year), None)


class Subplatforms(_Frozen):
    """A deployment's province and its sub-platforms, the provincial platform among them."""

    province: Province
    note: str = Field(default="", max_length=2000, pattern=r"^[^\x00]*$",
                      description="where the numbers come from (shown to no one)")
    subplatforms: tuple[Subplatform, ...] = Field(min_length=1, max_length=4096)

    @model_validator(mode="after")
    def _a_tree_inside_the_province(self) -> Subplatforms:
        province = Region.parse(self.province)
        regions = [s.region for s in self.subplatforms]
        errors = []
        repeated = sorted({r for r in regions if regions.count(r) > 1})
        if repeated:
            errors.append("each region has one sub-platform; repeated: " + ", ".join(repeated))
        outside = [r for r in regions if not province.contains(r)]
        if outside:
            errors.append(f"sub-platforms lie inside the province {self.province}; outside: "
                          + ", ".join(outside))
        root = next((s for s in self.subplatforms if s.region == self.province), None)
        if root is None:
            errors.append(f"the provincial platform ({self.province}) is missing")
        else:
            missing = [f for f in ("fees", "review_days") if getattr(root, f) is None]
            if missing:
                errors.append("the provincial platform gives what the others inherit: "
                              + ", ".join(missing))
        if errors:
            raise ValueError("; ".join(errors))
        for parent in self.subplatforms:
            for target in parent.targets:
                if target.amount_fen is None:
                    continue
                split = sum(t.amount_fen for c in self.children(parent.region)
                            if (t := c.target(target.year)) and t.amount_fen)
                if split > target.amount_fen:
                    raise ValueError(
                        f"the {target.year} amount targets under {parent.region} add up to "
                        f"{split} fen, more than its own {target.amount_fen}")
        return self

    # -- reading --------------------------------------------------------------------------------
    @property
    def provincial(self) -> Subplatform:
        return next(s for s in self.subplatforms if s.region == self.province)

    def get(self, region: str) -> Subplatform | None:
        """The sub-platform of exactly ``region``, if it has one."""
        return next((s for s in self.subplatforms if s.region == region), None)

    def chain(self, region: str) -> list[Subplatform]:
        """The sub-platforms whose region contains ``region``, most specific first, ending
        with the provincial platform (which stands in for regions outside the province)."""
        try:
            inner = Region.parse(region)
        except InvalidRegion:
            return [self.provincial]
        found = [s for s in self.subplatforms
                 if s.region != self.province and Region.parse(s.region).contains(inner)]
        order = {RegionLevel.COUNTY: 0, RegionLevel.CITY: 1, RegionLevel.PROVINCE: 2}
        return [*sorted(found, key=lambda s: order[s.level]), self.provincial]

    def covering(self, region: str) -> Subplatform:
        """The sub-platform that runs procedures of ``region``: the most specific one."""
        return self.chain(region)[0]

    def parent(self, sub: Subplatform) -> Subplatform | None:
        """The nearest sub-platform above ``sub`` (None for the provincial platform)."""
        if sub.region == self.province:
            return None
        return next(s for s in self.chain(sub.region) if s.region != sub.region)

    def children(self, region: str) -> list[Subplatform]:
        """The sub-platforms whose nearest sub-platform above is ``region``'s."""
        return [s for s in self.subplatforms
                if (p := self.parent(s)) is not None and p.region == region]

    def within(self, region: str) -> list[Subplatform]:
        """The sub-platforms in ``region``'s subtree, itself included, in code order."""
        scope = Region.parse(region)
        return sorted((s for s in self.subplatforms if scope.contains(s.region)),
                      key=lambda s: s.region)

    def fees(self, region: str) -> tuple[Subplatform, Fees]:
        """The fees charged for a procedure of ``region``: the covering sub-platform's, else
        the nearest above it that has some; with the sub-platform that set them."""
        sub = next(s for s in self.chain(region) if s.fees is not None)
        assert sub.fees is not None
        return sub, sub.fees

    def review_days(self, region: str) -> int:
        """Calendar days to decide a filing of a contract of ``region``."""
        days = next(s.review_days for s in self.chain(region) if s.review_days is not None)
        assert days is not None
        return days

    def subsidy_policy(self, region: str) -> str | None:
        return next((s.subsidy_policy for s in self.chain(region) if s.subsidy_policy), None)


class InvalidSubplatforms(ValueError):
    """A sub-platform file that does not validate; ``errors`` names each field and what is
    wrong."""

    def __init__(self, source: str, errors: list[dict[str, str]]) -> None:
        self.source = source
        self.errors = errors
        lines = "\n".join(f"  {e['field'] or '(file)'}: {e['message']}" for e in errors)
        super().__init__(f"{source} is not a valid sub-platform file:\n{lines}")


def parse_subplatforms(raw: str | bytes | dict[str, Any], source: str = "sub-platform file",
                       *, province: str | None = None) -> Subplatforms:
    """Validate a sub-platform file given as JSON text or a decoded mapping; with
    ``province``, it must be that deployment's."""
    try:
        if isinstance(raw, str | bytes):
            subs = Subplatforms.model_validate_json(raw)
        else:
            subs = Subplatforms.model_validate(raw)
    except ValidationError as exc:
        raise InvalidSubplatforms(source, field_errors(exc.errors())) from None
    if province is not None and subs.province != province:
        raise InvalidSubplatforms(source, [{
            "field": "province",
            "message": f"the deployment serves {province} (TECHEX_REGION), not {subs.province}"}])
    return subs


def load_subplatforms(path: str | Path, *, province: str | None = None) -> Subplatforms:
    """Read and validate a deployment's sub-platform file; :class:`InvalidSubplatforms`
    names what is wrong."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidSubplatforms(
            str(path), [{"field": "", "message": exc.strerror or str(exc)}]) from None
    return parse_subplatforms(raw, str(path), province=province)


def example_file(province: str) -> Path | None:
    """The example file of ``province`` (a PP0000 code), if techex ships one."""
    name = EXAMPLES.get(province[:2]) if province.endswith("0000") else None
    if name is None:
        return None
    return Path(str(resources.files("shared.subplatforms").joinpath(f"{name}.json")))

