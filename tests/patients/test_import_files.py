"""Clinical import, issue 15: every defect of a file is a problem with its row (never a traceback), always recorded
as an ImportRun; the size limit on the command line and the page; CSV dialects, line endings, encodings."""
import csv
import io
import re
import zipfile

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from patients.importer import COLUMNS, import_clinical
from patients.models import ImportRun, Patient, TreatmentRegimen
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db

PATIENT = {"record_id": "P1", "site": "DEMO-A", "tumour_type": "melanoma", "year_of_birth": "1970"}
TREATMENT = {"record_id": "P1", "redcap_repeat_instrument": "treatment", "agents": "nivolumab",
             "start_date": "2024-01-01"}


@pytest.fixture(autouse=True)
def site(db):
    return SiteFactory(code="DEMO-A", name="Demo A")


def csv_text(rows, *, columns=COLUMNS, delimiter=",", lineterminator="\r\n"):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, delimiter=delimiter, lineterminator=lineterminator)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def rejected(report, *, rows=None):
    """The report's problems as (row, column, message); checks the run was recorded as rejected."""
    run = ImportRun.objects.get(pk=report.run_id)
    assert run.status == "rejected" and not report.ok
    assert run.problems == [{"row": p.row, "column": p.column, "message": p.message} for p in report.problems]
    assert not Patient.objects.exists()
    return [(p.row, p.column, p.message) for p in report.problems]


def test_semicolon_and_tab_files_and_a_bom_import_like_commas():
    for delimiter, prefix in ((";", ""), ("\t", ""), (",", "\ufeff")):
        text = prefix + csv_text([PATIENT, TREATMENT], delimiter=delimiter)
        report = import_clinical(data=text.encode(), filename="x.csv")
        assert report.ok, report.problems
        assert Patient.objects.get().regimens.get().agent_names == "nivolumab"
        Patient.objects.all().delete()


def test_a_header_the_sniffer_cannot_read_is_still_read():
    """csv.Sniffer fails ("Could not determine delimiter") or guesses a letter on files like these; the header
    decides: a one-column file, and values full of semicolons in a comma file."""
    report = import_clinical(data=b"record_id\nP1\n", filename="x.csv")
    assert [(p.row, p.column) for p in report.problems] == [(2, "site"), (2, "tumour_type")]  # read, and checked
    text = csv_text([{**PATIENT, "histology": "a;b;c;d;e;f;g"}])
    assert import_clinical(data=text.encode(), filename="x.csv").ok
    assert Patient.objects.get().histology == "a;b;c;d;e;f;g"


@pytest.mark.parametrize("ending", ["\r", "\n", "\r\n"])
def test_every_line_ending_is_read(ending):
    text = csv_text([PATIENT, {**TREATMENT, "end_date": "2024-02-01", "end_reason": "toxicity"}],
                    lineterminator=ending)
    report = import_clinical(data=text.encode(), filename="x.csv")
    assert report.ok and report.rows == 2, report.problems
    assert TreatmentRegimen.objects.get().end_reason == "toxicity"


def test_a_quoted_value_over_several_lines_keeps_its_line_breaks_and_rows_are_numbered_by_record():
    text = csv_text([{**PATIENT, "histology": "first line\rsecond\r\nthird"},
                     {**PATIENT, "record_id": "P2", "tumour_type": "nope"}], lineterminator="\r")
    report = import_clinical(data=text.encode(), filename="x.csv")
    assert [(p.row, p.column) for p in report.problems] == [(3, "tumour_type")]


def test_a_field_over_the_csv_field_limit_is_a_problem_of_its_row():
    text = csv_text([PATIENT, {**PATIENT, "record_id": "P2", "histology": "x" * 200_000}, PATIENT])
    report = import_clinical(data=text.encode(), filename="x.csv")
    ((row, column, message),) = rejected(report)
    assert row == 3 and "longer than 131,072 characters" in message and "x" * 100 not in message


def test_a_quote_left_open_is_a_problem_not_a_traceback():
    text = csv_text([PATIENT]) + 'P2,,,DEMO-A,,,"melanoma\n' + "y" * 140_000 + "\n"
    ((row, _, message),) = rejected(import_clinical(data=text.encode(), filename="x.csv"))
    assert row == 3 and "quote is left open" in message


def test_a_nul_byte_is_a_problem_of_its_row_and_column():
    """(on PostgreSQL a NUL in a text value was a DataError: text columns cannot hold it)"""
    text = csv_text([PATIENT, {**PATIENT, "record_id": "P2", "histology": "adeno\x00carcinoma"}])
    ((row, column, message),) = rejected(import_clinical(data=text.encode(), filename="x.csv"))
    assert (row, column) == (3, "histology") and "NUL byte" in message


def test_a_nul_byte_in_the_header_is_a_problem():
    text = "record_id,si\x00te\nP1,DEMO-A\n"
    ((row, _, message),) = rejected(import_clinical(data=text.encode(), filename="x.csv"))
    assert row == 1 and "NUL byte" in message


