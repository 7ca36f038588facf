"""The records the service prints, as :class:`Document` s: a dossier, a certificate, an annual
report. Pure: what a reader may see was decided by the domain already."""

from __future__ import annotations

from datetime import datetime

from services.records.documents.model import Document, Table
from services.records.domain.certificates import Certificate
from services.records.domain.dossier import CATEGORY_ZH, ROUTE_ZH, Dossier, local_time, yuan
from services.records.domain.report import AnnualReport, report_rows

_OUTCOME_ZH = {"open": "进行中", "concluded": "已成交", "failed": "未成交"}
_KIND_ZH = {"transaction": "交易鉴证书", "registration": "技术合同登记证明"}


def _when(at: datetime | None) -> str:
    return local_time(at) if at else "—"


def _money(fen: int | None) -> str:
    return yuan(fen) if fen is not None else "—"


def dossier_document(dossier: Dossier, issuer: str, at: datetime, head: str) -> Document:
    """The dossier of one procedure: its summary, then every step in the archive's order."""
    fields = [
        ("交易程序", dossier.procedure_id),
        ("成果名称", dossier.title or "—"),
        ("成果编号", dossier.listing_id or "—"),
        ("定价方式", ROUTE_ZH.get(dossier.route or "", dossier.route or "—")),
        ("所属区域", dossier.region),
        ("轮次", str(dossier.round)),
        ("结果", _OUTCOME_ZH.get(dossier.outcome, dossier.outcome)),
        ("公告时间", _when(dossier.announced_at)),
        ("结束时间", _when(dossier.ended_at)),
        ("成交价", _money(dossier.price_fen)),
        ("受让方", dossier.winner or "—"),
        ("有效出价", str(dossier.accepted_bids)),
    ]
    if dossier.reserve_fen is not None:
        fields.append(("保留价（成交后公开）", yuan(dossier.reserve_fen)))
    if dossier.failure_reason:
        fields.append(("未成交原因", dossier.failure_reason))
    if dossier.settlement_state:
        fields += [("结算状态", dossier.settlement_state),
                   ("实际到账", _money(dossier.received_fen)),
                   ("结算完成", _when(dossier.settled_at))]
    if dossier.registration_number:
        fields.append(("合同登记号", dossier.registration_number))
    if dossier.certificates:
        fields.append(("证书", "、".join(dossier.certificates)))
    steps = Table("交易全过程记录", ("序号", "时间", "环节", "事项", "经办", "事件编号"), tuple(
        (str(s.seq), local_time(s.at), s.title_zh, s.summary_zh,
         f"{s.who.role} {s.who.region}" + (f" {s.who.id}" if s.who.id else ""), s.event_id)
        for s in dossier.steps))
    return Document(
        title="交易档案", subtitle=f"交易程序 {dossier.procedure_id}", fields=tuple(fields),
        tables=(steps,), issued_at=at, issuer=issuer,
        notes=(f"本档案由交易存档逐条生成，共 {len(dossier.steps)} 个环节；存档哈希链当前链头 "
               f"{head}。", f"生成时间：{local_time(at)}（北京时间）。"))


def certificate_document(cert: Certificate, signature: str, public_key: str, digest: str,
                         verify_url: str, issuer: str) -> Document:
    """A certificate as printed: its essentials, the signature and where to check it online.
    Its bytes depend on the certificate only, so the PDF's hash kept at issue stays valid."""
    fields = [("证书编号", cert.number), ("出具机构", issuer), ("所属区域", cert.region),
              ("出具时间", local_time(cert.issued_at)),
              ("成果名称", cert.achievement or "—"), ("成果编号", cert.listing_id or "—"),
              ("转让方", _party(cert.seller.name, cert.seller.id)),
              ("受让方", _party(cert.buyer.name, cert.buyer.id)),
              ("定价方式", ROUTE_ZH.get(cert.route or "", cert.route or "—")),
              ("成交价", _money(cert.price_fen)), ("成交时间", _when(cert.concluded_at))]
    if cert.kind == "transaction":
        fields += [("结算完成", _when(cert.settled_at)), ("实际到账", _money(cert.received_fen))]
    if cert.registration_number:
        fields += [("合同登记号", cert.registration_number),
                   ("登记时间", _when(cert.registered_at)),
                   ("合同类别", CATEGORY_ZH.get(cert.category or "", cert.category or "—")),
                   ("合同金额", _money(cert.total_amount_fen)),
                   ("技术交易额", _money(cert.tech_amount_fen))]
    return Document(
        title=_KIND_ZH[cert.kind], subtitle=cert.number, fields=tuple(fields),
        issued_at=cert.issued_at, issuer=issuer,
        notes=(f"内容摘要（SHA-256）：{digest}",
               f"数字签名（Ed25519，Base64）：{signature}",
               f"验签公钥（Ed25519，Base64）：{public_key}",
               f"在线核验：{verify_url}"))


def _party(name: str | None, account: str | None) -> str:
    if name and account:
        return f"{name}（{account}）"
    return name or account or "—"


def report_document(report: AnnualReport, issuer: str, at: datetime) -> Document:
    """The annual conversion report (成果转化年度报告) of one institution."""
    fields = (
        ("单位", report.holder_name or report.holder_id), ("账号", report.holder_id),
        ("年度", str(report.year)),
        ("发布成果", str(len(report.achievements))),
        ("交易程序", "、".join(f"{ROUTE_ZH.get(k, k)} {v}"
                              for k, v in sorted(report.procedures_by_route.items())) or "0"),
        ("成交", str(report.concluded)), ("未成交", str(report.failed)),
        ("违约", str(report.defaulted)),
        ("实际到账", yuan(report.received_fen)), ("交易服务费", yuan(report.seller_fee_fen)),
        ("单位所得", yuan(report.institution_fen)),
        ("成果完成人奖励（含团队）", yuan(report.inventors_fen)),
        ("违约补偿", yuan(report.compensation_fen)),
        ("登记技术合同", str(report.contracts_registered)),
        ("注销合同", str(report.contracts_cancelled)),
        ("补助（已评定）", yuan(report.subsidy_granted_fen)),
    )
    rows = report_rows(report)
    deals = Table("成交明细", rows[0], tuple(rows[1:]))
    categories = Table("技术合同登记（按类别）",
                       ("类别", "份数", "技术交易额（元）", "合同金额（元）"),
                       tuple((CATEGORY_ZH.get(k, k), str(t.count), yuan(t.tech_amount_fen),
                              yuan(t.total_amount_fen))
                             for k, t in sorted(report.contracts_by_category.items())))
    achievements = Table("年度发布成果", ("成果编号", "成果名称", "领域", "定价方式", "发布时间"),
                         tuple((a.listing_id, a.title, a.field or "—",
                                ROUTE_ZH.get(a.route or "", a.route or "—"),
                                local_time(a.published_at)) for a in report.achievements))
    return Document(title="科技成果转化年度报告", subtitle=f"{report.year} 年度",
                    fields=fields, tables=(deals, categories, achievements), issued_at=at,
                    issuer=issuer,
                    notes=("本报告依据交易存档中的事件计算；金额单位为元。",
                           f"生成时间：{local_time(at)}（北京时间）。"))
