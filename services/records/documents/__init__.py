"""Printable and exportable records: one Document model, rendered as PDF (Chinese) or CSV."""

from __future__ import annotations

from services.records.documents.csv import CSV_MEDIA_TYPE, render_csv, render_csv_document
from services.records.documents.fonts import FontMissing, ensure_font
from services.records.documents.model import Document, Table
from services.records.documents.pdf import PDF_MEDIA_TYPE, render_pdf

__all__ = [
    "CSV_MEDIA_TYPE",
    "PDF_MEDIA_TYPE",
    "Document",
    "FontMissing",
    "Table",
    "ensure_font",
    "render_csv",
    "render_csv_document",
    "render_pdf",
]