def test_utf8_with_and_without_bom_then_the_encoding_expected():
    text = csv_text([{**PATIENT, "histology": "carcinome épidermoïde"}])
    for data in (text.encode(), b"\xef\xbb\xbf" + text.encode()):
        assert import_clinical(data=data, filename="x.csv").ok
        assert Patient.objects.get().histology == "carcinome épidermoïde"
        Patient.objects.all().delete()
    ((row, _, message),) = rejected(import_clinical(data=text.encode("cp1252"), filename="x.csv"))
    assert row == 2 and "not UTF-8" in message and "expects UTF-8" in message and "CSV UTF-8" in message
    ((row, _, message),) = rejected(import_clinical(data=text.encode("utf-16"), filename="x.csv"))
    assert row == 1 and "UTF-16" in message and "expects UTF-8" in message


def test_an_undecodable_byte_further_down_names_its_row():
    good = csv_text([PATIENT, {**PATIENT, "record_id": "P2"}])
    data = good.encode() + "P3,,,DEMO-A,,,melanoma,Gr\xfcn\n".encode("latin-1")
    ((row, _, message),) = rejected(import_clinical(data=data, filename="x.csv"))
    assert row == 4 and "not UTF-8" in message and "Gr" not in message


@pytest.mark.parametrize("data,filename,expected", [
    (b"", "x.csv", "The file is empty"),
    (b" \r\n\r\n  ", "x.csv", "The file is empty"),
    (b",,,\n", "x.csv", "no header"),
    (b"%PDF-1.7 binary", "x.pdf", "Unsupported file type '.pdf'"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "x.xls", "Excel 97-2003 workbook"),
    (b"record_id,site\nP1,DEMO-A\n", "x.xlsx", "not an .xlsx workbook"),
    (b"PK\x03\x04 not really a workbook", "x.xlsx", "could not be read"),
])
def test_files_that_are_not_an_import_file(data, filename, expected):
    ((row, _, message),) = rejected(import_clinical(data=data, filename=filename))
    assert row == 1 and expected in message


def test_more_values_than_columns_but_empty_trailing_values_are_fine():
    text = csv_text([PATIENT]).rstrip("\r\n") + ",,,\r\n" + "P2,,,DEMO-A,,,melanoma" + "," * len(COLUMNS) + "x\r\n"
    ((row, _, message),) = rejected(import_clinical(data=text.encode(), filename="x.csv"))
    assert row == 3 and "values but the header has" in message


# -- XLSX -----------------------------------------------------------------------------------------------------
def workbook(rows, tmp_path, *, edit=None):
    """An XLSX of ``rows`` (lists); ``edit(sheet_xml) -> sheet_xml`` rewrites the first sheet's XML (to store what
    openpyxl does not write: a formula's cached value, an error value)."""
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    path = tmp_path / "book.xlsx"
    book.save(path)
    if edit is None:
        return path.read_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = edit(data.decode()).encode()
            dst.writestr(item, data)
    return out.getvalue()


HEADER = ["record_id", "site", "tumour_type", "year_of_birth"]


def test_a_formula_without_a_stored_value_is_a_problem_naming_its_cell(tmp_path):
    """openpyxl (like other generators) writes formulas without their value: imported blank before issue 15."""
    data = workbook([HEADER, ["P1", "DEMO-A", "melanoma", "=1950+20"], ["P2", "DEMO-A", "melanoma", 1971]], tmp_path)
    ((row, column, message),) = rejected(import_clinical(data=data, filename="x.xlsx"))
    assert (row, column) == (2, "year_of_birth") and "cell D2 holds a formula without a stored value" in message


def test_a_formula_with_its_stored_value_imports_the_value(tmp_path):
    data = workbook([HEADER, ["P1", "DEMO-A", "melanoma", "=1950+20"]], tmp_path,
                    edit=lambda xml: re.sub(r"(<f>1950\+20</f>)(<v\s*/>|<v></v>)?", r"\1<v>1970</v>", xml))
    report = import_clinical(data=data, filename="x.xlsx")
    assert report.ok, report.problems
    assert Patient.objects.get().year_of_birth == 1970


def test_an_excel_error_value_is_a_problem_naming_its_cell(tmp_path):
    def error(xml):
        return re.sub(r'<c r="D2"([^>]*)><v>1970</v></c>', r'<c r="D2" t="e"><v>#DIV/0!</v></c>', xml)

    data = workbook([HEADER, ["P1", "DEMO-A", "melanoma", 1970]], tmp_path, edit=error)
    ((row, column, message),) = rejected(import_clinical(data=data, filename="x.xlsx"))
    assert (row, column) == (2, "year_of_birth") and "cell D2 holds the error value #DIV/0!" in message


def test_a_workbook_named_csv_is_read_as_a_workbook(tmp_path):
    data = workbook([HEADER, ["P1", "DEMO-A", "melanoma", 1970]], tmp_path)
    assert import_clinical(data=data, filename="export.csv").ok


