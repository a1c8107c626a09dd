"""Reading uploaded spreadsheets safely: .xlsx through calamine (python-calamine) after the zip checks, and .csv in
UTF-8, UTF-8 with BOM or GBK/GB18030 (detected with charset-normalizer). Everything that can make a file
dangerous or useless is checked before a row is read: size, zip entry count and decompressed size, XML entity
declarations, encryption, corruption, empty sheets, header-only sheets, duplicate column names.

`BadFile` carries the message for the user; nothing is written when it is raised."""
from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time

from flask import current_app
from flask_babel import lazy_gettext as _l

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted .xlsx and old .xls are OLE2 compound files
ZIP_MAGIC = b"PK\x03\x04"
MAX_ZIP_ENTRIES = 2000
MAX_UNZIPPED_BYTES = 400 * 1024 * 1024
MAX_RATIO = 200  # one entry inflating more than 200x is a bomb, not a spreadsheet
HEADER_SCAN_ROWS = 30
MAX_COLUMNS = 500


class BadFile(Exception):
    """The uploaded file cannot be imported; `message` says why (translated)."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


class TooLarge(BadFile):
    """The upload is over IMPORT_MAX_BYTES (413)."""


@dataclass
class Sheet:
    """One sheet as a grid of cell values, with the header row found."""

    name: str
    columns: list[str]               # header labels, one per column (merged header cells filled in)
    rows: list[tuple[int, list]]     # (spreadsheet row number, values) for every non-blank data row
    header_row: int = 0              # 1-based row number of the header
    sheet_names: list[str] = field(default_factory=list)


def kind_of(filename: str, data: bytes) -> str:
    """'xlsx' or 'csv', judged by the content first (a renamed file is refused with a clear message)."""
    name = (filename or "").lower()
    if data.startswith(OLE_MAGIC):
        raise BadFile(_l("This workbook is password-protected or in the old .xls format. Remove the password "
                         "or save it as .xlsx in Excel, then upload it again."))
    if data.startswith(ZIP_MAGIC):
        return "xlsx"
    if name.endswith((".xlsx", ".xlsm")):
        raise BadFile(_l("This file is named .xlsx but is not an Excel workbook. Open it in Excel and save it "
                         "as .xlsx, or upload it as .csv."))
    if name.endswith((".csv", ".txt", ".tsv")) or not name:
        return "csv"
    raise BadFile(_l("Upload an Excel workbook (.xlsx) or a CSV file (.csv)."))


# ---------------------------------------------------------------- xlsx safety

def check_zip(data: bytes) -> zipfile.ZipFile:
    """Open the workbook's zip container after checking entry count, sizes and XML entity declarations."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        raise BadFile(_l("The workbook is damaged and cannot be read. Open it in Excel, save it again and retry."))
    if len(infos) > MAX_ZIP_ENTRIES:
        raise BadFile(_l("The workbook holds too many parts to be a spreadsheet; it was not read."))
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise BadFile(_l("The workbook unpacks to far more data than it holds (a zip bomb); it was not read."))
    if total > MAX_UNZIPPED_BYTES:
        raise BadFile(_l("The workbook unpacks to far more data than it holds (a zip bomb); it was not read."))
    names = {i.filename for i in infos}
    if "EncryptedPackage" in names or "[Content_Types].xml" not in names:
        raise BadFile(_l("The workbook is damaged and cannot be read. Open it in Excel, save it again and retry."))
    for info in infos:
        if info.filename.endswith((".xml", ".rels")):
            with zf.open(info) as f:
                head = f.read(4096)
            # Spreadsheets never declare entities; an entity or DTD is how XML bombs and XXE start.
            if b"<!ENTITY" in head or b"<!DOCTYPE" in head:
                raise BadFile(_l("The workbook contains unsafe XML (entity declarations); it was not read."))
    return zf


def _merged_ranges(zf: zipfile.ZipFile, sheet_path: str) -> list[tuple[int, int, int, int]]:
    """Merged cell ranges (min_col, min_row, max_col, max_row) of one sheet, from the XML after its data."""
    out, tail, past_data = [], b"", False
    try:
        with zf.open(sheet_path) as f:
            while chunk := f.read(1 << 20):
                buf = tail + chunk
                if not past_data:
                    pos = buf.find(b"</sheetData>")
                    if pos < 0:
                        tail = buf[-20:]
                        continue
                    past_data, buf = True, buf[pos:]
                tail = buf if past_data else b""
    except KeyError:
        return out
    from openpyxl.utils.cell import range_boundaries

    for ref in re.findall(rb'<mergeCell ref="([A-Z]+[0-9]+:[A-Z]+[0-9]+)"', tail):
        out.append(range_boundaries(ref.decode()))
    return out


