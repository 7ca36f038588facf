"""A procedure's dossier (交易档案): every step of its story, who did it, when, where, with the
event's id — the evidence that its price was set by a lawful route — as one reader may see it.

Phases (:data:`PHASES`), a small fixed set a step is grouped under:

``listing``       the achievement's history: drafted, reviewed, published, edited, traded
``announcement``  the procedure's announcement and terms, a notice, a listing period's extension
``registration``  bidders / intended buyers registering, their deposits, their qualification
``bidding``       bids accepted and refused, anti-sniping extensions, the listing trade's bidding
``objection``     objections to a negotiated-price notice and their outcomes
``close``         the close, the failure, the deal, the public result announcement
``settlement``    the deal's settlement: schedule, payments, fees, payouts, deposits, subsidies
``contract``      the technology contract at the registrar
``certificate``   certificates issued on the deal (交易鉴证书, 登记证明) and their cancellation
``other``         a kind this release does not know (a newer producer's)

Who reads what (the exchange's privacy rule; :func:`may_read` decides whether one reads at all):

* overseers — operators, regulators and registrars of the procedure's region or one above it,
  and admins — read every step with every field, bidders named;
* a party — the seller, or a bidder / intended buyer of this procedure — reads the public steps
  (announcement, terms, bids, extensions, objections, close, result, the listing's published
  states) and the private ones that are its own (its registration and deposits, its side of the
  settlement, the seller's drafts and contract filings). Other bidders appear as
  ``竞买人 1``, ``竞买人 2`` … numbered by order of registration in this procedure; a party's own
  id is shown next to its number. The seller learns the identities once the procedure has
  ended (closed or failed), as the auction service shows them; in a negotiated procedure it
  knows its buyer from the start. An objector's account is the exchange's only.

The secret reserve price appears only where the catalog discloses it (``AuctionClosed``).
Money is integer fen, shown as 元 with two decimals and thousands separators; times are shown
in Asia/Shanghai.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from services.records.domain.archive import Archived
from services.records.domain.errors import DossierNotFound, NotYourDossier
from services.records.domain.links import select
from shared.regions import InvalidRegion, Region

__all__ = [
    "OVERSEER_ROLES",
    "PHASES",
    "ROLES",
    "SHANGHAI",
    "Actor",
    "Dossier",
    "Phase",
    "Step",
    "Viewer",
    "bidder_numbers",
    "build_dossier",
    "local_time",
    "may_read",
    "parties_of",
    "seller_of",
    "yuan",
]

SHANGHAI: Final = ZoneInfo("Asia/Shanghai")

Phase = Literal["listing", "announcement", "registration", "bidding", "objection", "close",
                "settlement", "contract", "certificate", "other"]
PHASES: Final[tuple[Phase, ...]] = Phase.__args__  # type: ignore[attr-defined]
Outcome = Literal["open", "concluded", "failed"]
ROLES: Final = frozenset({"operator", "regulator", "registrar", "seller", "buyer", "admin"})
OVERSEER_ROLES: Final = frozenset({"operator", "regulator", "registrar", "admin"})

ROUTE_ZH: Final = {"auction": "拍卖", "listing": "挂牌交易", "negotiated": "协议定价"}
_ID_FIELDS: Final = ("bidder_id", "winner_id", "buyer_id", "party_id", "recipient_id", "actor")
"""Payload fields that may hold a bidder's id (shown as its number to whom may not know it)."""


# -- formatting ------------------------------------------------------------------------------
def yuan(fen: int) -> str:
    """``186000000`` → ``"1,860,000.00 元"`` (exact: integer arithmetic only)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{whole:,}.{cents:02d} 元"


def local_time(at: datetime) -> str:
    """``2026-04-18T02:04:30Z`` → ``"2026-04-18 10:04:30"`` (Asia/Shanghai)."""
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def _dt(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value)
    return None


def _when(value: Any) -> str:
    at = _dt(value)
    return local_time(at) if at is not None else "—"


def _money(value: Any) -> str:
    return yuan(int(value)) if isinstance(value, int) else "—"


def _text(payload: Mapping[str, Any], name: str) -> str | None:
    value = payload.get(name)
    return None if value in (None, "") else str(value)


# -- readers ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Viewer:
    """Who reads: the principal's role, its subject (``party``) and its region."""

    role: str
    party: str | None = None
    region: str = ""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}")

    @property
    def oversees(self) -> bool:
        """An overseer role; whether of the right region is :func:`may_read`'s question."""
        return self.role in OVERSEER_ROLES


def _covers(region: str, other: str) -> bool:
    try:
        return Region.parse(region).contains(other)
    except InvalidRegion:
        return False


def may_read(viewer: Viewer, dossier_region: str, parties: Collection[str]) -> bool:
    """Whether ``viewer`` may read a dossier of ``dossier_region`` whose parties are
    ``parties`` (:func:`parties_of`): an admin always; an operator, regulator or registrar of
    that region or one above it (``120000`` covers ``120101``); a party of the procedure."""
    if viewer.role == "admin":
        return True
    if viewer.oversees and _covers(viewer.region, dossier_region):
        return True
    return viewer.party is not None and viewer.party in parties


