"""Tables and documents as CSV (RFC 4180: comma separated, ``\\r\\n`` line ends, quoting).

The functions return text; the caller encodes it, with a BOM (``utf-8-sig``) when the file is
meant for spreadsheet programs that otherwise misread UTF-8 Chinese.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import TYPE_CHECKING

from services.records.documents.model import Document, Table, clean_text

if TYPE_CHECKING:
    from _csv import _writer

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
_KEEP = "\n\t"
"""Characters the cells keep; quoting makes them safe, and they are the data's own."""


def render_csv(table: Table) -> str:
    """The table's header row and rows."""
    out = io.StringIO()
    _write_table(csv.writer(out, lineterminator="\r\n"), table)
    return out.getvalue()


def render_csv_document(doc: Document) -> str:
    """The fields as ``label,value`` lines, a blank line, then each table after its title.

    Tables are separated from each other by a blank line as well; the document's title and
    notes belong to the printed form and are left out.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    blocks = 0
    if doc.fields:
        _write_rows(writer, doc.fields)
        blocks += 1
    for table in doc.tables:
        if blocks:
            writer.writerow(())
        writer.writerow((clean_text(table.title, _KEEP),))
        _write_table(writer, table)
        blocks += 1
    return out.getvalue()


def _write_table(writer: _writer, table: Table) -> None:
    _write_rows(writer, (table.columns, *table.rows))


def _write_rows(writer: _writer, rows: Iterable[Iterable[str]]) -> None:
    writer.writerows([clean_text(str(cell), _KEEP) for cell in row] for row in rows)
