"""``/ledger`` and ``/subsidies``: queries of the ledger (trial balance, account statements)
and the subsidy report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from services.settlement.domain.ledger import Account, AccountKind
from services.settlement.schemas import Statement, SubsidyReport, TrialBalance
from services.settlement.store import deals, ledger
from shared.auth import Role, authorize_region
from shared.bounds import MAX_YEAR, MIN_YEAR, AccountName, Cursor
from shared.problems import PROBLEM_RESPONSES, forbidden
from shared.regions import Region, RegionLevel
from shared.roles import Anyone, Overseer
from shared.service import runtime_of

router = APIRouter(tags=["ledger"], responses=PROBLEM_RESPONSES)

_OWN_KINDS = {Role.BUYER: AccountKind.BUYER, Role.SELLER: AccountKind.SELLER}


@router.get("/ledger/trial-balance", response_model=TrialBalance)
async def trial_balance(request: Request, _: Overseer) -> dict[str, Any]:
    """Every account's debits, credits and balance (``debits − credits``), summed from the
    lines; the totals agree for a ledger of balanced postings."""
    rows = await ledger.trial_balance(runtime_of(request).pool)
    debit = sum(r["debit_fen"] for r in rows)
    credit = sum(r["credit_fen"] for r in rows)
    return {"accounts": [{"account": r["account"], "debit_fen": r["debit_fen"],
                          "credit_fen": r["credit_fen"],
                          "balance_fen": r["debit_fen"] - r["credit_fen"]} for r in rows],
            "total_debit_fen": debit, "total_credit_fen": credit,
            "difference_fen": debit - credit, "balanced": debit == credit}


@router.get("/ledger/accounts/{account}/statement", response_model=Statement)
async def statement(account: Annotated[AccountName, Path()], request: Request,
                    principal: Anyone,
                    after: Annotated[Cursor, Query(description="cursor: next_cursor")] = 0,
                    limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    """The account's lines in posting order with the running balance, a page at a time.
    Buyers and sellers may read their own account (``buyer:<id>`` / ``seller:<id>``)."""
    parsed = Account.parse(account)
    if principal.role not in (Role.OPERATOR, Role.REGULATOR, Role.ADMIN):
        own = _OWN_KINDS.get(principal.role)
        if own is None or parsed != Account(own, principal.subject):
            raise forbidden("Only your own account's statement is visible to you.")
    rows = await ledger.statement(runtime_of(request).pool, parsed.id, after, limit)
    return {"account": parsed.id,
            "lines": [{"line": r["id"], "entry_id": r["entry_id"], "memo": r["memo"],
                       "deal_id": str(r["deal_id"]) if r["deal_id"] else None,
                       "posted_at": r["posted_at"].isoformat(), "debit_fen": r["debit_fen"],
                       "credit_fen": r["credit_fen"], "balance_fen": r["balance_fen"]}
                      for r in rows],
            "next_cursor": rows[-1]["id"] if len(rows) == limit else None}


_PREFIX = {RegionLevel.PROVINCE: 2, RegionLevel.CITY: 4, RegionLevel.COUNTY: 6}


@router.get("/subsidies/report", response_model=SubsidyReport)
async def subsidy_report(request: Request, principal: Overseer,
                         region: Annotated[str, Query(pattern=r"^\d{6}$")],
                         year: Annotated[int, Query(ge=MIN_YEAR, le=MAX_YEAR)]
                         ) -> dict[str, Any]:
    """Subsidy assessments of a region (province, city or county: rolled up by code prefix)
    and year: totals, per side and per region below it."""
    target = authorize_region(principal, region)
    prefix = target.code[:_PREFIX[target.level]]
    rows = await deals.subsidy_report(runtime_of(request).pool, prefix, year)

    def total(key: str, subset=rows) -> int:
        return sum(r[key] for r in subset)

    by_side = {side: {"assessed": total("assessed", s), "granted": total("granted", s),
                      "amount_fen": total("amount_fen", s)}
               for side in ("buyer", "seller")
               for s in [[r for r in rows if r["side"] == side]]}
    regions = sorted({r["region"] for r in rows})
    return {
        "region": target.code, "level": target.level.value, "year": year,
        "assessed": total("assessed"), "granted": total("granted"),
        "received_fen": total("received_fen"), "amount_fen": total("amount_fen"),
        "commissioner_share_fen": total("commissioner_share_fen"),
        "by_side": by_side,
        "by_region": [{"region": code,
                       "name": Region.parse(code).name if Region.parse(code).is_known else None,
                       "granted": total("granted", [r for r in rows if r["region"] == code]),
                       "amount_fen": total("amount_fen",
                                           [r for r in rows if r["region"] == code])}
                      for code in regions],
    }