# -- the dossier -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Actor:
    """Who acted in a step: ``role`` is seller, bidder (before the deal), buyer (after it),
    operator, registrar, objector or system; ``id`` the account as the reader may see it (a
    bidder's number to whom may not know it; None when the reader may not know at all)."""

    role: str
    region: str
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Step:
    seq: int
    at: datetime
    event_id: str
    kind: str
    phase: Phase
    title_zh: str
    summary_zh: str
    who: Actor
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """The event's payload fields the reader may see (bidder ids as numbers where due)."""


@dataclass(frozen=True, slots=True)
class Dossier:
    """One procedure's record as one reader sees it. Summary fields the reader may not see
    (or that did not happen yet) are None."""

    procedure_id: str
    listing_id: str | None
    route: str | None
    region: str
    title: str | None
    """The achievement's name (the listing's title, or the notice's project name)."""
    outcome: Outcome
    steps: tuple[Step, ...]
    round: int = 1
    previous_procedure_id: str | None = None
    related_procedure_ids: tuple[str, ...] = ()
    """Other procedures of the same listing seen in the archive (earlier and later rounds)."""
    seller_id: str | None = None
    announced_at: datetime | None = None
    ended_at: datetime | None = None
    failure_reason: str | None = None
    price_fen: int | None = None
    """The hammer / deal price."""
    winner: str | None = None
    """The buyer as the reader may see it: its number (``竞买人 1``) or ``竞买人 1（id）``."""
    reserve_fen: int | None = None
    accepted_bids: int = 0
    deal_id: str | None = None
    settlement_state: Literal["open", "completed", "defaulted"] | None = None
    received_fen: int | None = None
    settled_at: datetime | None = None
    contract_id: str | None = None
    contract_state: Literal["drafted", "filed", "refused", "registered", "cancelled"] | None = None
    registration_number: str | None = None
    certificates: tuple[str, ...] = ()
    """Numbers of the certificates issued on the procedure, in issue order."""
    cancelled_certificates: tuple[str, ...] = ()
    sees_identities: bool = False


@dataclass(frozen=True, slots=True)
class _Kind:
    phase: Phase
    title_zh: str
    role: str
    who_field: str | None = None
    """Where the actor's id is when the event has no ``actor``."""


_KINDS: Final[dict[str, _Kind]] = {
    "listing.created": _Kind("listing", "成果登记（草稿）", "seller", "seller_id"),
    "listing.updated": _Kind("listing", "成果信息修改", "seller"),
    "listing.submitted": _Kind("listing", "提交审核", "seller"),
    "listing.review_started": _Kind("listing", "开始审核", "operator"),
    "listing.security_reviewed": _Kind("listing", "出口管制与安全审查", "operator"),
    "listing.published": _Kind("listing", "成果发布", "operator"),
    "listing.rejected": _Kind("listing", "审核未通过", "operator"),
    "listing.withdrawn": _Kind("listing", "成果撤回", "seller"),
    "listing.expired": _Kind("listing", "发布期满", "system"),
    "listing.in_transaction": _Kind("announcement", "成果进入交易", "system"),
    "listing.returned": _Kind("close", "成果重新发布", "system"),
    "listing.traded": _Kind("contract", "成果已成交", "system"),
    "auction.announced": _Kind("announcement", "交易公告发布", "operator"),
    "auction.terms_published": _Kind("announcement", "拍卖条件公布", "operator"),
    "auction.listing_terms_published": _Kind("announcement", "挂牌条件公布", "operator"),
    "auction.notice_published": _Kind("announcement", "协议定价公示", "operator"),
    "auction.listing_period_extended": _Kind("announcement", "挂牌期延长", "system"),
    "auction.bidder_registered": _Kind("registration", "竞买报名", "bidder", "bidder_id"),
    "auction.bidder_qualified": _Kind("registration", "取得竞买资格", "system"),
    "deposit.confirmed": _Kind("registration", "保证金到账", "system"),
    "auction.bid_accepted": _Kind("bidding", "出价被接受", "bidder", "bidder_id"),
    "auction.bid_rejected": _Kind("bidding", "出价被拒绝", "bidder", "bidder_id"),
    "auction.extended": _Kind("bidding", "竞价延时", "system"),
    "auction.listing_bidding_started": _Kind("bidding", "进入网络竞价", "system"),
    "auction.objection_filed": _Kind("objection", "收到异议", "objector"),
    "auction.objection_resolved": _Kind("objection", "异议处理", "operator"),
    "auction.closed": _Kind("close", "成交", "system"),
    "auction.failed": _Kind("close", "交易终止", "system"),
    "deal.concluded": _Kind("close", "交易达成", "system"),
    "public.catalog.procedure_announced": _Kind("announcement", "公告同步发布", "system"),
    "public.catalog.procedure_result": _Kind("close", "结果公告", "system"),
    "deal.defaulted": _Kind("settlement", "受让方违约", "system"),
    "settlement.opened": _Kind("settlement", "结算开始", "system"),
    "settlement.schedule_set": _Kind("settlement", "付款计划调整", "operator", "set_by"),
    "settlement.payment_received": _Kind("settlement", "收到价款", "buyer", "buyer_id"),
    "settlement.payment_overdue": _Kind("settlement", "付款逾期", "system"),
    "settlement.fee_charged": _Kind("settlement", "收取交易服务费", "system"),
    "settlement.payout_made": _Kind("settlement", "划付价款", "system"),
    "settlement.completed": _Kind("settlement", "结算完成", "system"),
    "deposit.applied": _Kind("settlement", "保证金抵作价款", "system"),
    "deposit.released": _Kind("settlement", "保证金退还", "system"),
    "deposit.forfeited": _Kind("settlement", "保证金没收", "system"),
    "subsidy.assessed": _Kind("settlement", "补助评定", "system"),
    "contract.drafted": _Kind("contract", "合同草稿生成", "system"),
    "contract.filed": _Kind("contract", "申请合同登记", "seller"),
    "contract.refused": _Kind("contract", "未予登记", "registrar"),
    "contract.registered": _Kind("contract", "合同认定登记", "registrar"),
    "contract.amended": _Kind("contract", "合同变更登记", "registrar"),
    "contract.cancelled": _Kind("contract", "合同注销登记", "registrar"),
    "certificate.issued": _Kind("certificate", "证书签发", "system"),
    "certificate.cancelled": _Kind("certificate", "证书作废", "system"),
}
_UNKNOWN: Final = _Kind("other", "", "system")

