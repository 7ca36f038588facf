"""Documents as A4 PDFs in Chinese, rendered with fpdf2 and Debian's WenQuanYi Micro Hei.

The output is deterministic: the same Document gives the same bytes, on any run and any day.
A certificate's SHA-256 is taken of these bytes at issuance, and anyone re-rendering or
re-checking it must get the same value. So the creation date is the document's own
``issued_at`` (a fixed epoch without it), the file identifier (``/ID``) is derived from the
document's content, and fpdf2's font subset prefix is a constant.
"""

from __future__ import annotations

import hashlib
import json
import logging
import unicodedata
from collections.abc import Callable, Container, Sequence
from datetime import UTC, datetime

from fpdf import FPDF
from fpdf.enums import MethodReturnValue, TableBordersLayout, XPos, YPos
from fpdf.fonts import FontFace

from services.records.documents.fonts import require_font
from services.records.documents.model import Document, Table, clean_text

logging.getLogger("fontTools").setLevel(logging.WARNING)  # it logs every subset at INFO

PDF_MEDIA_TYPE = "application/pdf"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""The creation date of documents without ``issued_at``: a constant, never the clock."""

_FAMILY = "cjk"
_MARGIN = 18.0
_BOTTOM = 20.0
_GREY = (110, 110, 110)
_RULE = (190, 190, 190)
_HEADER_FILL = (235, 235, 235)
_MAX_COLUMN = 70.0
"""Widest share (mm) a column's content can claim before the others; longer cells wrap."""
_MIN_COLUMN = 14.0
_REPLACEMENT = "\ufffd"
_ROW_SHARE = 0.6
"""Most of a page's text height one table row may take; a taller row is continued in the
next (fpdf2 refuses a row higher than a page, and a row that tall would read badly anyway)."""


