"""The records service's domain refusals (problem+json ``type`` = urn:techex:problem:<slug>)."""

from __future__ import annotations

from shared.problems import Conflict, Forbidden, NotFound, Problem


class DossierNotFound(NotFound):
    slug = "records-dossier-not-found"
    title = "The archive holds no procedure with this id"


class NotYourDossier(Forbidden):
    slug = "records-not-your-dossier"
    title = "Only the procedure's parties and the overseers of its region read its dossier"


class CertificateNotFound(NotFound):
    slug = "records-certificate-not-found"
    title = "No certificate has this number"


class NotCertifiable(Conflict):
    slug = "records-not-certifiable"
    title = "The event does not attest what the certificate needs"


class ReportYearOpen(Conflict):
    slug = "records-report-year-open"
    title = "The year is not over: its annual report is not final yet"


class NotYourReport(Forbidden):
    slug = "records-not-your-report"
    title = "Only the institution and the overseers of its region read its annual report"


class PdfUnavailable(Problem):
    """The Chinese font the PDFs are set in is not installed (Debian's fonts-wqy-microhei):
    the JSON form of the same record answers meanwhile."""

    slug = "records-pdf-unavailable"
    status = 503
    title = "PDFs cannot be rendered on this server right now"
