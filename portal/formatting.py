"""How the portal writes money, times and the codes of the public API in Chinese.

Money comes as integer fen and is shown in 元 through Decimal (never a float); times come as UTC
ISO 8601 and are shown in Beijing time (Asia/Shanghai).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import Markup, escape

try:
    SHANGHAI: timezone | ZoneInfo = ZoneInfo("Asia/Shanghai")
except ZoneInfoNotFoundError:  # no tz database on the machine: China keeps UTC+8 all year
    SHANGHAI = timezone(timedelta(hours=8), "CST")

_CENT = Decimal("0.01")
_WAN = Decimal(10_000)


def fen_to_yuan(fen: int) -> Decimal:
    """The exact amount in 元 of ``fen``: ``fen_to_yuan(150000000) == Decimal("1500000.00")``."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"an amount in fen is an integer, not {fen!r}")
    return (Decimal(fen) / 100).quantize(_CENT)


def yuan(fen: int | None) -> str:
    """``1,500,000.00 元``; an absent amount is ``—``."""
    if fen is None:
        return "—"
    return f"{fen_to_yuan(fen):,} 元"


def wan_yuan(fen: int | None) -> str:
    """The short form of headlines: ``150 万元``, ``12.35 万元`` (rounded half up), ``800 元``
    below ten thousand 元."""
    if fen is None:
        return "—"
    amount = fen_to_yuan(fen)
    if abs(amount) < _WAN:
        return f"{amount.normalize():f} 元" if amount == amount.to_integral() else yuan(fen)
    wan = (amount / _WAN).quantize(_CENT, rounding=ROUND_HALF_UP).normalize()
    return f"{wan:,f} 万元"


def yuan_to_fen(text: str | None) -> int | None:
    """An amount a person typed in 元 (``1500000``, ``1,500,000.5``) as fen; None when empty
    or not an amount of at most two decimals."""
    if text is None or not text.strip():
        return None
    try:
        amount = Decimal(text.strip().replace(",", "").replace("，", ""))
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(_CENT):
        return None
    return int(amount * 100)


def parse_instant(value: str | datetime | None) -> datetime | None:
    """An aware instant from the API's ISO 8601 text (``Z`` or an offset)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        at = value
    else:
        try:
            at = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def beijing(value: str | datetime | None, *, seconds: bool = False) -> str:
    """``2026-03-05 14:30`` in Beijing time (``…:05`` with ``seconds``); ``—`` when absent."""
    at = parse_instant(value)
    if at is None:
        return "—"
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def beijing_date(value: str | datetime | None) -> str:
    """``2026-03-05`` in Beijing time."""
    at = parse_instant(value)
    return "—" if at is None else at.astimezone(SHANGHAI).strftime("%Y-%m-%d")


FIELDS = {
    "new_materials": "新材料",
    "advanced_manufacturing": "先进制造",
    "information": "电子信息",
    "aerospace": "航空航天",
    "biomedicine": "生物医药",
    "agriculture": "现代农业",
    "environment": "资源与环境",
    "energy": "新能源与节能",
    "marine": "海洋",
}
IP_TYPES = {
    "patent_invention": "发明专利",
    "patent_utility": "实用新型专利",
    "patent_design": "外观设计专利",
    "patent_application": "专利申请",
    "software_copyright": "软件著作权",
    "trade_secret": "技术秘密",
    "plant_variety": "植物新品种",
    "ic_layout": "集成电路布图设计",
    "other": "其他",
}
ROUTES = {"auction": "拍卖", "listing": "挂牌交易", "negotiated": "协议定价公示"}
TRANSFER_MODES = {
    "transfer": "转让",
    "license_exclusive": "独占许可",
    "license_sole": "排他许可",
    "license_ordinary": "普通许可",
    "equity": "作价投资",
    "co_development": "合作开发",
}
ACHIEVEMENT_STATUS = {
    "published": "挂出中", "in_transaction": "交易中", "traded": "已成交", "expired": "已过期",
}
PROCEDURE_STATUS = {"upcoming": "即将开始", "live": "进行中", "ended": "已结束"}
AUCTION_STATUS = {
    "announced": "已公告", "open": "竞价中", "closed": "已成交", "failed": "流拍",
    "upcoming": "即将开始", "live": "竞价中", "ended": "已结束",
}
TRADE_STATUS = {
    "announced": "挂牌公告中", "bidding": "竞价中", "closed": "已成交", "failed": "未成交",
    "upcoming": "即将开始", "live": "进行中", "ended": "已结束",
}
NOTICE_STATUS = {
    "published": "公示中", "concluded": "公示结束，已成交", "failed": "公示未通过",
    "upcoming": "即将公示", "live": "公示中", "ended": "已结束",
}
OBJECTION_STATUS = {"open": "待处理", "upheld": "异议成立", "dismissed": "异议不成立"}
OUTCOMES = {"sold": "成交", "failed": "未成交"}
FAILURES = {
    "no-bid": "无人出价",
    "below-reserve": "未达保留价",
    "reserve-not-met": "未达保留价",
    "objection-upheld": "公示期异议成立",
    "winner-defaulted": "买受人未付款",
    "no-qualified-buyer": "无合格意向受让方",
}
DEMAND_MODES = {"open_call": "揭榜比拼", "tender": "技术难题招标"}
DEMAND_STATUS = {"open": "征集中", "awarded": "已揭榜", "closed": "已关闭"}


def label(table: dict[str, str], code: str | None) -> str:
    """The Chinese name of ``code`` in ``table``; an unknown code shows as itself (a new code
    of the API is readable before the portal learns its name)."""
    if code is None or code == "":
        return "—"
    return table.get(code, code)


def region_name(code: str | None) -> str:
    """``黑龙江省哈尔滨市南岗区`` for ``230103``; the code itself when it is not in the
    directory."""
    if not code:
        return "—"
    try:
        from shared.regions import Region

        return Region.parse(code).full_name
    except Exception:  # an unknown or malformed code is still shown
        return code


def highlight(text: str | None, words: list[str] | None) -> Markup:
    """``text`` escaped, with each of ``words`` (the query words the API found in it) marked;
    the longest first, so a word inside a longer one is not marked twice."""
    escaped = str(escape(text or ""))
    words = sorted({w for w in (words or []) if w and w.strip()}, key=len, reverse=True)
    if not words:
        return Markup(escaped)
    pattern = re.compile("|".join(re.escape(str(escape(w))) for w in words))
    return Markup(pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", escaped))