class _Pdf(FPDF):
    """fpdf2 with the footer's page numbers and a content-derived file identifier."""

    def __init__(self, file_id: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self._content_id = file_id

    def footer(self) -> None:
        self.set_y(-_BOTTOM + 6)
        self.set_font(_FAMILY, size=8)
        self.set_text_color(*_GREY)
        # {nb} is fpdf2's alias for the page count, replaced when the file is written.
        self.cell(0, 5, f"第 {self.page_no()} 页 / 共 {{nb}} 页", align="C")

    def file_id(self) -> str:
        # fpdf2's default hashes the output too; deriving it from the Document states the
        # intent and keeps it independent of how a later fpdf2 computes its default.
        return f"<{self._content_id}><{self._content_id}>"


def render_pdf(doc: Document) -> bytes:
    """The document as PDF bytes; FontMissing when the font is not installed."""
    font = require_font()
    created = _creation_date(doc.issued_at)
    pdf = _Pdf(_content_id(doc, created))
    pdf.add_font(_FAMILY, "", str(font), collection_font_number=0)
    glyphs: Container[int] = pdf.fonts[_FAMILY].cmap

    def text(value: str) -> str:
        return _printable(clean_text(str(value)), glyphs)

    pdf.set_creation_date(created)
    pdf.set_title(text(doc.title))
    if doc.subtitle:
        pdf.set_subject(text(doc.subtitle))
    pdf.set_author(text(doc.issuer))
    pdf.set_creator(text(doc.issuer))
    pdf.set_producer(text(doc.issuer))
    pdf.set_lang("zh-CN")
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_auto_page_break(True, margin=_BOTTOM)
    pdf.add_page()

    _heading(pdf, text(doc.title), text(doc.subtitle))
    if doc.fields:
        _fields(pdf, [(text(label), text(value)) for label, value in doc.fields])
    for table in doc.tables:
        _table(pdf, table, text)
    if doc.notes:
        _notes(pdf, [text(note) for note in doc.notes])
    return bytes(pdf.output())


def _creation_date(issued_at: datetime | None) -> datetime:
    if issued_at is None:
        return EPOCH
    if issued_at.tzinfo is None or issued_at.utcoffset() is None:
        # fpdf2 would take the machine's zone, and the bytes would depend on where they are made.
        raise ValueError("Document.issued_at must be timezone-aware")
    return issued_at.astimezone(UTC).replace(microsecond=0)


def _content_id(doc: Document, created: datetime) -> str:
    """32 hex digits of the SHA-256 of the document's content (``/ID`` holds 16 bytes)."""
    content = {
        "title": doc.title,
        "subtitle": doc.subtitle,
        "fields": doc.fields,
        "tables": [(t.title, t.columns, t.rows) for t in doc.tables],
        "notes": doc.notes,
        "issued_at": created.isoformat(),
        "issuer": doc.issuer,
    }
    canonical = json.dumps(content, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:32].upper()


def _printable(text: str, glyphs: Container[int]) -> str:
    """``text`` with the characters the font lacks replaced (marks dropped), e.g. emoji.

    fpdf2 would otherwise leave them out with a warning per document; a visible replacement
    shows that something was there.
    """
    replacement = _REPLACEMENT if ord(_REPLACEMENT) in glyphs else "?"
    out = []
    for ch in text:
        if ch == "\n" or ord(ch) in glyphs:
            out.append(ch)
        elif unicodedata.category(ch) not in ("Mn", "Me", "Cf"):  # variation selectors, ZWJ
            out.append(replacement)
    return "".join(out)


def _heading(pdf: FPDF, title: str, subtitle: str) -> None:
    pdf.set_font(_FAMILY, size=18)
    pdf.set_text_color(0)
    pdf.multi_cell(0, 9, title, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if subtitle:
        pdf.set_font(_FAMILY, size=10)
        pdf.set_text_color(*_GREY)
        pdf.multi_cell(0, 6, subtitle, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(5)


def _fields(pdf: FPDF, fields: list[tuple[str, str]]) -> None:
    """Labels in grey on the left, values on the right, a light rule between the pairs."""
    pdf.set_font(_FAMILY, size=10)
    pdf.set_text_color(0)
    pdf.set_draw_color(*_RULE)
    label_style = FontFace(color=_GREY)
    widths, line_height, padding = (1.0, 3.0), pdf.font_size * 1.6, (1.0, 2.0)
    rows = _fit_rows(pdf, fields, widths, line_height, padding[1])
    with pdf.table(
        col_widths=widths,
        first_row_as_headings=False,
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        text_align=("LEFT", "LEFT"),
        v_align="TOP",
        line_height=line_height,
        padding=padding,
    ) as block:
        for label, value in rows:
            row = block.row()
            row.cell(label, style=label_style)
            row.cell(value)
    pdf.ln(6)


def _table(pdf: FPDF, table: Table, text: Callable[[str], str]) -> None:
    """A titled table whose header row is repeated on every page it runs over."""
    pdf.set_font(_FAMILY, size=12)
    pdf.set_text_color(0)
    pdf.multi_cell(0, 7, text(table.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    pdf.set_font(_FAMILY, size=9)
    pdf.set_draw_color(*_RULE)
    columns = [text(c) for c in table.columns]
    rows = [[text(c) for c in row] for row in table.rows]
    if not columns:
        return
    widths, line_height, padding = _column_widths(pdf, columns, rows), pdf.font_size * 1.5, (1, 1.5)
    rows = _fit_rows(pdf, rows, widths, line_height, padding[1])
    with pdf.table(
        col_widths=widths,
        headings_style=FontFace(emphasis="", fill_color=_HEADER_FILL),
        repeat_headings=1,
        text_align="LEFT",
        line_height=line_height,
        padding=padding,
    ) as grid:
        for values in (columns, *rows):
            row = grid.row()
            for value in values:
                row.cell(value)
    pdf.ln(6)


def _column_widths(pdf: FPDF, columns: list[str], rows: list[list[str]]) -> tuple[float, ...]:
    """Shares of the page width after each column's widest line, within bounds."""
    widths = []
    for i, column in enumerate(columns):
        cells = (column, *(row[i] for row in rows))
        widest = max(pdf.get_string_width(line) for cell in cells for line in cell.split("\n"))
        widths.append(min(max(widest + 3, _MIN_COLUMN), _MAX_COLUMN))
    return tuple(widths)


def _fit_rows(
    pdf: FPDF,
    rows: Sequence[Sequence[str]],
    widths: Sequence[float],
    line_height: float,
    padding_x: float,
) -> list[Sequence[str]]:
    """``rows``, each one too tall for a page split into consecutive rows that fit.

    The cells are wrapped as fpdf2 will wrap them (a dry run at the column's text width) and
    cut into runs of lines; nothing is lost, the text continues in the next row.
    """
    usable = pdf.h - pdf.t_margin - pdf.b_margin
    max_lines = max(1, int(usable * _ROW_SHARE / line_height))
    text_widths = [pdf.epw * w / sum(widths) - 2 * padding_x - 0.5 for w in widths]
    fitted: list[Sequence[str]] = []
    for row in rows:
        cells = list(zip(row, text_widths, strict=True))
        if not any(_may_exceed(pdf, cell, w, max_lines) for cell, w in cells):
            fitted.append(row)
            continue
        lines = [_wrapped(pdf, cell, w) for cell, w in cells]
        parts = max(1, *((len(cell) + max_lines - 1) // max_lines for cell in lines))
        for part in range(parts):
            chunk = slice(part * max_lines, (part + 1) * max_lines)
            fitted.append(["\n".join(cell[chunk]) for cell in lines])
    return fitted


def _may_exceed(pdf: FPDF, cell: str, width: float, max_lines: int) -> bool:
    """Whether the cell may wrap to more than ``max_lines``: a cheap estimate with a margin
    of two, so that only the rare long cells are wrapped ahead (most cells are short)."""
    estimate = cell.count("\n") + 1 + pdf.get_string_width(cell) / max(width, 1.0)
    return estimate > max_lines / 2


def _wrapped(pdf: FPDF, cell: str, width: float) -> list[str]:
    return pdf.multi_cell(width, 1, cell, dry_run=True, output=MethodReturnValue.LINES)


def _notes(pdf: FPDF, notes: list[str]) -> None:
    pdf.set_font(_FAMILY, size=9)
    pdf.set_text_color(*_GREY)
    for note in notes:
        pdf.multi_cell(0, 5, note, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(2)