REJECT_REASON_ZH: Final = {
    "not-qualified": "未取得竞买资格", "not-open": "竞价尚未开始", "after-close": "竞价已结束",
    "below-minimum": "低于最低应价", "not-multiple": "加价不是加价幅度的整数倍",
    "own-high-bid": "已是当前最高出价",
}
FAILURE_ZH: Final = {
    "no-bid": "无人出价（流拍）", "reserve-not-met": "最高出价未达保留价（流拍）",
    "winner-defaulted": "买受人未按期付款（违约）", "no-qualified-buyer": "无合格意向受让方",
    "objection-upheld": "异议成立",
}
_FILING_ZH: Final = {"original": "认定登记", "amendment": "变更登记", "cancellation": "注销登记"}
CATEGORY_ZH: Final = {"development": "技术开发", "transfer": "技术转让", "licence": "技术许可",
                      "consulting": "技术咨询", "service": "技术服务"}
_SIDE_ZH: Final = {"buyer": "受让方", "seller": "转让方"}
_RELATION_ZH: Final = {"inventor": "（受让方为成果完成人）", "related_party": "（受让方为关联方）"}

_SELLER_ONLY: Final = frozenset({
    "listing.created", "listing.updated", "listing.submitted", "listing.review_started",
    "listing.security_reviewed", "listing.rejected", "settlement.payout_made",
    "contract.drafted", "contract.filed", "contract.refused"})
_DEAL_PARTIES: Final = frozenset({
    "settlement.opened", "settlement.schedule_set", "settlement.payment_received",
    "settlement.payment_overdue", "settlement.completed", "contract.registered",
    "contract.amended", "contract.cancelled", "certificate.issued", "certificate.cancelled"})
_PUBLIC_TO_PARTIES: Final = frozenset({
    "listing.published", "listing.withdrawn", "listing.expired", "listing.in_transaction",
    "listing.returned", "listing.traded", "auction.announced", "auction.terms_published",
    "auction.listing_terms_published", "auction.notice_published",
    "auction.listing_period_extended", "auction.bid_accepted", "auction.bid_rejected",
    "auction.extended", "auction.listing_bidding_started", "auction.objection_filed",
    "auction.objection_resolved", "auction.closed", "auction.failed", "deal.concluded",
    "deal.defaulted", "public.catalog.procedure_announced", "public.catalog.procedure_result"})


# -- who is who ------------------------------------------------------------------------------
def seller_of(events: Iterable[Archived]) -> str | None:
    """The seller's id as the story tells it (the deal's, else the listing's or notice's)."""
    found = None
    for e in events:
        if e.kind in ("deal.concluded", "settlement.opened", "auction.notice_published"):
            return _text(e.payload, "seller_id")
        if e.kind in ("listing.created", "listing.published") and found is None:
            found = _text(e.payload, "seller_id")
    return found


def bidder_numbers(procedure_id: str, events: Iterable[Archived]) -> dict[str, int]:
    """Bidder id → its number in this procedure: 1, 2 … by order of registration; a bidder
    met without a registration (a notice's buyer) is numbered after, in archive order."""
    ordered = sorted(events, key=lambda e: e.seq)
    numbers: dict[str, int] = {}
    own = [e for e in ordered if (e.subject == procedure_id and e.kind.startswith("auction."))
           or (e.kind.startswith(("deposit.", "deal."))
               and _text(e.payload, "procedure_id") == procedure_id)]
    registered = [e for e in own if e.kind == "auction.bidder_registered"]
    for e in (*registered, *own):
        for name in ("bidder_id", "winner_id", "buyer_id"):
            bidder = _text(e.payload, name)
            if bidder is not None and bidder not in numbers:
                numbers[bidder] = len(numbers) + 1
    return numbers


