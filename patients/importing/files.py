"""Reading an import file row by row: CSV (UTF-8, with or without BOM; comma, semicolon or tab; any line ending)
or XLSX (the first sheet).

``open_rows`` reads the header at once and gives the data rows as an iterator, so a file is never held twice in
memory (once as bytes, once decoded) and rows can be checked as they are read. Every defect of a file is an
``ImportFileError`` with its row, or a defect of a row's cells given with the row, never a traceback: an empty file,
a file that is neither CSV nor XLSX, bytes that are not UTF-8 (the message says which encoding is expected, not the
bytes), a value longer than the ``csv`` module's field limit (131,072 characters), a NUL byte, a value in a column
the header does not have, a formula cell without a stored value, an Excel error value. No message holds a value
of the file.
"""
import csv
import datetime as dt
import io
import re
import warnings
import zipfile
from pathlib import Path

from .reports import ImportFileError

CSV_SUFFIXES = frozenset({".csv", ".txt", ""})
XLSX_SUFFIXES = frozenset({".xlsx", ".xlsm"})
DELIMITERS = (",", ";", "\t")
#: An XLSX file is a zip of XML; it may unpack to this many times the import size limit (a zip bomb does not).
XLSX_MAX_UNPACKED_FACTOR = 10
EXCEL_ERRORS = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA",
                          "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#UNKNOWN!", "#CONNECT!", "#BUSY!"})
_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")  # a line with its ending: CRLF, LF or CR alone (old Macs)
_FORMULA_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")
ZIP_MAGIC, OLE2_MAGIC = b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
UTF8_BOM, UTF16_BOMS = b"\xef\xbb\xbf", (b"\xff\xfe", b"\xfe\xff")
SAVE_AS = "save it as 'CSV UTF-8 (comma delimited)' or as an Excel workbook (.xlsx) and import it again"


class Rows:
    """The rows of a file: ``header`` (column names, stripped and lower-cased) and, iterated once, ``(row number,
    {column: value})`` for every data row that is not empty (the header is row 1).

    A row dict holds only the non-empty values (read them with ``row.get(column, "")``), and, when something in
    the row is wrong, ``"__error__"`` (the row as a whole, e.g. more values than the header has columns) or
    ``"__errors__"`` (``[(column, reason)]``, a cell). A defect that stops the reading (bytes that are not UTF-8, a
    broken CSV structure, a damaged workbook) raises ``ImportFileError`` with the row it was found in.
    """

    def __init__(self, header, rows):
        self.header = header
        self._rows = rows

    def __iter__(self):
        return self._rows


def open_rows(data: bytes, filename: str, *, max_bytes: int) -> Rows:
    """The header and the row iterator of a CSV or XLSX file (chosen by its content, else by its suffix)."""
    suffix = Path(filename).suffix.lower()
    if not data[:65536].strip() and not data.strip():  # (strip copies: look at the start first)
        raise ImportFileError("The file is empty: it needs a header row and data rows.")
    if data.startswith(ZIP_MAGIC):
        if suffix not in XLSX_SUFFIXES | CSV_SUFFIXES:
            raise _unsupported(suffix)
        return _xlsx_rows(data, max_bytes=max_bytes)
    if data.startswith(OLE2_MAGIC):
        raise ImportFileError("The file is an Excel 97-2003 workbook (.xls) or another Office file, which cannot "
                              f"be read: {SAVE_AS}.")
    if suffix in XLSX_SUFFIXES:
        raise ImportFileError("The spreadsheet could not be read (it is not an .xlsx workbook); save it again as "
                              ".xlsx.")
    if suffix not in CSV_SUFFIXES:
        raise _unsupported(suffix)
    return _csv_rows(data)


def _unsupported(suffix):
    return ImportFileError(f"Unsupported file type '{suffix[:20]}': upload a .csv (UTF-8) or .xlsx file.")


# -- CSV --------------------------------------------------------------------------------------------------------
class _Lines:
    """The lines of UTF-8 bytes as text, each with its line ending, for ``csv.reader``; notes NUL bytes."""

    def __init__(self, data, start):
        self.matches = _LINE.finditer(data, start)
        self.offset = start  # of the line being decoded
        self.nul = False  # a line read since the flag was last cleared holds a NUL byte

    def __iter__(self):
        return self

    def __next__(self):
        match = next(self.matches)
        line = match.group()
        self.offset = match.start()
        if b"\x00" in line:
            self.nul = True
        try:
            return line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Undecodable(self.offset + exc.start) from None


class _Undecodable(Exception):
    def __init__(self, offset):
        super().__init__(offset)
        self.offset = offset


def _not_utf8(row, offset):
    return ImportFileError(
        f"The file is not UTF-8 text (from byte {offset + 1}): it was saved in another encoding (Excel's plain "
        f"'CSV' writes Windows-1252, for example). The import expects UTF-8, with or without BOM: {SAVE_AS}.", row)


