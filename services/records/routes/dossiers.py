"""Dossiers: one procedure's whole story from the archive, as JSON or as a PDF in Chinese."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.records import handlers
from services.records.config import RecordsSettings
from services.records.documents import PDF_MEDIA_TYPE, Document, FontMissing, render_pdf
from services.records.documents.views import dossier_document
from services.records.domain.dossier import Viewer, build_dossier
from services.records.domain.errors import DossierNotFound, PdfUnavailable
from services.records.schemas import DossierView
from services.records.store import archive
from shared.auth import Principal
from shared.problems import PROBLEM_RESPONSES
from shared.roles import Anyone
from shared.service import runtime_of

router = APIRouter(tags=["dossiers"], responses=PROBLEM_RESPONSES)

Format = Annotated[Literal["json", "pdf"], Query(description="`pdf`: the dossier printed")]
PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {PDF_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}}}


def viewer_of(who: Principal) -> Viewer:
    return Viewer(role=who.role.value, party=who.subject, region=str(who.region))


async def pdf_of(document: Document) -> Response:
    """The document as a PDF response (rendered off the event loop)."""
    try:
        pdf = await asyncio.to_thread(render_pdf, document)
    except FontMissing as exc:
        raise PdfUnavailable(str(exc)) from exc
    return Response(pdf, media_type=PDF_MEDIA_TYPE)


@router.get("/dossiers/{procedure_id}", response_model=DossierView, responses=PDF_RESPONSE)
async def dossier(request: Request, who: Anyone, procedure_id: uuid.UUID,
                  format: Format = "json") -> Any:
    """Everything that happened in one procedure, in the order the archive received it: the
    listing filed, reviewed and published; the announcement; registrations, deposits and
    qualification; every bid, extension and rejection with its reason; objections and their
    outcome; the close; the settlement (payments, fees, split, payouts, releases, forfeits);
    the contract filed and registered; the certificates — each step with who (role and
    region), when and the event id.

    The operators, regulators and registrars of the procedure's region read all of it; a
    party (the seller, a bidder) reads its own part, the other bidders as numbers."""
    runtime = runtime_of(request)
    events = await handlers.story(runtime.pool, str(procedure_id))
    if not any(e.subject == str(procedure_id) for e in events):
        raise DossierNotFound(f"The archive holds no procedure {procedure_id}.")
    found = build_dossier(str(procedure_id), events, viewer_of(who))
    if format == "pdf":
        settings: RecordsSettings = runtime.settings  # type: ignore[assignment]
        _, head = await archive.head(runtime.pool)
        return await pdf_of(dossier_document(found, settings.issuer, runtime.clock.now(),
                                             head.hex()))
    return DossierView.model_validate(_plain(found))


def _plain(value: Any) -> Any:
    """A domain dataclass as JSON-ready data (mappings and tuples made plain)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict) or hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value