def parties_of(procedure_id: str, events: Sequence[Archived]) -> frozenset[str]:
    """The procedure's parties: its seller and every bidder / intended buyer (for
    :func:`may_read`). ``events`` may be the store's fetch: only the story is read."""
    story = select(procedure_id, events)
    seller = seller_of(story)
    bidders = bidder_numbers(procedure_id, story)
    return frozenset({*bidders, *([seller] if seller else [])})


@dataclass(frozen=True, slots=True)
class _Reader:
    viewer: Viewer
    numbers: Mapping[str, int]
    seller_id: str | None
    buyer_id: str | None
    sees_identities: bool

    def knows(self, bidder: str) -> bool:
        return self.sees_identities or bidder == self.viewer.party

    def shown(self, party: str) -> str:
        """A party's id as details show it: the id if the reader may know it, else its number."""
        number = self.numbers.get(party)
        if number is None or self.knows(party):
            return party
        return f"竞买人 {number}"

    def name(self, party: str | None) -> str:
        """A party as summaries name it: ``竞买人 2``, with the id if the reader may know it."""
        if party is None:
            return "—"
        number = self.numbers.get(party)
        if number is None:
            return party
        return f"竞买人 {number}（{party}）" if self.knows(party) else f"竞买人 {number}"

    def may_see(self, event: Archived) -> bool:
        if self.viewer.oversees:
            return True
        me, kind, p = self.viewer.party, event.kind, event.payload
        is_seller = me is not None and me == self.seller_id
        if kind in _PUBLIC_TO_PARTIES:
            return True
        if kind in _SELLER_ONLY:
            return is_seller
        if kind in _DEAL_PARTIES:
            return me is not None and me in (self.seller_id, self.buyer_id)
        if kind in ("auction.bidder_registered", "auction.bidder_qualified"):
            return me == _text(p, "bidder_id") or (is_seller and self.sees_identities)
        if kind in ("deposit.confirmed", "deposit.released"):
            return me == _text(p, "bidder_id")
        if kind in ("deposit.applied", "deposit.forfeited"):
            return me == _text(p, "bidder_id") or is_seller
        if kind == "settlement.fee_charged":
            return me == _text(p, "party_id")
        if kind == "subsidy.assessed":
            return me == _text(p, "recipient_id")
        return False  # a kind this release does not know: the overseers' only

    def details(self, event: Archived) -> Mapping[str, Any]:
        shown = dict(event.payload)
        if not self.viewer.oversees:
            if event.kind == "auction.objection_filed":
                shown.pop("actor", None)  # the objector is the exchange's to know
            for name in _ID_FIELDS:
                value = shown.get(name)
                if isinstance(value, str):
                    shown[name] = self.shown(value)
        return MappingProxyType(shown)


# -- one-line summaries ----------------------------------------------------------------------
Summary = Callable[[Mapping[str, Any], _Reader], str]


def _snapshot(p: Mapping[str, Any]) -> Mapping[str, Any]:
    listing = p.get("listing")
    return listing if isinstance(listing, Mapping) else {}


def _s_created(p: Mapping[str, Any], r: _Reader) -> str:
    s = _snapshot(p)
    price = s.get("reference_price_fen")
    return (f"成果「{s.get('title', '')}」登记为草稿，定价方式"
            f"{ROUTE_ZH.get(str(s.get('pricing_route')), '—')}"
            + (f"，参考价 {_money(price)}" if price is not None else ""))


def _s_security(p: Mapping[str, Any], r: _Reader) -> str:
    outcome = "通过" if p.get("outcome") == "cleared" else "未通过"
    return f"出口管制与安全审查{outcome}（{p.get('reference', '')}）"


def _s_terms(p: Mapping[str, Any], r: _Reader) -> str:
    reserve = "设有保留价（成交时公开）" if p.get("has_reserve") else "无保留价"
    rounds = f"第 {p['round']} 次拍卖，" if int(p.get("round") or 1) > 1 else ""
    window = int(p.get("extension_seconds") or 0)
    return (f"{rounds}起拍价 {_money(p.get('start_price_fen'))}，加价幅度 "
            f"{_money(p.get('increment_fen'))}，保证金 {_money(p.get('deposit_fen'))}，{reserve}；"
            f"竞价时间 {_when(p.get('starts_at'))} 至 {_when(p.get('ends_at'))}，"
            f"延时周期 {window // 60} 分钟")


def _s_listing_terms(p: Mapping[str, Any], r: _Reader) -> str:
    return (f"挂牌价 {_money(p.get('listed_price_fen'))}，加价幅度 "
            f"{_money(p.get('increment_fen'))}，保证金 {_money(p.get('deposit_fen'))}；"
            f"挂牌 {p.get('working_days')} 个工作日，至 {_when(p.get('period_ends_at'))}；"
            f"无合格意向受让方时可延长 {p.get('max_extensions')} 次，"
            f"每次 {p.get('extension_working_days')} 个工作日")