def _sheet_paths(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> path of its XML inside the zip."""
    from defusedxml.ElementTree import fromstring

    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
          "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
          "p": "http://schemas.openxmlformats.org/package/2006/relationships"}
    try:
        wb = fromstring(zf.read("xl/workbook.xml"))
        rels = fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    except Exception:
        return {}
    targets = {r.get("Id"): r.get("Target") for r in rels.findall("p:Relationship", ns)}
    out = {}
    for s in wb.findall("m:sheets/m:sheet", ns):
        target = targets.get(s.get(f"{{{ns['r']}}}id"), "")
        out[s.get("name")] = target.lstrip("/") if target.startswith("/") else "xl/" + target
    return out


def _xlsx_grid(data: bytes, sheet: str | None, max_rows: int):
    """(sheet names, chosen name, rows of cell values from A1, merged ranges), after the zip checks. The cells are read
    by calamine (python-calamine, a compiled reader, some twenty times faster than openpyxl on a large sheet); values
    come as openpyxl gives them: None for an empty cell, a whole number as int, dates as date/datetime. An error cell
    (#N/A …) reads as empty."""
    zf = check_zip(data)
    from python_calamine import CalamineWorkbook

    damaged = _l("The workbook is damaged and cannot be read. Open it in Excel, save it again and retry.")
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception:
        raise BadFile(damaged)
    try:
        names = list(wb.sheet_names)
        if not names:
            raise BadFile(_l("The workbook has no sheets."))
        name = sheet if sheet in names else names[0]
        limit = max_rows + HEADER_SCAN_ROWS + 1
        try:
            rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False, nrows=limit)
        except Exception:
            raise BadFile(damaged)
        grid = [[_cell(v) for v in row[:MAX_COLUMNS]] for row in rows[:limit]]
        merged = _merged_ranges(zf, _sheet_paths(zf).get(name, ""))
    finally:
        wb.close()
    return names, name, grid, merged


def _cell(v):
    if v == "":
        return None
    if type(v) is float and v.is_integer() and abs(v) < 1e15:
        return int(v)
    return v


# ---------------------------------------------------------------- csv

_CHINESE = {"gb2312", "gbk", "gb18030", "hz", "big5", "big5hkscs", "cp936", "cp950"}


def decode_csv(data: bytes) -> str:
    """Text of a CSV file: UTF-8 (with or without BOM), else what charset-normalizer finds (GBK as GB18030)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[:400_000]).best()
    encoding = (best.encoding if best else "gb18030").lower().replace("_", "")
    if encoding in _CHINESE or encoding.startswith("gb"):
        encoding = "gb18030"  # a superset of GBK and GB2312: what Chinese Excel writes
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            raise BadFile(_l("The file's text encoding could not be recognised. Save it as CSV UTF-8 in Excel."))


def _csv_grid(data: bytes, max_rows: int):
    text = decode_csv(data)
    if "\x00" in text:
        raise BadFile(_l("This is not a text CSV file. Upload an Excel workbook (.xlsx) or a CSV file (.csv)."))
    sample = text[:20000]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;|")
    except csv.Error:
        dialect = csv.excel
    grid = []
    try:
        for i, row in enumerate(csv.reader(io.StringIO(text, newline=""), dialect)):
            if i > max_rows + HEADER_SCAN_ROWS:
                break
            grid.append([c if c != "" else None for c in row[:MAX_COLUMNS]])
    except csv.Error:
        raise BadFile(_l("The CSV file is malformed (an unclosed quote?). Save it again from Excel and retry."))
    return grid


# ---------------------------------------------------------------- header detection

def clean_label(v) -> str:
    """A header cell as text: width-folded, spaces, colons, asterisks and line breaks removed."""
    if v is None:
        return ""
    s = unicodedata.normalize("NFKC", str(v)).strip()
    s = re.sub(r"[\s:*：＊]+", "", s)
    return s


def _blank(row) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in row)


def _is_text(v) -> bool:
    return isinstance(v, str) and bool(v.strip()) and not re.fullmatch(r"[\d\s.,\-/:年月日]+", v.strip())


def detect_header(grid: list[list], known_labels: set[str]) -> int:
    """Index of the header row: among the first rows, the one with most known labels, then most text cells
    (title rows have one cell, data rows have numbers and dates)."""
    best, best_score = None, (0, 0)
    for i, row in enumerate(grid[:HEADER_SCAN_ROWS]):
        texts = [clean_label(v) for v in row if _is_text(v)]
        if len(texts) < 2 and not (len(texts) == 1 and texts[0] in known_labels):
            continue
        score = (sum(1 for t in texts if t in known_labels), len(texts))
        if score > best_score:
            best, best_score = i, score
    if best is None:
        raise BadFile(_l("No header row was found: the first rows should name the columns (客户名称, 电话 …)."))
    return best


def build_sheet(grid: list[list], merged, known_labels: set[str], name: str, names: list[str],
                max_rows: int) -> Sheet:
    """Find the header (filling merged header cells), collect the data rows, refuse empty and odd sheets."""
    if not grid or all(_blank(r) for r in grid):
        raise BadFile(_l("The sheet is empty."))
    width = max(len(r) for r in grid)
    grid = [list(r) + [None] * (width - len(r)) for r in grid]
    # Merged cells carry their value in the top-left cell only: copy it over the range (header area only).
    for min_col, min_row, max_col, max_row in merged:
        if min_row > HEADER_SCAN_ROWS or min_row - 1 >= len(grid):
            continue
        value = grid[min_row - 1][min_col - 1]
        for r in range(min_row - 1, min(max_row, len(grid))):
            for c in range(min_col - 1, min(max_col, width)):
                grid[r][c] = value
    h = detect_header(grid, known_labels)
    header = [clean_label(v) for v in grid[h]]
    # A second header line under merged group cells (联系人 → 姓名 / 电话): the lower line names the columns.
    start = h + 1
    if start < len(grid):
        below = [clean_label(v) for v in grid[start]]
        merged_group = any(mr[1] - 1 == h and mr[2] > mr[0] for mr in merged)
        if merged_group and sum(1 for v in grid[start] if _is_text(v)) >= 2 and \
                sum(1 for b in below if b in known_labels) >= 1:
            header = [b or t for t, b in zip(header, below)]
            start += 1
    columns = header
    seen = {}
    dups = []
    for label in columns:
        if not label:
            continue
        if label in seen:
            dups.append(label)
        seen[label] = True
    if dups:
        raise BadFile(_l("Two columns have the same name: %(names)s. Rename one of them and upload again.",
                         names="、".join(dict.fromkeys(dups))))
    rows = []
    for i in range(start, len(grid)):
        if not _blank(grid[i]):
            rows.append((i + 1, grid[i]))
            if len(rows) > max_rows:
                raise BadFile(_l("The file has more than %(n)d rows. Split it into smaller files.", n=max_rows))
    if not rows:
        raise BadFile(_l("The sheet has column names but no rows to import."))
    return Sheet(name=name, columns=columns, rows=rows, header_row=h + 1, sheet_names=names)


def read_sheet(filename: str, data: bytes, sheet: str | None = None, known_labels: set[str] = frozenset(),
               max_rows: int | None = None) -> Sheet:
    """The chosen sheet of an uploaded file, checked and with its header found. Raises BadFile."""
    max_rows = max_rows or current_app.config.get("IMPORT_MAX_ROWS", 50_000)
    if not data:
        raise BadFile(_l("The file is empty."))
    if kind_of(filename, data) == "xlsx":
        names, name, grid, merged = _xlsx_grid(data, sheet, max_rows)
    else:
        names, name, grid, merged = ["CSV"], "CSV", _csv_grid(data, max_rows), []
    return build_sheet(grid, merged, known_labels, name, names, max_rows)


def cell_text(v) -> str | None:
    """A cell as the value library reads it (dates from Excel as ISO dates)."""
    if v is None:
        return None
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == time(0) else v.isoformat(sep=" ")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, bool):
        return "是" if v else "否"
    s = str(v).strip()
    return s or None
