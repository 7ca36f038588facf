"""What a rendered record holds: a title, label/value fields, tables and closing notes.

Plain values only, no I/O: the same Document always renders to the same bytes, which is what
lets a certificate's PDF hash be checked again later.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Table:
    """A titled table; every row has one cell per column."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        for number, row in enumerate(self.rows, 1):
            if len(row) != len(self.columns):
                raise ValueError(
                    f"table {self.title!r}: row {number} has {len(row)} cells, "
                    f"{len(self.columns)} columns expected"
                )


@dataclass(frozen=True)
class Document:
    """A printable record, e.g. a transaction certificate (交易鉴证书)."""

    title: str
    subtitle: str = ""
    """E.g. the certificate number."""
    fields: tuple[tuple[str, str], ...] = ()
    """Label/value pairs shown at the top."""
    tables: tuple[Table, ...] = ()
    notes: tuple[str, ...] = ()
    """Paragraphs at the end: signature, hash, verification URL …"""
    issued_at: datetime | None = None
    """Timezone-aware; becomes the PDF's creation date (a fixed epoch when None)."""
    issuer: str = "techex"
    """The PDF's author and producer metadata."""


_DROPPED = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
"""Control and format characters (zero-width, bidi overrides), lone surrogates, private use
and unassigned code points."""


def clean_text(text: str, keep: str = "\n") -> str:
    """``text`` without NUL and the other characters of ``_DROPPED``, except those in ``keep``.

    They come with pasted or imported data: invisible in print, they break readers of the
    exported files and would show as boxes in a PDF. Line ends become ``\\n``; a tab becomes a
    space unless kept.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\t" not in keep:
        text = text.replace("\t", " ")
    return "".join(ch for ch in text if ch in keep or unicodedata.category(ch) not in _DROPPED)