def _s_bid(p: Mapping[str, Any], r: _Reader) -> str:
    proxy = "，代理出价" if p.get("automatic") else ""
    return (f"{r.name(_text(p, 'bidder_id'))} 出价 {_money(p.get('amount_fen'))}"
            f"（第 {p.get('sequence')} 次有效出价{proxy}），竞价结束时间 {_when(p.get('ends_at'))}")


def _s_rejected(p: Mapping[str, Any], r: _Reader) -> str:
    reason = str(p.get("reason", ""))
    minimum = p.get("minimum_fen")
    return (f"{r.name(_text(p, 'bidder_id'))} 出价 {_money(p.get('amount_fen'))} 未被接受："
            f"{REJECT_REASON_ZH.get(reason, reason)}"
            + (f"（最低应价 {_money(minimum)}）" if minimum is not None else ""))


def _s_notice(p: Mapping[str, Any], r: _Reader) -> str:
    relation = _RELATION_ZH.get(str(p.get("buyer_relation")), "")
    return (f"公示「{p.get('project_name', '')}」，转让方式 {p.get('transfer_mode', '')}，"
            f"价格 {_money(p.get('price_fen'))}，受让方 {p.get('buyer_name', '')}{relation}，"
            f"公示至 {_when(p.get('ends_at'))}")


def _s_resolved(p: Mapping[str, Any], r: _Reader) -> str:
    outcome = "异议成立" if p.get("outcome") == "upheld" else "异议不成立，予以驳回"
    return f"{outcome}：{p.get('reason', '')}"


def _s_closed(p: Mapping[str, Any], r: _Reader) -> str:
    reserve = p.get("reserve_fen")
    return (f"成交价 {_money(p.get('hammer_price_fen'))}，买受人 {r.name(_text(p, 'winner_id'))}，"
            f"有效出价 {p.get('accepted_bids')} 次"
            + (f"；保留价 {_money(reserve)}（成交时公开）" if reserve is not None else ""))


def _s_failed(p: Mapping[str, Any], r: _Reader) -> str:
    reason = str(p.get("reason", ""))
    return f"交易程序终止：{FAILURE_ZH.get(reason, reason)}"


def _s_result(p: Mapping[str, Any], r: _Reader) -> str:
    if p.get("outcome") == "sold":
        number = f"，竞买号 {p['winner_number']}" if p.get("winner_number") else ""
        return f"成交公告：成交价 {_money(p.get('price_fen'))}{number}"
    failure = str(p.get("failure") or "")
    return f"结果公告：未成交（{FAILURE_ZH.get(failure, failure)}）"


def _s_opened(p: Mapping[str, Any], r: _Reader) -> str:
    instalments = p.get("instalments") or []
    return (f"价款 {_money(p.get('price_fen'))}，受让方服务费 {_money(p.get('buyer_fee_fen'))}，"
            f"转让方服务费 {_money(p.get('seller_fee_fen'))}，保证金抵扣 "
            f"{_money(p.get('deposit_fen'))}，应付 {_money(p.get('outstanding_fen'))}，"
            f"分 {len(instalments)} 期")


def _s_schedule(p: Mapping[str, Any], r: _Reader) -> str:
    rows = [f"第 {i.get('n')} 期 {_when(i.get('due_at'))} 前 {_money(i.get('amount_fen'))}"
            for i in p.get("instalments") or []]
    return "付款计划：" + "；".join(rows)


def _s_payment(p: Mapping[str, Any], r: _Reader) -> str:
    via = "银行到账" if p.get("source") == "bank" else "人工登记"
    reference = f"，凭证 {p['reference']}" if p.get("reference") else ""
    return (f"收到 {r.name(_text(p, 'buyer_id'))} 付款 {_money(p.get('amount_fen'))}（{via}"
            f"{reference}），累计 {_money(p.get('paid_fen'))}，尚欠 "
            f"{_money(p.get('outstanding_fen'))}")


def _s_overdue(p: Mapping[str, Any], r: _Reader) -> str:
    return (f"第 {p.get('instalment')} 期应于 {_when(p.get('due_at'))} 前付清，差额 "
            f"{_money(p.get('shortfall_fen'))}；{_when(p.get('default_at'))} 前仍未付清即违约")


def _s_payout(p: Mapping[str, Any], r: _Reader) -> str:
    to = "成果完成人团队" if p.get("recipient") == "inventor_team" else "转让方"
    return (f"向{to}划付 {_money(p.get('amount_fen'))}（完成人团队分成比例 "
            f"{p.get('inventor_share', '—')}）")


def _s_subsidy(p: Mapping[str, Any], r: _Reader) -> str:
    side = _SIDE_ZH.get(str(p.get("side")), "")
    amount = int(p.get("amount_fen") or 0)
    granted = f"补助 {yuan(amount)}" if amount else "不予补助"
    reasons = "；".join(str(x) for x in p.get("reasons") or [])
    return f"{p.get('policy_id', '')} 对{side}：{granted}" + (f"（{reasons}）" if reasons else "")


