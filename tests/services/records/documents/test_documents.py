"""The records service's document renderer: Chinese PDFs that hash the same every time, CSV."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import re
import shutil
import subprocess
import sys
import zlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from services.records.documents import (
    CSV_MEDIA_TYPE,
    PDF_MEDIA_TYPE,
    Document,
    FontMissing,
    Table,
    ensure_font,
    fonts,
    render_csv,
    render_csv_document,
    render_pdf,
)

ISSUED = datetime(2025, 3, 1, 16, 0, tzinfo=timezone(timedelta(hours=8)))
LONG_NOTE = "本次出价为竞买人在竞价期间的有效报价，依据交易规则确认并记录在案。" * 4
BIDS = Table(
    title="出价记录",
    columns=("序号", "竞买人", "出价（元）", "出价时间", "备注"),
    rows=tuple(
        (
            str(i + 1),
            f"竞买人{i + 1:03d}",
            f"{1_000_000 + i * 5_000:,}",
            f"2025-03-01 10:{i // 60:02d}:{i % 60:02d}",
            LONG_NOTE if i == 7 else ("有效" if i % 2 else ""),
        )
        for i in range(300)
    ),
)
CERTIFICATE = Document(
    title="交易鉴证书",
    subtitle="证书编号 TX-2025-000123",
    fields=(
        ("项目名称", "一种高效锂电池正极材料的制备方法（专利转让）"),
        ("成交价", "¥2,495,000.00"),
        ("买方", "北京某某科技有限公司"),
        ("卖方", "上海某某研究院"),
    ),
    tables=(BIDS,),
    notes=(
        "签章：技术交易所电子签章",
        "SHA-256: " + "0123456789abcdef" * 4,
        "核验地址：https://techex.example/verify/TX-2025-000123",
    ),
    issued_at=ISSUED,
)


@pytest.fixture(scope="module", autouse=True)
def font() -> Path:
    """The font the service's startup makes sure of (installs Debian's package as root)."""
    try:
        return ensure_font(log=lambda msg: print(msg, flush=True))
    except FontMissing as exc:
        pytest.fail(f"the PDF font is not available: {exc}")


@pytest.fixture(scope="module")
def certificate_pdf() -> bytes:
    return render_pdf(CERTIFICATE)


# -- a small text extractor: fpdf2 writes one ToUnicode CMap per font and 2-byte codes ------


def _streams(pdf: bytes) -> list[bytes]:
    out = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            out.append(zlib.decompress(match.group(1)))
        except zlib.error:
            out.append(match.group(1))
    return out


def _to_unicode(streams: list[bytes]) -> dict[int, str]:
    mapping: dict[int, str] = {}
    for stream in streams:
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", stream, re.S):
            for code, uni in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
                mapping[int(code, 16)] = bytes.fromhex(uni.decode()).decode("utf-16-be")
        for block in re.findall(rb"beginbfrange(.*?)endbfrange", stream, re.S):
            for lo, hi, start in re.findall(
                rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block
            ):
                for k in range(int(hi, 16) - int(lo, 16) + 1):
                    mapping[int(lo, 16) + k] = chr(int(start, 16) + k)
    return mapping


_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _unescape(literal: bytes) -> bytes:
    def one(match: re.Match[bytes]) -> bytes:
        body = match.group(1)
        if body[:1].isdigit():
            return bytes([int(body, 8)])
        return _ESCAPES.get(body, body)

    return re.sub(rb"\\([0-7]{1,3}|.)", one, literal, flags=re.S)


def pdf_text_runs(pdf: bytes) -> list[str]:
    """The text of every ``Tj`` in page order, decoded through the ToUnicode CMap."""
    streams = _streams(pdf)
    mapping = _to_unicode(streams)
    assert mapping, "the PDF has no ToUnicode CMap: its text would not be extractable"
    runs = []
    for stream in streams:
        if b"BT" not in stream or b"begincmap" in stream:
            continue
        for literal in re.findall(rb"\(((?:\\.|[^\\)])*)\) Tj", stream, re.S):
            raw = _unescape(literal)
            codes = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
            runs.append("".join(mapping.get(c, "\ufffd") for c in codes))
    return runs


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b(?!s)", pdf))


# -- PDF -------------------------------------------------------------------------------------


def test_pdf_of_a_long_chinese_certificate(certificate_pdf: bytes) -> None:
    pdf = certificate_pdf
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    pages = page_count(pdf)
    assert pages > 1

    # The font travels with the file (a subset of it), so any reader shows the same glyphs.
    assert b"/BaseFont /MPDFAA+WenQuanYiMicroHei" in pdf
    font_file = re.search(rb"/FontFile2 (\d+) 0 R", pdf)
    assert font_file, "no embedded TrueType font"
    obj = re.search(rb"\n" + font_file.group(1) + rb" 0 obj\n(.*?)endobj", pdf, re.S)
    assert obj
    embedded = TTFont(io.BytesIO(_streams(obj.group(1))[0]))
    assert embedded["name"].getDebugName(1) == "WenQuanYi Micro Hei"
    assert ord("鉴") in embedded.getBestCmap()

    runs = pdf_text_runs(pdf)
    text = "\n".join(runs)
    for expected in (
        "交易鉴证书",
        "证书编号 TX-2025-000123",
        "项目名称",
        "北京某某科技有限公司",
        "出价记录",
        "竞买人300",
        "2,495,000",
        "签章：技术交易所电子签章",
    ):
        assert expected in text, expected
    # fpdf2 writes the page count (its {nb} alias) as a run of its own: read the runs joined.
    footers = re.findall(r"第 (\d+) 页 / 共 (\d+) 页", "".join(runs))
    assert footers == [(str(n), str(pages)) for n in range(1, pages + 1)]
    # The table runs over every page, so its header row is on every page.
    assert runs.count("出价时间") == pages
    # A cell longer than its column wraps over several lines and loses nothing.
    assert not any(LONG_NOTE in run for run in runs)
    assert LONG_NOTE in "".join(runs)


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_pdftotext_reads_the_chinese(certificate_pdf: bytes, tmp_path: Path) -> None:
    path = tmp_path / "certificate.pdf"
    path.write_bytes(certificate_pdf)
    out = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
    ).stdout.decode()
    assert "交易鉴证书" in out
    assert "北京某某科技有限公司" in out
    assert f"共 {page_count(certificate_pdf)} 页" in out


def test_pdf_metadata_comes_from_the_document(certificate_pdf: bytes) -> None:
    assert b"/CreationDate (D:20250301080000Z)" in certificate_pdf  # 16:00 +08:00, in UTC
    assert b"/Producer (techex)" in certificate_pdf
    assert b"/Author (techex)" in certificate_pdf
    trailer_id = re.search(rb"/ID \[<([0-9A-F]{32})><([0-9A-F]{32})>\]", certificate_pdf)
    assert trailer_id and trailer_id.group(1) == trailer_id.group(2)


def test_same_document_same_bytes(certificate_pdf: bytes) -> None:
    assert render_pdf(CERTIFICATE) == certificate_pdf


def test_same_bytes_in_another_process() -> None:
    """No dependence on hash seeds, the clock or the process: the hash is checked elsewhere."""
    doc = Document(
        title="交易鉴证书",
        fields=(("买方", "某公司"), ("卖方", "另一公司")),
        tables=(Table("出价记录", ("序号", "竞买人"), (("1", "甲"), ("2", "乙"))),),
        notes=("附注",),
    )
    script = (
        "import hashlib, sys\n"
        "from services.records.documents import Document, Table, render_pdf\n"
        "doc = Document(title='交易鉴证书', fields=(('买方', '某公司'), ('卖方', '另一公司')),\n"
        "    tables=(Table('出价记录', ('序号', '竞买人'), (('1', '甲'), ('2', '乙'))),),\n"
        "    notes=('附注',))\n"
        "sys.stdout.write(hashlib.sha256(render_pdf(doc)).hexdigest())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    root = Path(__file__).resolve().parents[4]
    other = subprocess.run(
        [sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True
    )
    assert other.returncode == 0, other.stderr
    assert other.stdout == hashlib.sha256(render_pdf(doc)).hexdigest()


def test_one_changed_value_changes_the_bytes() -> None:
    small = Document(
        title="交易鉴证书",
        subtitle="TX-1",
        fields=(("成交价", "¥100.00"),),
        issued_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    changed = Document(
        title=small.title,
        subtitle=small.subtitle,
        fields=(("成交价", "¥100.01"),),
        issued_at=small.issued_at,
    )
    later = Document(
        title=small.title,
        subtitle=small.subtitle,
        fields=small.fields,
        issued_at=datetime(2025, 1, 2, tzinfo=UTC),
    )
    assert render_pdf(small) == render_pdf(small)
    assert render_pdf(changed) != render_pdf(small)
    assert render_pdf(later) != render_pdf(small)


def test_without_issue_date_a_fixed_epoch() -> None:
    pdf = render_pdf(Document(title="草稿"))
    assert b"/CreationDate (D:19700101000000Z)" in pdf


def test_naive_issue_date_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        render_pdf(Document(title="交易鉴证书", issued_at=datetime(2025, 1, 1)))


def test_control_characters_and_emoji_do_not_break_rendering(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dirty = "买方\x00名称\x07\x1b[31m\u202e\u200b 🎉 👍🏽 👨\u200d👩\u200d👧 \ud800 𠮷 \ue000 end"
    doc = Document(
        title="交易\x00鉴证书🎉",
        subtitle="\x0bTX\x7f-1\r\n",
        fields=((dirty, dirty),),
        tables=(Table("表\x00", ("列\x01",), ((dirty,), ("",))),),
        notes=(dirty, "\x00"),
        issuer="techex\x00",
    )
    with caplog.at_level(logging.WARNING):
        pdf = render_pdf(doc)
    assert pdf.startswith(b"%PDF-")
    assert not [r for r in caplog.records if "glyph" in r.getMessage().lower()]
    text = "\n".join(pdf_text_runs(pdf))
    assert "交易鉴证书\ufffd" in text
    assert "买方名称[31m" in text  # the escape character goes, the printable rest stays
    # Each emoji (and skin tone) the font lacks shows as one replacement; ZWJ and the rest go.
    assert "名称[31m \ufffd \ufffd\ufffd \ufffd\ufffd\ufffd  \ufffd  end" in text
    for gone in ("\x00", "\x07", "\x1b", "\u202e", "\u200b", "\u200d", "\ud800", "\ue000"):
        assert gone not in text
    assert not [ch for ch in text if ord(ch) > 0xFFFF]
    assert b"/Producer (techex)" in pdf


def test_a_cell_taller_than_a_page_continues_in_the_next_row() -> None:
    """fpdf2 refuses a table row higher than a page; such a row is split, losing nothing."""
    huge = "".join(f"第{i}条说明。" for i in range(1500))
    lines = "\n".join(f"行{i}" for i in range(150))
    doc = Document(
        title="交易鉴证书",
        fields=(("说明", huge),),
        tables=(Table("附件", ("序号", "内容"), (("1", huge), ("2", lines), ("3", "短"))),),
    )
    pdf = render_pdf(doc)
    assert page_count(pdf) > 3
    runs = pdf_text_runs(pdf)
    # Without what each page repeats: the footer and the table's header row.
    joined = re.sub(r"第 \d+ 页 / 共 \d+ 页|序号内容", "", "".join(runs))
    assert joined.count(huge) == 2
    assert "".join(f"行{i}" for i in range(150)) in joined
    assert runs.count("说明") == 1  # the label only once, above the value's first part


def test_rows_must_match_the_columns() -> None:
    with pytest.raises(ValueError, match="row 2"):
        Table("出价记录", ("序号", "竞买人"), (("1", "甲"), ("2",)))


def test_table_without_rows_and_empty_document() -> None:
    assert render_pdf(Document(title="", tables=(Table("空表", ("序号",), ()),))).startswith(
        b"%PDF-"
    )
    assert PDF_MEDIA_TYPE == "application/pdf"


# -- the font --------------------------------------------------------------------------------


def test_missing_font_named_by_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.ttc"
    monkeypatch.setenv("RECORDS_PDF_FONT", str(missing))
    with pytest.raises(FontMissing, match="RECORDS_PDF_FONT"):
        render_pdf(Document(title="交易鉴证书"))
    with pytest.raises(FontMissing, match=r"nowhere\.ttc"):
        ensure_font()  # a font of one's own is never installed


def test_font_from_the_environment(monkeypatch: pytest.MonkeyPatch, font: Path) -> None:
    monkeypatch.setenv("RECORDS_PDF_FONT", str(font))
    assert fonts.font_path() == font
    assert ensure_font() == font


def test_missing_font_without_root_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("RECORDS_PDF_FONT", raising=False)
    monkeypatch.setattr(fonts, "CJK_FONT", tmp_path / "wqy-microhei.ttc")
    monkeypatch.setattr(fonts.os, "geteuid", lambda: 1000)
    with pytest.raises(FontMissing, match="apt-get install -y --no-install-recommends"):
        ensure_font()
    with pytest.raises(FontMissing, match="fonts-wqy-microhei"):
        render_pdf(Document(title="交易鉴证书"))


def test_missing_font_as_root_installs_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The first install fails (no package lists yet); after `apt-get update` it succeeds."""
    target = tmp_path / "wqy-microhei.ttc"
    calls: list[list[str]] = []

    def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        installs = [c for c in calls if "install" in c]
        ok = "update" in cmd or len(installs) == 2
        if ok and "install" in cmd:
            target.write_bytes(b"font")
        return subprocess.CompletedProcess(cmd, 0 if ok else 100, "", "E: Unable to locate")

    monkeypatch.delenv("RECORDS_PDF_FONT", raising=False)
    monkeypatch.setenv("TECHEX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(fonts, "CJK_FONT", target)
    monkeypatch.setattr(fonts.os, "geteuid", lambda: 0)
    monkeypatch.setattr(fonts.shutil, "which", lambda name: "/usr/bin/apt-get")
    monkeypatch.setattr(fonts.subprocess, "run", run)
    logged: list[str] = []

    assert ensure_font(log=logged.append) == target
    assert [c[1] for c in calls] == ["install", "update", "install"]
    assert calls[0][:4] == ["/usr/bin/apt-get", "install", "-y", "--no-install-recommends"]
    assert calls[0][-1] == "fonts-wqy-microhei"
    assert logged and "fonts-wqy-microhei" in logged[0]
    assert (tmp_path / "cache" / "fonts" / ".install.lock").exists()


def test_failed_install_raises(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("RECORDS_PDF_FONT", raising=False)
    monkeypatch.setenv("TECHEX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(fonts, "CJK_FONT", tmp_path / "wqy-microhei.ttc")
    monkeypatch.setattr(fonts.os, "geteuid", lambda: 0)
    monkeypatch.setattr(fonts.shutil, "which", lambda name: "/usr/bin/apt-get")
    monkeypatch.setattr(
        fonts.subprocess,
        "run",
        lambda cmd, **kw: subprocess.CompletedProcess(cmd, 100, "", "E: no network"),
    )
    with pytest.raises(FontMissing, match="E: no network"):
        ensure_font(log=lambda msg: None)


# -- CSV -------------------------------------------------------------------------------------


def _read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_csv_round_trips_awkward_cells() -> None:
    table = Table(
        title="出价记录",
        columns=("竞买人", "出价", "备注"),
        rows=(
            ("北京某某科技有限公司", "1,000,000", '他说"好"'),
            ("甲, 乙", "", "第一行\n第二行"),
            ("tab\there", " 空格 ", "\x00NUL\x07"),
        ),
    )
    text = render_csv(table)
    assert _read(text) == [
        ["竞买人", "出价", "备注"],
        ["北京某某科技有限公司", "1,000,000", '他说"好"'],
        ["甲, 乙", "", "第一行\n第二行"],
        ["tab\there", " 空格 ", "NUL"],
    ]
    assert '"1,000,000"' in text and '"他说""好"""' in text and '"第一行\n第二行"' in text
    assert text.endswith("\r\n")
    assert text.count("\r\n") == 4  # one per record; the newline inside a cell stays bare
    assert "出价记录" not in text


def test_csv_document_layout() -> None:
    doc = Document(
        title="交易鉴证书",
        fields=(("证书编号", "TX-1"), ("成交价", "¥1,000.00")),
        tables=(
            Table("出价记录", ("序号", "出价"), (("1", "900"), ("2", "1,000"))),
            Table("附件", ("名称",), (("合同.pdf",),)),
        ),
        notes=("签章",),
    )
    text = render_csv_document(doc)
    assert _read(text) == [
        ["证书编号", "TX-1"],
        ["成交价", "¥1,000.00"],
        [],
        ["出价记录"],
        ["序号", "出价"],
        ["1", "900"],
        ["2", "1,000"],
        [],
        ["附件"],
        ["名称"],
        ["合同.pdf"],
    ]
    assert text.startswith('证书编号,TX-1\r\n成交价,"¥1,000.00"\r\n\r\n出价记录\r\n')
    assert "\ufeff" not in text  # the BOM is the caller's choice
    assert CSV_MEDIA_TYPE == "text/csv; charset=utf-8"


def test_csv_document_without_fields_starts_with_its_table() -> None:
    text = render_csv_document(Document(title="x", tables=(BIDS,)))
    rows = _read(text)
    assert rows[0] == ["出价记录"]
    assert rows[1] == list(BIDS.columns)
    assert len(rows) == 2 + len(BIDS.rows)