def test_an_xlsx_unpacking_to_far_more_than_the_limit_is_refused(tmp_path):
    data = workbook([HEADER, *[[f"P{i}", "DEMO-A", "melanoma", " " * 30_000 + str(i)] for i in range(20)]],
                    tmp_path)
    with override_settings(RADIMMUNO_IMPORT_MAX_BYTES=len(data) + 10):
        ((row, _, message),) = rejected(import_clinical(data=data, filename="x.xlsx"))
    assert "unpacks to" in message


# -- the size limit -------------------------------------------------------------------------------------------
@override_settings(RADIMMUNO_IMPORT_MAX_BYTES=1000)
def test_a_file_over_the_limit_is_refused_unread_and_recorded():
    data = csv_text([PATIENT] * 30).encode()
    assert len(data) > 1000
    ((row, _, message),) = rejected(import_clinical(data=data, filename="big.csv"))
    assert row == 0 and "larger than 1,000 bytes" in message and "RADIMMUNO_IMPORT_MAX_BYTES" in message
    run = ImportRun.objects.get()
    assert (run.filename, run.sha256, run.rows) == ("big.csv", "", 0)


@override_settings(RADIMMUNO_IMPORT_MAX_BYTES=1000)
def test_the_command_refuses_a_file_over_the_limit(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text(csv_text([PATIENT] * 30))
    err = io.StringIO()
    with pytest.raises(CommandError, match="Import rejected"):
        call_command("import_clinical", str(path), stdout=io.StringIO(), stderr=err)
    assert "larger than 1,000 bytes" in err.getvalue()
    assert ImportRun.objects.get().status == "rejected"


@override_settings(RADIMMUNO_IMPORT_MAX_BYTES=1000)
def test_the_page_refuses_a_file_over_the_limit_with_the_report(client, curator):
    client.force_login(curator)
    big = io.BytesIO(csv_text([PATIENT] * 30).encode())
    big.name = "big.csv"
    response = client.post("/patients/import/", {"file": big})
    assert response.status_code == 200
    assert b"Rejected: 1 problem" in response.content and b"larger than 1,000 bytes" in response.content
    run = ImportRun.objects.get()
    assert (run.status, run.started_by) == ("rejected", curator)


def test_a_file_at_the_limit_is_read():
    data = csv_text([PATIENT]).encode()
    with override_settings(RADIMMUNO_IMPORT_MAX_BYTES=len(data)):
        assert import_clinical(data=data, filename="x.csv").ok


# -- never a traceback ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["1e999999999", "Infinity", "NaN", "sNaN", "-0x10", "19.5"])
def test_numbers_that_are_no_whole_numbers(value):
    ((row, column, message),) = rejected(import_clinical(data=csv_text([{**PATIENT, "year_of_birth": value}]).encode(),
                                                          filename="x.csv"))
    assert (row, column) == (2, "year_of_birth") and "is not a whole number" in message


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-inf", "1e999999"])
def test_biomarker_values_that_are_no_finite_numbers(value):
    rows = [PATIENT, {"record_id": "P1", "redcap_repeat_instrument": "biomarker", "biomarker": "ldh", "value": value,
                      "measured_on": "2024-01-01"}]
    problems = rejected(import_clinical(data=csv_text(rows).encode(), filename="x.csv"))
    assert problems and {(row, column) for row, column, _ in problems} == {(3, "value")}


def test_an_unexpected_error_is_a_problem_and_the_log_has_no_values(monkeypatch, caplog):
    from patients.importing import clinical

    def broken(self, number, row):
        raise ValueError(f"invalid literal: {row['record_id']}")

    monkeypatch.setattr(clinical.ClinicalCheck, "read_patient", lambda self, number, row, study_id: broken(
        self, number, row))
    report = import_clinical(data=csv_text([{**PATIENT, "record_id": "SECRET-STUDY-ID"}]).encode(), filename="x.csv")
    ((row, _, message),) = rejected(report)
    assert row == 0 and "failed unexpectedly (ValueError)" in message
    assert "ValueError" in caplog.text and "SECRET-STUDY-ID" not in caplog.text


def test_a_long_unknown_value_is_shown_cut():
    report = import_clinical(data=csv_text([{**PATIENT, "tumour_type": "z" * 5000}]).encode(), filename="x.csv")
    ((_, _, message),) = rejected(report)
    assert "z" * 60 + "…'" in message and "z" * 61 not in message


def test_thousands_of_problems_are_kept_to_the_first_thousand():
    rows = [{**PATIENT, "record_id": f"P{i}", "tumour_type": "nope"} for i in range(1200)]
    report = import_clinical(data=csv_text(rows).encode(), filename="x.csv")
    problems = rejected(report)
    assert len(problems) == 1001 and "1,200" not in problems[-1][2] and "200 more problems" in problems[-1][2]