def _s_filed(p: Mapping[str, Any], r: _Reader) -> str:
    category = str(p.get("category", ""))
    filing = _FILING_ZH.get(str(p.get("kind")), "登记")
    return (f"申请{filing}：{CATEGORY_ZH.get(category, category)}，"
            f"合同金额 {_money(p.get('total_amount_fen'))}，技术交易额 "
            f"{_money(p.get('tech_amount_fen'))}，{_when(p.get('due_at'))} 前作出决定")


def _s_refused(p: Mapping[str, Any], r: _Reader) -> str:
    reasons = [str(x.get("detail") or x.get("code")) for x in p.get("reasons") or []
               if isinstance(x, Mapping)]
    return "未予登记：" + "；".join(reasons)


def _s_registered(p: Mapping[str, Any], r: _Reader) -> str:
    category = _text(p, "category")
    amount = p.get("tech_amount_fen")
    return (f"登记号 {p.get('registration_number')}"
            + (f"，{CATEGORY_ZH.get(category, category)}" if category else "")
            + (f"，技术交易额 {_money(amount)}" if amount is not None else ""))


_SUMMARIES: Final[dict[str, Summary]] = {
    "listing.created": _s_created,
    "listing.updated": lambda p, r: f"成果信息修改为「{_snapshot(p).get('title', '')}」",
    "listing.submitted": lambda p, r: "提交所在地区交易机构审核",
    "listing.review_started": lambda p, r: "交易机构开始审核",
    "listing.security_reviewed": _s_security,
    "listing.published": lambda p, r: (f"成果「{_snapshot(p).get('title', '')}」发布，"
                                       f"有效期至 {_when(p.get('expires_at'))}"),
    "listing.rejected": lambda p, r: f"审核未通过：{p.get('reason', '')}",
    "listing.withdrawn": lambda p, r: "权利人撤回成果",
    "listing.expired": lambda p, r: "发布期满，未成交",
    "listing.in_transaction": lambda p, r: "成果进入交易程序",
    "listing.returned": lambda p, r: "交易程序未成交，成果重新发布",
    "listing.traded": lambda p, r: "技术合同已登记，成果已成交",
    "auction.announced": lambda p, r: (f"{ROUTE_ZH.get(str(p.get('route')), '')}公告发布，"
                                       f"{_when(p.get('starts_at'))} 开始"),
    "auction.terms_published": _s_terms,
    "auction.listing_terms_published": _s_listing_terms,
    "auction.notice_published": _s_notice,
    "auction.listing_period_extended": lambda p, r: (
        f"挂牌期届满无合格意向受让方，第 {p.get('cycle')} 次延长 {p.get('working_days')} "
        f"个工作日，由 {_when(p.get('previous_ends_at'))} 延至 {_when(p.get('ends_at'))}"),
    "auction.bidder_registered": lambda p, r: (f"{r.name(_text(p, 'bidder_id'))} 报名，应交保证金 "
                                               f"{_money(p.get('deposit_fen'))}"),
    "auction.bidder_qualified": lambda p, r: (f"{r.name(_text(p, 'bidder_id'))} 保证金已确认，"
                                              "取得竞买资格"),
    "auction.bid_accepted": _s_bid,
    "auction.bid_rejected": _s_rejected,
    "auction.extended": lambda p, r: (f"第 {p.get('sequence')} 次有效出价在结束前出现，结束时间由 "
                                      f"{_when(p.get('previous_ends_at'))} 延至 "
                                      f"{_when(p.get('ends_at'))}"),
    "auction.listing_bidding_started": lambda p, r: (
        f"{p.get('qualified_bidders')} 名合格意向受让方，进入网络竞价：自由报价 "
        f"{_when(p.get('free_quote_starts_at'))} 至 {_when(p.get('free_quote_ends_at'))}，"
        f"限时竞价至 {_when(p.get('ends_at'))}"),
    "auction.objection_filed": lambda p, r: f"异议理由：{p.get('grounds', '')}",
    "auction.objection_resolved": _s_resolved,
    "auction.closed": _s_closed,
    "auction.failed": _s_failed,
    "deal.concluded": lambda p, r: (f"{ROUTE_ZH.get(str(p.get('route')), '')}成交，价格 "
                                    f"{_money(p.get('price_fen'))}，受让方 "
                                    f"{r.name(_text(p, 'buyer_id'))}"),
    "public.catalog.procedure_announced": lambda p, r: (
        f"公告同步发布至技术交易网络：「{p.get('title', '')}」，价格 {_money(p.get('price_fen'))}"),
    "public.catalog.procedure_result": _s_result,
    "deal.defaulted": lambda p, r: (f"{r.name(_text(p, 'buyer_id'))} 未在 {_when(p.get('due_at'))} "
                                    f"前付清，违约；保证金 {_money(p.get('forfeited_fen'))} 没收"),
    "settlement.opened": _s_opened,
    "settlement.schedule_set": _s_schedule,
    "settlement.payment_received": _s_payment,
    "settlement.payment_overdue": _s_overdue,
    "settlement.fee_charged": lambda p, r: (
        f"向{_SIDE_ZH.get(str(p.get('side')), '')}收取交易服务费 {_money(p.get('amount_fen'))}"
        f"（收费标准 {p.get('schedule', '')}）"),
    "settlement.payout_made": _s_payout,
    "settlement.completed": lambda p, r: f"结算完成，实际到账 {_money(p.get('received_fen'))}",
    "deposit.confirmed": lambda p, r: (f"{r.name(_text(p, 'bidder_id'))} 交纳保证金 "
                                       f"{_money(p.get('amount_fen'))}"),
    "deposit.applied": lambda p, r: (f"{r.name(_text(p, 'bidder_id'))} 的保证金 "
                                     f"{_money(p.get('amount_fen'))} 抵作价款"),
    "deposit.released": lambda p, r: (
        f"退还 {r.name(_text(p, 'bidder_id'))} 的保证金 {_money(p.get('amount_fen'))}（"
        + ("未成交" if p.get("reason") == "not-the-winner" else "交易程序终止") + "）"),
    "deposit.forfeited": lambda p, r: (f"没收 {r.name(_text(p, 'bidder_id'))} 的保证金 "
                                       f"{_money(p.get('amount_fen'))}，归入 "
                                       f"{p.get('beneficiary', '')}"),
    "subsidy.assessed": _s_subsidy,
    "contract.drafted": lambda p, r: "依据已结算的交易生成技术合同草稿",
    "contract.filed": _s_filed,
    "contract.refused": _s_refused,
    "contract.registered": _s_registered,
    "contract.amended": lambda p, r: (f"登记号 {p.get('registration_number')}，技术交易额变更为 "
                                      f"{_money(p.get('tech_amount_fen'))}"),
    "contract.cancelled": lambda p, r: (f"登记号 {p.get('registration_number')} 注销："
                                        f"{p.get('reason', '')}"),
    "certificate.issued": lambda p, r: (
        f"签发{'交易鉴证书' if p.get('kind') == 'transaction' else '技术合同登记证明'}，"
        f"编号 {p.get('number')}"),
    "certificate.cancelled": lambda p, r: f"证书 {p.get('number')} 作废：{p.get('reason', '')}",
}