def _csv_rows(data):
    if data.startswith(UTF16_BOMS):
        raise ImportFileError("The file is not UTF-8 text but UTF-16 (Excel's 'Unicode Text'); the import expects "
                              f"UTF-8, with or without BOM: {SAVE_AS}.")
    lines = _Lines(data, len(UTF8_BOM) if data.startswith(UTF8_BOM) else 0)
    try:
        first = next(lines)
    except _Undecodable as exc:
        raise _not_utf8(1, exc.offset) from None
    # The header decides the delimiter (csv.Sniffer guesses from the data, and fails or guesses wrong on files
    # with few columns or quoted separators): the one of comma, semicolon and tab the header uses most.
    counts = {d: first.count(d) for d in DELIMITERS}
    delimiter = max(DELIMITERS, key=lambda d: counts[d]) if any(counts.values()) else ","
    reader = csv.reader(_chain(first, lines), delimiter=delimiter)
    try:
        names = next(reader)
    except csv.Error:
        raise ImportFileError(_csv_error_message(), 1) from None
    except _Undecodable as exc:
        raise _not_utf8(1, exc.offset) from None
    if lines.nul:
        raise ImportFileError("The header holds a NUL byte: the file is not text (or damaged); " + SAVE_AS + ".")
    header = [h.strip().lower() for h in names]
    if not any(header):
        raise ImportFileError("The file has no header: its first row must name the columns (see docs/import.md).")
    return Rows(header, _csv_data(reader, lines, header))


def _chain(first, lines):
    yield first
    yield from lines


def _csv_error_message(limit=None):
    limit = limit or csv.field_size_limit()
    return (f"The row could not be read: a value is longer than {limit:,} characters, or a quote is left open "
            "(a value starting with \" must end with \"). Reading stopped here.")


def _csv_data(reader, lines, header):
    width = len(header)
    number = 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error:
            raise ImportFileError(_csv_error_message(), number + 1) from None
        except _Undecodable as exc:
            raise _not_utf8(number + 1, exc.offset) from None
        number += 1
        if not values:
            continue
        if lines.nul:
            lines.nul = False
            bad = [header[i] if i < width else "" for i, v in enumerate(values) if "\x00" in v]
            if bad:
                yield number, {"__errors__": [(column, "holds a NUL byte (a zero byte, which no text holds): the "
                                                       f"file is damaged or not text; {SAVE_AS}.") for column in bad]}
                continue
        if len(values) > width and any(v.strip() for v in values[width:]):
            yield number, {"__error__": f"{len(values)} values but the header has {width} columns"}
            continue
        row = {}
        for column, value in zip(header, values):
            if column:
                value = value.strip()
                if value:
                    row[column] = value
        if row:
            yield number, row


# -- XLSX -------------------------------------------------------------------------------------------------------
def _damaged(exc, row=1):
    return ImportFileError(f"The spreadsheet could not be read ({type(exc).__name__}); save it again as .xlsx.", row)


def _xlsx_rows(data, *, max_bytes):
    from openpyxl import load_workbook

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        unpacked = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _damaged(exc) from None
    if unpacked > XLSX_MAX_UNPACKED_FACTOR * max_bytes:
        raise ImportFileError(f"The spreadsheet unpacks to {unpacked / 1e6:,.0f} MB, more than the import takes "
                              f"({XLSX_MAX_UNPACKED_FACTOR * max_bytes / 1e6:,.0f} MB); split it into smaller files.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles and extensions it does not read
            values = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
            formulas = None
            if _has_formulas(archive):
                formulas = load_workbook(io.BytesIO(data), read_only=True, data_only=False).worksheets[0]
        value_rows = values.iter_rows(values_only=True)
        formula_rows = formulas.iter_rows() if formulas is not None else None
        first = next(value_rows, None)
        if formula_rows is not None:
            next(formula_rows, None)
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise _damaged(exc) from None
    if first is None or not any(v is not None and str(v).strip() for v in first):
        raise ImportFileError("The spreadsheet is empty: it needs a header row and data rows.")
    header = [str(h or "").strip().lower() for h in first]
    return Rows(header, _xlsx_data(value_rows, formula_rows, header))


def _has_formulas(archive):
    """True when a worksheet of the workbook holds a formula (then each cell's formula is read too, to tell a
    formula without a stored value from an empty cell)."""
    for member in archive.infolist():
        if not (member.filename.startswith("xl/worksheets/") and member.filename.endswith(".xml")):
            continue
        tail = b""
        with archive.open(member) as stream:
            while chunk := stream.read(1 << 20):
                if _FORMULA_TAG.search(tail + chunk):
                    return True
                tail = chunk[-32:]
    return False


def _cell_text(value):
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _xlsx_data(value_rows, formula_rows, header):
    from openpyxl.utils import get_column_letter

    number = 1
    while True:
        try:
            values = next(value_rows, None)
            cells = next(formula_rows, None) if formula_rows is not None else None
        except Exception as exc:  # a damaged sheet, found as it is read
            raise _damaged(exc, number + 1) from None
        if values is None:
            return
        number += 1
        row, errors = {}, []
        for i, column in enumerate(header):
            if not column or i >= len(values):
                continue
            value = values[i]
            if value is None:
                if cells is not None and i < len(cells) and getattr(cells[i], "data_type", None) == "f":
                    errors.append((column, f"cell {get_column_letter(i + 1)}{number} holds a formula without a "
                                           "stored value (the program that saved the file did not calculate it): "
                                           "open the file in Excel or LibreOffice and save it again, or replace "
                                           "the formula by its value."))
                continue
            text = _cell_text(value)
            if text in EXCEL_ERRORS:
                errors.append((column, f"cell {get_column_letter(i + 1)}{number} holds the error value {text} (of a "
                                       "formula): correct the formula or enter the value."))
            elif text:
                row[column] = text
        if errors:
            row["__errors__"] = errors
        if row:
            yield number, row
