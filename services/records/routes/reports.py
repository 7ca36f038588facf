"""The annual conversion report (成果转化年度报告) of an institution, from the archive."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.records import handlers
from services.records.config import RecordsSettings
from services.records.documents import CSV_MEDIA_TYPE, render_csv_document
from services.records.documents.views import report_document
from services.records.domain.errors import NotYourReport
from services.records.domain.report import annual_report
from services.records.routes.dossiers import pdf_of
from services.records.schemas import AnnualReportView, DealLineView
from shared.auth import Principal, Role
from shared.bounds import SubjectId
from shared.problems import PROBLEM_RESPONSES
from shared.regions import Region
from shared.roles import Anyone
from shared.service import runtime_of

router = APIRouter(tags=["reports"], responses=PROBLEM_RESPONSES)

ReportFormat = Annotated[Literal["json", "csv", "pdf"], Query(
    description="`csv`: the figures and the deals as a spreadsheet; `pdf`: printed")]
_OVERSEERS = (Role.OPERATOR, Role.REGULATOR, Role.ADMIN)


def _may_read(who: Principal, holder: str, regions: set[str]) -> bool:
    if who.subject == holder or who.role is Role.ADMIN:
        return True
    return who.role in _OVERSEERS and bool(regions) and all(
        who.region.contains(Region.parse(r)) for r in regions)


@router.get("/reports/annual", response_model=AnnualReportView, responses={200: {"content": {
    CSV_MEDIA_TYPE: {"schema": {"type": "string"}},
    "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}})
async def annual(request: Request, who: Anyone, holder: Annotated[SubjectId, Query(
        description="the institution's account (the seller of its achievements)")],
        year: Annotated[int, Query(ge=2000, le=2199)], format: ReportFormat = "json") -> Any:
    """One institution's year, Asia/Shanghai: achievements listed, procedures by route,
    deals concluded and failed, the amounts received (实际到账), the inventors' share,
    contracts registered by category and subsidies assessed — computed from the archive, for
    the institution's own account and the overseers of the regions its achievements are in."""
    runtime = runtime_of(request)
    events = await handlers.holder_events(runtime.pool, holder)
    regions = {e.region for e in events if e.kind.startswith("listing.")}
    if not _may_read(who, holder, regions):
        raise NotYourReport(f"{who.subject} may not read {holder}'s annual report.")
    report = annual_report(holder, year, events)
    now = runtime.clock.now()
    settings: RecordsSettings = runtime.settings  # type: ignore[assignment]
    if format != "json":
        document = report_document(report, settings.issuer, now)
        if format == "pdf":
            return await pdf_of(document)
        return Response(render_csv_document(document).encode("utf-8-sig"),
                        media_type=CSV_MEDIA_TYPE, headers={
                            "Content-Disposition":
                                f'attachment; filename="annual-report-{year}.csv"'})
    final = now.astimezone(handlers.BEIJING).year > year
    return AnnualReportView(
        holder_id=report.holder_id, holder_name=report.holder_name, year=year, final=final,
        achievements_listed=len(report.achievements),
        procedures_by_route=dict(report.procedures_by_route),
        concluded_by_route=dict(report.concluded_by_route),
        concluded_fen_by_route=dict(report.concluded_fen_by_route),
        failed_by_route=dict(report.failed_by_route), defaulted=report.defaulted,
        received_fen=report.received_fen, seller_fee_fen=report.seller_fee_fen,
        institution_fen=report.institution_fen, inventors_fen=report.inventors_fen,
        compensation_fen=report.compensation_fen,
        contracts_by_category={k: {"count": t.count, "tech_amount_fen": t.tech_amount_fen,
                                   "total_amount_fen": t.total_amount_fen}
                               for k, t in report.contracts_by_category.items()},
        contracts_registered=report.contracts_registered,
        contracts_cancelled=report.contracts_cancelled,
        subsidy_granted_fen=report.subsidy_granted_fen,
        deals=[DealLineView(**_deal(d)) for d in report.deals])


def _deal(d: Any) -> dict[str, Any]:
    return {name: getattr(d, name) for name in DealLineView.model_fields}