def _region_of(event: Archived) -> str:
    """The step's region: the payload's, else the ``/service/region`` source's."""
    if event.kind in ("contract.registered", "contract.refused", "contract.amended",
                      "contract.cancelled") and _text(event.payload, "registrar_region"):
        return str(event.payload["registrar_region"])
    region = _text(event.payload, "region") or event.region
    if region:
        return region
    return event.source.rstrip("/").rsplit("/", 1)[-1]


def _step(event: Archived, reader: _Reader) -> Step:
    spec = _KINDS.get(event.kind, _UNKNOWN)
    p = event.payload
    actor = _text(p, "actor") or (_text(p, spec.who_field) if spec.who_field else None)
    if actor is not None and not reader.viewer.oversees:
        actor = None if spec.role == "objector" else reader.shown(actor)
    summary = _SUMMARIES.get(event.kind)
    return Step(seq=event.seq, at=event.time, event_id=event.event_id, kind=event.kind,
                phase=spec.phase, title_zh=spec.title_zh or event.kind,
                summary_zh=summary(p, reader) if summary else event.kind,
                who=Actor(role=spec.role, region=_region_of(event), id=actor),
                details=reader.details(event))


# -- building it -----------------------------------------------------------------------------
def _last(events: Iterable[Archived], *kinds: str) -> Archived | None:
    found = None
    for e in events:
        if e.kind in kinds:
            found = e
    return found


def _related(procedure_id: str, listing_id: str | None, events: Iterable[Archived]
             ) -> tuple[str, ...]:
    """Other procedures of the same listing, in the order the archive met them."""
    seen: dict[str, None] = {}
    for e in sorted(events, key=lambda e: e.seq):
        p = e.payload
        other = None
        if e.kind.startswith("auction.") and listing_id and _text(p, "listing_id") == listing_id:
            other = e.subject
        elif e.kind == "auction.terms_published" and _text(p, "previous_procedure_id") \
                == procedure_id:
            other = e.subject
        elif e.kind in ("listing.in_transaction", "listing.returned") \
                and _text(p, "listing_id") == listing_id:
            other = _text(p, "procedure_id")
        if other and other != procedure_id:
            seen.setdefault(other, None)
    return tuple(seen)


