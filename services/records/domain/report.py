"""The annual conversion report (成果转化年度报告) of one institution for one year (pure).

The institution (``holder_id``) is the seller account its listings are filed under
(``ListingCreated`` / ``ListingPublished`` ``seller_id``; the names in the listing's
``holders`` are shown, the first as the institution's name). Its deals are the
``DealConcluded`` events naming it as seller or one of its listings; settlement, subsidy and
contract events reach it through the deal's id (or the listing's, or the contract's draft).
The store passes every event of the year plus all events of the holder's listings and deals,
so a procedure announced or a deal concluded the year before is still known.

The year is the Asia/Shanghai calendar year of each event's time (:func:`year_bounds`):

* achievements: the holder's listings published that year (each once, its first publication);
* procedures by route: announced that year; failed by route: ended without a deal that year
  (流拍, no qualified buyer, upheld objection, a defaulted winner);
* deals concluded by route (count and price) that year; ``defaulted``: deals defaulted that year;
* amounts, per deal and in total, count a settlement **completed that year** (else 0):
  ``received_fen`` is the 实际到账金额 of ``SettlementCompleted`` — the deal price received in
  full, the winner's deposit included, the figure the conversion statistics and the subsidy
  policies count; what actually reached the holder's side is the seller's net after its
  交易服务费 (``FeeCharged`` side seller), paid out as ``PayoutMade`` to the institution
  (``institution_fen``) and to the inventor team (``inventors_fen``, the inventors' share);
  so received = seller's fee + institution + inventors. A defaulted winner's forfeited
  deposit paid to the holder is ``compensation_fen``: compensation, not conversion income;
* contracts registered that year by category (count, 技术交易额, contract amount; an amendment
  registered by the year's end replaces the figures), and those cancelled that year;
* subsidies assessed for the holder's deals with that policy year (either side), and what of
  them is granted to the holder itself.

Money is integer fen.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

from services.records.domain.archive import Archived
from services.records.domain.dossier import CATEGORY_ZH, ROUTE_ZH, SHANGHAI, local_time

__all__ = [
    "ROW_HEADER",
    "Achievement",
    "AnnualReport",
    "ContractTotal",
    "DealLine",
    "SubsidyLine",
    "annual_report",
    "category_name",
    "report_rows",
    "year_bounds",
]

UNKNOWN: Final = "unknown"
"""The route or category key of what the events do not say."""
_STATUS_ZH: Final = {"open": "结算中", "completed": "已结算", "defaulted": "违约"}


@dataclass(frozen=True, slots=True)
class Achievement:
    listing_id: str
    title: str
    field: str | None
    ip_type: str | None
    route: str | None
    published_at: datetime


@dataclass(frozen=True, slots=True)
class DealLine:
    """One deal of the holder; the amounts count only a settlement completed in the year."""

    procedure_id: str | None
    deal_id: str
    listing_id: str | None
    achievement: str | None
    route: str
    price_fen: int
    concluded_at: datetime
    status: str
    """open (settling), completed or defaulted, as far as the events tell."""
    settled_at: datetime | None = None
    received_fen: int = 0
    seller_fee_fen: int = 0
    institution_fen: int = 0
    inventors_fen: int = 0
    inventor_share: str | None = None
    registration_number: str | None = None


@dataclass(frozen=True, slots=True)
class ContractTotal:
    count: int = 0
    tech_amount_fen: int = 0
    total_amount_fen: int = 0


@dataclass(frozen=True, slots=True)
class SubsidyLine:
    deal_id: str
    policy_id: str
    side: str
    recipient_id: str
    received_fen: int
    amount_fen: int
    commissioner_share_fen: int
    assessed_at: datetime


@dataclass(frozen=True, slots=True)
class AnnualReport:
    holder_id: str
    holder_name: str | None
    year: int
    achievements: tuple[Achievement, ...]
    procedures_by_route: Mapping[str, int]
    concluded_by_route: Mapping[str, int]
    concluded_fen_by_route: Mapping[str, int]
    """The deal prices of the deals concluded that year, by route."""
    failed_by_route: Mapping[str, int]
    defaulted: int
    received_fen: int
    seller_fee_fen: int
    institution_fen: int
    inventors_fen: int
    compensation_fen: int
    contracts_by_category: Mapping[str, ContractTotal]
    contracts_cancelled: int
    subsidies: tuple[SubsidyLine, ...]
    subsidy_granted_fen: int
    """Granted to the holder itself (its side of its deals)."""
    deals: tuple[DealLine, ...]

    @property
    def concluded(self) -> int:
        return sum(self.concluded_by_route.values())

    @property
    def failed(self) -> int:
        return sum(self.failed_by_route.values())

    @property
    def contracts_registered(self) -> int:
        return sum(t.count for t in self.contracts_by_category.values())


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """The year's start and the next year's start (Asia/Shanghai), as UTC: ``[start, end)``."""
    start = datetime(year, 1, 1, tzinfo=SHANGHAI).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=SHANGHAI).astimezone(UTC)
    return start, end


def _text(payload: Mapping[str, Any], name: str) -> str | None:
    value = payload.get(name)
    return None if value in (None, "") else str(value)


def _int(payload: Mapping[str, Any], name: str) -> int:
    value = payload.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _frozen(counts: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(sorted(counts.items())))


def _dedupe(events: Iterable[Archived]) -> list[Archived]:
    seen: set[str] = set()
    out = []
    for e in sorted(events, key=lambda e: e.seq):
        if e.event_id not in seen:
            seen.add(e.event_id)
            out.append(e)
    return out


def annual_report(holder_id: str, year: int, events: Sequence[Archived]) -> AnnualReport:
    """The report of ``holder_id`` for ``year`` from ``events`` (see the module docstring)."""
    start, end = year_bounds(year)
    ordered = _dedupe(events)

    def in_year(e: Archived) -> bool:
        return start <= e.time < end

    # the holder's listings, deals, contracts
    listings: set[str] = set()
    snapshots: dict[str, Mapping[str, Any]] = {}
    for e in ordered:
        if e.kind in ("listing.created", "listing.published") \
                and _text(e.payload, "seller_id") == holder_id:
            listings.add(e.subject)
    for e in ordered:
        if e.kind in ("listing.created", "listing.updated", "listing.published") \
                and e.subject in listings and isinstance(e.payload.get("listing"), Mapping):
            snapshots[e.subject] = e.payload["listing"]
    concluded = [e for e in ordered if e.kind == "deal.concluded" and (
        _text(e.payload, "seller_id") == holder_id or _text(e.payload, "listing_id") in listings)]
    deals = {e.subject: e for e in concluded}
    contracts: set[str] = set()
    for e in ordered:
        p = e.payload
        if (e.kind == "contract.drafted" and (_text(p, "deal_id") in deals
                                              or _text(p, "seller_id") == holder_id)) \
                or (e.kind == "contract.filed" and _text(p, "actor") == holder_id) \
                or (e.kind == "contract.registered" and (_text(p, "deal_id") in deals
                                                         or _text(p, "listing_id") in listings)):
            contracts.add(e.subject)

    # routes of procedures
    routes: dict[str, str] = {}
    for e in ordered:
        if e.kind in ("auction.announced", "auction.closed", "deal.concluded") \
                and _text(e.payload, "route"):
            routes.setdefault(_text(e.payload, "procedure_id") or e.subject,
                              str(e.payload["route"]))

    def route_of(procedure_id: str | None, listing_id: str | None) -> str:
        if procedure_id and procedure_id in routes:
            return routes[procedure_id]
        snapshot = snapshots.get(listing_id or "", {})
        return str(snapshot.get("pricing_route") or UNKNOWN)

    # achievements published that year
    achievements: dict[str, Achievement] = {}
    for e in ordered:
        if e.kind == "listing.published" and e.subject in listings and in_year(e) \
                and e.subject not in achievements:
            s = e.payload.get("listing")
            s = s if isinstance(s, Mapping) else {}
            achievements[e.subject] = Achievement(
                listing_id=e.subject, title=str(s.get("title", "")), field=_text(s, "field"),
                ip_type=_text(s, "ip_type"), route=_text(s, "pricing_route"),
                published_at=e.time)

    procedures: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    for e in ordered:
        if not in_year(e) or _text(e.payload, "listing_id") not in listings:
            continue
        if e.kind == "auction.announced":
            procedures[route_of(e.subject, _text(e.payload, "listing_id"))] += 1
        elif e.kind == "auction.failed":
            failed[route_of(e.subject, _text(e.payload, "listing_id"))] += 1

    # settlement of the deals
    completed: dict[str, Archived] = {}
    defaulted: dict[str, Archived] = {}
    fees: Counter[str] = Counter()
    to_institution: Counter[str] = Counter()
    to_inventors: Counter[str] = Counter()
    shares: dict[str, str] = {}
    compensation = 0
    registration: dict[str, str] = {}
    for e in ordered:
        p = e.payload
        deal_id = _text(p, "deal_id")
        if deal_id not in deals:
            continue
        if e.kind == "settlement.completed":
            completed[deal_id] = e
        elif e.kind == "deal.defaulted":
            defaulted[deal_id] = e
        elif e.kind == "settlement.fee_charged" and p.get("side") == "seller":
            fees[deal_id] += _int(p, "amount_fen")
        elif e.kind == "settlement.payout_made":
            target = to_inventors if p.get("recipient") == "inventor_team" else to_institution
            target[deal_id] += _int(p, "amount_fen")
            if p.get("recipient") == "inventor_team" or deal_id not in shares:
                shares[deal_id] = str(p.get("inventor_share", ""))
        elif e.kind == "deposit.forfeited" and in_year(e) \
                and _text(p, "beneficiary") == f"seller:{holder_id}":
            compensation += _int(p, "amount_fen")
        elif e.kind in ("contract.registered", "contract.amended") \
                and _text(p, "registration_number"):
            registration[deal_id] = str(p["registration_number"])

    lines: list[DealLine] = []
    concluded_by: Counter[str] = Counter()
    concluded_fen: Counter[str] = Counter()
    for deal_id, e in deals.items():
        p = e.payload
        done = completed.get(deal_id)
        settled_in_year = done is not None and in_year(done)
        if not in_year(e) and not settled_in_year:
            continue
        route = str(p.get("route") or UNKNOWN)
        if in_year(e):
            concluded_by[route] += 1
            concluded_fen[route] += _int(p, "price_fen")
        listing_id = _text(p, "listing_id")
        title = snapshots.get(listing_id or "", {}).get("title")
        status = ("completed" if done is not None else
                  "defaulted" if deal_id in defaulted else "open")
        lines.append(DealLine(
            procedure_id=_text(p, "procedure_id"), deal_id=deal_id, listing_id=listing_id,
            achievement=str(title) if title else None, route=route,
            price_fen=_int(p, "price_fen"), concluded_at=e.time, status=status,
            settled_at=done.time if done is not None else None,
            received_fen=_int(done.payload, "received_fen") if settled_in_year else 0,
            seller_fee_fen=fees[deal_id] if settled_in_year else 0,
            institution_fen=to_institution[deal_id] if settled_in_year else 0,
            inventors_fen=to_inventors[deal_id] if settled_in_year else 0,
            inventor_share=shares.get(deal_id), registration_number=registration.get(deal_id)))

    # contracts
    figures: dict[str, tuple[str, int, int]] = {}
    registered_in_year: set[str] = set()
    cancelled = 0
    for e in ordered:
        if e.subject not in contracts or e.time >= end:
            continue
        p = e.payload
        if e.kind == "contract.registered":
            figures[e.subject] = (str(p.get("category") or UNKNOWN), _int(p, "tech_amount_fen"),
                                  _int(p, "total_amount_fen"))
            if in_year(e):
                registered_in_year.add(e.subject)
        elif e.kind == "contract.amended" and e.subject in figures:
            category = figures[e.subject][0]
            figures[e.subject] = (category, _int(p, "tech_amount_fen"),
                                  _int(p, "total_amount_fen"))
        elif e.kind == "contract.cancelled" and in_year(e):
            cancelled += 1
    by_category: dict[str, ContractTotal] = {}
    for contract_id in registered_in_year:
        category, tech, total = figures[contract_id]
        t = by_category.get(category, ContractTotal())
        by_category[category] = ContractTotal(t.count + 1, t.tech_amount_fen + tech,
                                              t.total_amount_fen + total)

    subsidies: list[SubsidyLine] = []
    for e in ordered:
        p = e.payload
        if e.kind == "subsidy.assessed" and _text(p, "deal_id") in deals and p.get("year") == year:
            subsidies.append(SubsidyLine(
                deal_id=str(p["deal_id"]), policy_id=str(p.get("policy_id", "")),
                side=str(p.get("side", "")), recipient_id=str(p.get("recipient_id", "")),
                received_fen=_int(p, "received_fen"), amount_fen=_int(p, "amount_fen"),
                commissioner_share_fen=_int(p, "commissioner_share_fen"), assessed_at=e.time))

    holder_name = None
    for snapshot in snapshots.values():
        holders = snapshot.get("holders") or []
        if holders and isinstance(holders[0], Mapping) and holders[0].get("name"):
            holder_name = str(holders[0]["name"])
    lines.sort(key=lambda line: (line.concluded_at, line.deal_id))
    return AnnualReport(
        holder_id=holder_id, holder_name=holder_name, year=year,
        achievements=tuple(sorted(achievements.values(), key=lambda a: a.published_at)),
        procedures_by_route=_frozen(procedures), concluded_by_route=_frozen(concluded_by),
        concluded_fen_by_route=_frozen(concluded_fen), failed_by_route=_frozen(failed),
        defaulted=sum(1 for e in defaulted.values() if in_year(e)),
        received_fen=sum(line.received_fen for line in lines),
        seller_fee_fen=sum(line.seller_fee_fen for line in lines),
        institution_fen=sum(line.institution_fen for line in lines),
        inventors_fen=sum(line.inventors_fen for line in lines),
        compensation_fen=compensation, contracts_by_category=_frozen(by_category),
        contracts_cancelled=cancelled, subsidies=tuple(subsidies),
        subsidy_granted_fen=sum(s.amount_fen for s in subsidies
                                if s.side == "seller" and s.recipient_id == holder_id),
        deals=tuple(lines))


# -- the per-deal table ----------------------------------------------------------------------
ROW_HEADER: Final = ("交易程序编号", "成果名称", "定价方式", "成交时间", "成交价（元）",
                     "实际到账（元）", "转让方服务费（元）", "单位所得（元）", "完成人所得（元）",
                     "结算状态", "合同登记号")


def _amount(fen: int) -> str:
    whole, cents = divmod(abs(fen), 100)
    return f"{'-' if fen < 0 else ''}{whole:,}.{cents:02d}"


def report_rows(report: AnnualReport, *, header: bool = True) -> list[tuple[str, ...]]:
    """The per-deal table as strings (amounts in 元 with two decimals and thousands
    separators, times in Asia/Shanghai), :data:`ROW_HEADER` first unless ``header`` is False,
    then one row per deal and a total row."""
    rows: list[tuple[str, ...]] = [ROW_HEADER] if header else []
    for d in report.deals:
        rows.append((d.procedure_id or "", d.achievement or "", ROUTE_ZH.get(d.route, d.route),
                     local_time(d.concluded_at), _amount(d.price_fen), _amount(d.received_fen),
                     _amount(d.seller_fee_fen), _amount(d.institution_fen),
                     _amount(d.inventors_fen), _STATUS_ZH.get(d.status, d.status),
                     d.registration_number or ""))
    rows.append(("合计", "", "", "", _amount(sum(d.price_fen for d in report.deals)),
                 _amount(report.received_fen), _amount(report.seller_fee_fen),
                 _amount(report.institution_fen), _amount(report.inventors_fen), "", ""))
    return rows


def category_name(category: str) -> str:
    """A contract category's Chinese name (``transfer`` → ``技术转让``)."""
    return CATEGORY_ZH.get(category, category)