def build_dossier(procedure_id: str, events: Sequence[Archived], viewer: Viewer) -> Dossier:
    """The dossier of ``procedure_id`` from ``events`` (the store's fetch; only the story,
    :func:`~services.records.domain.links.select`, is read) as ``viewer`` may see it.

    Raises :class:`DossierNotFound` when the events hold nothing of the procedure and
    :class:`NotYourDossier` when the viewer may not read it (:func:`may_read`)."""
    story = select(procedure_id, events)
    own = [e for e in story if e.subject == procedure_id and e.kind.startswith("auction.")]
    if not own and not any(e.kind.startswith("deal.") for e in story):
        raise DossierNotFound(f"No procedure {procedure_id} in the archive.",
                              procedure_id=procedure_id)
    first = (own or story)[0]
    region = str(first.payload.get("region") or first.region)
    seller = seller_of(story)
    numbers = bidder_numbers(procedure_id, story)
    parties = frozenset({*numbers, *([seller] if seller else [])})
    if not may_read(viewer, region, parties):
        raise NotYourDossier(f"Procedure {procedure_id} is not yours to read.",
                             procedure_id=procedure_id)
    ends = [e for e in story if e.kind in ("auction.closed", "auction.failed", "deal.defaulted")]
    deal = _last(story, "deal.concluded")
    announced = _last(own, "auction.announced")
    terms = _last(own, "auction.terms_published", "auction.listing_terms_published",
                  "auction.notice_published")
    route = next((str(e.payload["route"]) for e in (*own, *story)
                  if e.kind in ("auction.announced", "auction.closed", "deal.concluded")
                  and e.payload.get("route")), None)
    if route is None and terms is not None:
        route = {"auction.terms_published": "auction", "auction.listing_terms_published":
                 "listing", "auction.notice_published": "negotiated"}[terms.kind]
    is_seller = viewer.party is not None and viewer.party == seller
    sees = viewer.oversees or (is_seller and (bool(ends) or route == "negotiated"))
    buyer = _text(deal.payload, "buyer_id") if deal else None
    reader = _Reader(viewer, numbers, seller, buyer, sees)
    visible = [e for e in story if reader.may_see(e)]
    steps = tuple(_step(e, reader) for e in visible)

    listing_id = next((str(e.payload["listing_id"]) for e in (*own, *story)
                       if e.payload.get("listing_id")), None)
    titles = [_snapshot(e.payload).get("title") for e in visible
              if e.kind in ("listing.created", "listing.updated", "listing.published")]
    title = next((str(t) for t in reversed(titles) if t), None)
    if title is None:
        named = _last(visible, "auction.notice_published", "public.catalog.procedure_announced")
        if named is not None:
            title = _text(named.payload, "project_name") or _text(named.payload, "title")
    last_end = _last(visible, "auction.closed", "auction.failed", "deal.defaulted")
    outcome: Outcome = "open"
    failure = None
    if last_end is not None and last_end.kind != "auction.closed":
        outcome = "failed"
        failure = _text(last_end.payload, "reason") or "winner-defaulted"
    elif last_end is not None or deal is not None:
        outcome = "concluded"
    closed = _last(visible, "auction.closed")
    price = (closed.payload.get("hammer_price_fen") if closed else
             deal.payload.get("price_fen") if deal else None)
    winner = _text(closed.payload, "winner_id") if closed else buyer
    settlement = _last(visible, "settlement.opened", "settlement.completed", "deal.defaulted")
    settlement_state = None if settlement is None else {
        "settlement.opened": "open", "settlement.completed": "completed",
        "deal.defaulted": "defaulted"}[settlement.kind]
    in_the_deal = viewer.oversees or (viewer.party is not None
                                      and viewer.party in (seller, buyer))
    if settlement_state == "defaulted" and not in_the_deal:
        settlement_state = None  # a party outside the deal reads the default, not the ledger
    completed = _last(visible, "settlement.completed")
    contract = _last(visible, "contract.drafted", "contract.filed", "contract.refused",
                     "contract.registered", "contract.amended", "contract.cancelled")
    contract_state = None if contract is None else {
        "contract.drafted": "drafted", "contract.filed": "filed", "contract.refused": "refused",
        "contract.registered": "registered", "contract.amended": "registered",
        "contract.cancelled": "cancelled"}[contract.kind]
    registered = _last(visible, "contract.registered", "contract.amended")
    round_ = int(terms.payload.get("round") or 1) if terms else 1
    return Dossier(
        procedure_id=procedure_id, listing_id=listing_id, route=route, region=region,
        title=title, outcome=outcome, steps=steps, round=round_,
        previous_procedure_id=_text(terms.payload, "previous_procedure_id") if terms else None,
        related_procedure_ids=_related(procedure_id, listing_id, events),
        seller_id=seller,
        announced_at=announced.time if announced else None,
        ended_at=last_end.time if last_end else None,
        failure_reason=failure,
        price_fen=int(price) if isinstance(price, int) else None,
        winner=reader.name(winner) if winner else None,
        reserve_fen=closed.payload.get("reserve_fen") if closed else None,
        accepted_bids=sum(1 for e in visible if e.kind == "auction.bid_accepted"),
        deal_id=_text(deal.payload, "deal_id") if deal else None,
        settlement_state=settlement_state,  # type: ignore[arg-type]
        received_fen=completed.payload.get("received_fen") if completed else None,
        settled_at=completed.time if completed else None,
        contract_id=contract.subject if contract else None,
        contract_state=contract_state,  # type: ignore[arg-type]
        registration_number=_text(registered.payload, "registration_number")
        if registered else None,
        certificates=tuple(e.subject for e in visible if e.kind == "certificate.issued"),
        cancelled_certificates=tuple(e.subject for e in visible
                                     if e.kind == "certificate.cancelled"),
        sees_identities=sees)
