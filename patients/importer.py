"""Import of a flat clinical file in the REDCap export layout (see ``docs/import.md``).

One file holds patient rows (``redcap_repeat_instrument`` empty) and repeating-instrument rows
(``treatment``, ``biomarker``, ``adverse_event``), all keyed by ``record_id`` (the study ID).
Every row goes through the same services as the rest of the app, inside one transaction. By default the
import is all-or-nothing: any problem rolls everything back and the report lists every problem with its row
number (the header is row 1), column and reason. Running the same file twice changes nothing the second time.

Values of identifying columns (MRN, names, date of birth) never appear in problem messages.

The machinery here is shared by every file import of the project (``imaging``'s measurement and feature imports
use it too): ``read_rows`` (CSV/XLSX), ``Problem`` and ``ImportReport``, the value parsers (``parse_date``,
``parse_int``, ``parse_choice``, ``parse_bool``, raising ``RowError``), ``header_problems`` and ``run_import``
(read, check the header, apply in one transaction rolled back on any problem or a dry run, record the
``ImportRun``).
"""
import csv
import datetime as dt
import functools
import hashlib
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction

from . import choices, services
from .models import BiomarkerKind, Drug, ImportRun, Patient, Site

PATIENT_COLUMNS = [
    "record_id", "site", "sex", "year_of_birth", "tumour_type", "histology", "stage", "diagnosis_date",
    "ecog_baseline", "smoking_status", "mrn", "family_name", "given_name", "date_of_birth",
    "last_contact_date", "vital_status", "death_date", "clinical_progression_date",
]
TREATMENT_COLUMNS = ["line_of_therapy", "agents", "start_date", "end_date", "end_reason"]
BIOMARKER_COLUMNS = ["biomarker", "value", "measured_on", "specimen", "assay", "source"]
AE_COLUMNS = ["ae_term", "ae_term_other", "ae_grade", "ae_onset_date", "ae_resolution_date",
              "ae_corticosteroids", "ae_immunosuppressants", "ae_ici_action"]
REDCAP_COLUMNS = ["redcap_repeat_instrument", "redcap_repeat_instance"]
COLUMNS = ["record_id", *REDCAP_COLUMNS, *PATIENT_COLUMNS[1:], *TREATMENT_COLUMNS, *BIOMARKER_COLUMNS, *AE_COLUMNS]
IGNORED_REDCAP = {"redcap_event_name", "redcap_data_access_group", "redcap_survey_identifier"}
IDENTIFYING = {"mrn", "family_name", "given_name", "date_of_birth"}
INSTRUMENTS = {"": "patient", "treatment": "treatment", "biomarker": "biomarker", "adverse_event": "adverse_event"}
TRUE, FALSE = {"1", "yes", "y", "true", "checked"}, {"0", "no", "n", "false", "unchecked", ""}

# model field -> column, per instrument, to put validation errors on the right column
PATIENT_FIELD_COLUMNS = {"study_id": "record_id", "site": "site"}
IDENTITY_FIELD_COLUMNS = {"mrn": "mrn", "family_name": "family_name", "given_name": "given_name",
                          "date_of_birth": "date_of_birth"}
OUTCOME_FIELD_COLUMNS = {"last_contact_date": "last_contact_date", "vital_status": "vital_status",
                         "death_date": "death_date", "clinical_progression_date": "clinical_progression_date"}
REGIMEN_FIELD_COLUMNS = {"line_of_therapy": "line_of_therapy", "agents": "agents", "start_date": "start_date",
                         "end_date": "end_date", "end_reason": "end_reason"}
BIOMARKER_FIELD_COLUMNS = {"kind": "biomarker", "value_numeric": "value", "value_category": "value",
                           "measured_on": "measured_on", "specimen": "specimen", "assay": "assay", "source": "source"}
AE_FIELD_COLUMNS = {"term": "ae_term", "term_other": "ae_term_other", "grade": "ae_grade",
                    "onset_date": "ae_onset_date", "resolution_date": "ae_resolution_date",
                    "corticosteroids": "ae_corticosteroids", "other_immunosuppressants": "ae_immunosuppressants",
                    "ici_action": "ae_ici_action"}


class ImportFileError(Exception):
    """The file as a whole cannot be read (wrong format, no header, ...)."""


@dataclass
class Problem:
    """One problem of an import: row number (the header is row 1; 0 = not a row of the file but an option of the
    import, named in ``column``), column and reason."""

    row: int
    column: str
    message: str

    def __str__(self):
        if not self.row:
            return f"{self.column or 'import'}: {self.message}"
        where = f"row {self.row}" + (f", column '{self.column}'" if self.column else "")
        return f"{where}: {self.message}"


@dataclass
class ImportReport:
    filename: str
    sha256: str
    rows: int = 0
    dry_run: bool = False
    problems: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    kind: str = "clinical"  # ImportRun.Kind
    run_id: int | None = None  # the ImportRun row, once recorded

    @property
    def ok(self):
        return not self.problems

    @property
    def applied(self):
        return self.ok and not self.dry_run

    def count(self, what, outcome, n=1):
        if n:
            key = f"{what} {outcome}"
            self.counts[key] = self.counts.get(key, 0) + n

    def summary_lines(self):
        lines = [f"{self.rows} data rows read from {self.filename}."]
        for key in sorted(self.counts):
            lines.append(f"  {key}: {self.counts[key]}")
        return lines


class RowError(Exception):
    """A value of one row is wrong: its column and the reason (raised by the parsers)."""

    def __init__(self, column, message):
        super().__init__(message)
        self.column, self.message = column, message


# -- reading --------------------------------------------------------------------------------------------------
def read_rows(data: bytes, filename: str):
    """Return (header, rows) where rows are (row_number, dict). Supports CSV (UTF-8) and XLSX."""
    suffix = Path(filename).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(data)
    if suffix not in (".csv", ".txt", ""):
        raise ImportFileError(f"Unsupported file type '{suffix}': upload a .csv (UTF-8) or .xlsx file.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"The file is not UTF-8 text (byte {exc.start}); export it from REDCap/Excel as 'CSV UTF-8'."
        ) from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError("The file is empty: it needs a header row and data rows.") from None
    header = [h.strip().lower() for h in header]
    rows = []
    for number, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(header):
            rows.append((number, {"__error__": f"{len(values)} values but the header has {len(header)} columns"}))
            continue
        rows.append((number, {h: (values[i].strip() if i < len(values) else "") for i, h in enumerate(header)}))
    return header, rows


def _read_xlsx(data):
    from openpyxl import load_workbook

    try:
        sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise ImportFileError(f"The spreadsheet could not be read ({type(exc).__name__}); save it again as .xlsx.")
    iterator = sheet.iter_rows(values_only=True)
    try:
        header = [str(h or "").strip().lower() for h in next(iterator)]
    except StopIteration:
        raise ImportFileError("The spreadsheet is empty: it needs a header row and data rows.") from None
    rows = []
    for number, values in enumerate(iterator, start=2):
        cells = ["" if v is None else (v.date().isoformat() if isinstance(v, dt.datetime) else
                                        v.isoformat() if isinstance(v, dt.date) else str(v)).strip() for v in values]
        if any(cells):
            rows.append((number, {h: (cells[i] if i < len(cells) else "") for i, h in enumerate(header) if h}))
    return header, rows


# -- parsing values ---------------------------------------------------------------------------------------------
def parse_date(row, column, required=False):
    value = row.get(column, "")
    if not value:
        if required:
            raise RowError(column, "is required (a date as YYYY-MM-DD).")
        return None
    try:
        if len(value) < 10 or value[4] != "-":
            raise ValueError(value)
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        shown = "" if column in IDENTIFYING else f" '{value}'"
        raise RowError(column, f"is not a valid date{shown}; use YYYY-MM-DD.") from None


def parse_int(row, column, required=False):
    value = row.get(column, "")
    if value == "":
        if required:
            raise RowError(column, "is required (a whole number).")
        return None
    try:
        number = Decimal(value)
        if number != number.to_integral():
            raise InvalidOperation
        return int(number)
    except InvalidOperation:
        raise RowError(column, f"'{value}' is not a whole number.") from None


def _loose(text):
    return text.lower().replace("-", "_").replace(" ", "_")


def parse_choice(row, column, choice_class, required=False, default="", loose=False):
    """The code of a choice given as its code or its label, case-insensitively.

    ``loose``: '-', '_' and spaces count as the same character (CRFs write ``non_target`` for ``non-target``).
    """
    value = row.get(column, "")
    if value == "":
        if required:
            raise RowError(column, f"is required; one of: {', '.join(str(c) for c in choice_class.values)}.")
        return default
    code = _choice_table(choice_class, loose).get(_loose(value) if loose else value.lower())
    if code is not None:
        return code
    raise RowError(column, f"'{value}' is not one of: {', '.join(str(c) for c in choice_class.values)}.")


@functools.cache
def _choice_table(choice_class, loose):
    """{code or label, normalised: code}; the first choice wins where two share a spelling."""
    normal = _loose if loose else str.lower
    table = {}
    for code, label in choice_class.choices:
        table.setdefault(normal(str(code)), code)
        table.setdefault(normal(str(label)), code)
    return table


def parse_bool(row, column):
    value = row.get(column, "").lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise RowError(column, f"'{row.get(column)}' is not yes/no (use 1/0, yes/no or true/false).")


def parse_optional_bool(row, column):
    """Like ``parse_bool``, but an empty cell is None ("not given") instead of no."""
    if not row.get(column, ""):
        return None
    return parse_bool(row, column)


def validation_problems(number, exc, field_columns, default_column=""):
    problems = []
    for name, messages in exc.message_dict.items():
        column = field_columns.get(name, default_column)
        for message in messages:
            problems.append(Problem(number, column, message))
    return problems


# -- the skeleton every import shares --------------------------------------------------------------------------
def header_problems(header, *, known, required=None, ignored=lambda column: False):
    """Problems of a header row: missing required columns (``{column: message}``), unknown and repeated ones."""
    problems = []
    for column, message in (required or {}).items():
        if column not in header:
            problems.append(Problem(1, column, message))
    for column in header:
        if column and column not in known and not ignored(column):
            problems.append(Problem(1, column, "Unknown column; see docs/import.md for the layout."))
    duplicates = {c for c in header if c and header.count(c) > 1}
    for column in sorted(duplicates):
        problems.append(Problem(1, column, "This column appears more than once."))
    return problems


def ignored_redcap(column):
    """REDCap's own housekeeping columns, which every import accepts and ignores."""
    return column in IGNORED_REDCAP or column.endswith("_complete")


def run_import(*, data: bytes, filename: str, kind, apply, check_header, dry_run=False, user=None,
               report=None) -> ImportReport:
    """Read a file, check its header, apply it in one transaction, record the run; returns the report.

    ``check_header(header, report)`` adds header problems; ``apply(rows, report)`` validates and writes every row,
    adding row problems to the report. Any problem (or ``dry_run``) rolls the whole transaction back, so nothing
    is written. A database error (e.g. a concurrent import of the same rows) is reported, never raised. Always
    records an ``ImportRun`` of ``kind``. ``report``: a prepared report (problems already in it are kept).
    """
    if report is None:
        report = ImportReport(filename="", sha256="")
    report.filename, report.sha256 = Path(filename).name, hashlib.sha256(data).hexdigest()
    report.dry_run, report.kind = dry_run, kind
    try:
        header, rows = read_rows(data, filename)
    except ImportFileError as exc:
        report.problems.append(Problem(1, "", str(exc)))
        record_run(report, user)
        return report
    report.rows = len(rows)
    check_header(header, report)
    if report.problems:
        record_run(report, user)
        return report
    try:
        with transaction.atomic():
            apply(rows, report)
            if report.problems or dry_run:
                transaction.set_rollback(True)
    except DatabaseError as exc:
        report.run_id = None  # a run recorded inside the rolled-back transaction is gone
        report.problems.append(Problem(0, "", f"The database refused the import ({type(exc).__name__}); nothing "
                                               "was written. Another import may have written the same rows: run "
                                               "it again."))
    record_run(report, user)
    return report


def record_run(report, user=None):
    """Create (or, once created by ``apply``, complete) the ``ImportRun`` row of this report. Returns it."""
    status = (ImportRun.Status.REJECTED if report.problems else
              ImportRun.Status.DRY_RUN if report.dry_run else ImportRun.Status.APPLIED)
    fields = {
        "kind": report.kind, "filename": report.filename, "sha256": report.sha256, "status": status,
        "rows": report.rows, "summary": report.counts,
        "problems": [{"row": p.row, "column": p.column, "message": p.message} for p in report.problems],
        "started_by": user if (user is not None and user.is_authenticated) else None,
    }
    if report.run_id and ImportRun.objects.filter(pk=report.run_id).update(**fields):
        return ImportRun.objects.get(pk=report.run_id)
    run = ImportRun.objects.create(**fields)
    report.run_id = run.pk
    return run


# -- the clinical import ----------------------------------------------------------------------------------------
def import_clinical(*, data: bytes, filename: str, dry_run=False, user=None) -> ImportReport:
    """Validate and (unless ``dry_run`` or any problem) apply a clinical file. Always records an ImportRun."""
    return run_import(data=data, filename=filename, kind=ImportRun.Kind.CLINICAL, apply=_apply,
                      check_header=_check_header, dry_run=dry_run, user=user)


def _check_header(header, report):
    report.problems.extend(header_problems(
        header, known=COLUMNS, ignored=ignored_redcap,
        required={"record_id": "The header has no 'record_id' column (the study ID)."}))


def _apply(rows, report):
    sites = {s.code.lower(): s for s in Site.objects.all()}
    drugs = {d.name.lower(): d for d in Drug.objects.all()}
    kinds = {k.code.lower(): k for k in BiomarkerKind.objects.all()}
    for k in list(kinds.values()):
        kinds.setdefault(k.name.lower(), k)
    patients = {}
    patient_rows, child_rows = [], []
    for number, row in rows:
        if "__error__" in row:
            report.problems.append(Problem(number, "", row["__error__"]))
            continue
        instrument = row.get("redcap_repeat_instrument", "").strip().lower()
        if instrument not in INSTRUMENTS:
            report.problems.append(Problem(number, "redcap_repeat_instrument", f"'{instrument}' is not one of: "
                                           "(empty for the patient row), treatment, biomarker, adverse_event."))
        elif not row.get("record_id"):
            report.problems.append(Problem(number, "record_id", "is required (the patient's study ID)."))
        elif instrument == "":
            patient_rows.append((number, row))
        else:
            child_rows.append((number, INSTRUMENTS[instrument], row))

    seen = {}
    for number, row in patient_rows:
        key = row["record_id"]
        if key in seen:
            report.problems.append(Problem(number, "record_id", f"Study ID {key} already has a patient row "
                                           f"(row {seen[key]}); give each patient one row."))
            continue
        seen[key] = number
        patient = _savepoint(report, number, lambda: _patient_row(number, row, sites, report))
        if patient is not None:
            patients[key] = patient

    order = {"treatment": 0, "biomarker": 1, "adverse_event": 2}  # irAEs link to the regimen given before them
    child_rows.sort(key=lambda item: (order[item[1]], item[0]))
    for number, instrument, row in child_rows:
        study_id = row["record_id"]
        patient = patients.get(study_id)
        if patient is None:
            matches = list(Patient.objects.filter(study_id=study_id)[:2])
            if len(matches) == 1:
                patient = patients[study_id] = matches[0]
            elif study_id in seen:
                continue  # its patient row failed; that row's problems are already reported
            else:
                reason = "exists at several sites" if matches else "has no patient row in this file or database"
                report.problems.append(Problem(number, "record_id", f"Study ID {study_id} {reason}."))
                continue
        handler = {"treatment": _treatment_row, "biomarker": _biomarker_row, "adverse_event": _ae_row}[instrument]
        _savepoint(report, number, lambda: handler(number, row, patient, drugs, kinds, report))


def _savepoint(report, number, work):
    """Run one row's writes in a savepoint, turning every failure into a reported problem."""
    try:
        with transaction.atomic():
            return work()
    except RowError as exc:
        report.problems.append(Problem(number, exc.column, exc.message))
    except RowValidationError as exc:
        report.problems.extend(exc.problems)
    return None


class RowValidationError(Exception):
    def __init__(self, problems):
        super().__init__(problems)
        self.problems = problems


def _call(number, field_columns, function, **kwargs):
    try:
        return function(**kwargs)
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise RowValidationError([Problem(number, "", m) for m in exc.messages]) from None
        raise RowValidationError(validation_problems(number, exc, field_columns)) from None


def _patient_row(number, row, sites, report):
    site = sites.get(row.get("site", "").lower())
    if site is None:
        known = ", ".join(sorted(s.code for s in sites.values())) or "none yet"
        raise RowError("site", f"Unknown site '{row.get('site', '')}'; known site codes: {known}. "
                                "Create the site in the admin first.")
    errors = []
    values = {}
    parsers = {
        "sex": lambda: parse_choice(row, "sex", choices.Sex, default=choices.Sex.UNKNOWN),
        "year_of_birth": lambda: parse_int(row, "year_of_birth"),
        "tumour_type": lambda: parse_choice(row, "tumour_type", choices.TumourType, required=True),
        "diagnosis_date": lambda: parse_date(row, "diagnosis_date"),
        "ecog_baseline": lambda: _choice_int(row, "ecog_baseline", choices.ECOG),
        "smoking_status": lambda: parse_choice(row, "smoking_status", choices.SmokingStatus,
                                          default=choices.SmokingStatus.UNKNOWN),
        "date_of_birth": lambda: parse_date(row, "date_of_birth"),
        "last_contact_date": lambda: parse_date(row, "last_contact_date"),
        "vital_status": lambda: parse_choice(row, "vital_status", choices.VitalStatus, default=choices.VitalStatus.ALIVE),
        "death_date": lambda: parse_date(row, "death_date"),
        "clinical_progression_date": lambda: parse_date(row, "clinical_progression_date"),
    }
    for name, parse in parsers.items():
        try:
            values[name] = parse()
        except RowError as exc:
            errors.append(Problem(number, exc.column, exc.message))
    if errors:
        raise RowValidationError(errors)
    patient, created, changed = _call(
        number, PATIENT_FIELD_COLUMNS, services.patient_upsert, site=site, study_id=row["record_id"],
        sex=values["sex"], year_of_birth=values["year_of_birth"], tumour_type=values["tumour_type"],
        histology=row.get("histology", ""), stage=row.get("stage", ""), diagnosis_date=values["diagnosis_date"],
        ecog_baseline=values["ecog_baseline"], smoking_status=values["smoking_status"],
    )
    report.count("patients", "created" if created else "updated" if changed else "unchanged")
    identity = {k: row.get(k, "") for k in ("mrn", "family_name", "given_name")}
    identity["date_of_birth"] = values["date_of_birth"]
    if any(identity.values()):
        _, changed = _call(number, IDENTITY_FIELD_COLUMNS, services.patient_identity_set, patient=patient, **identity)
        report.count("identities", "written" if changed else "unchanged")
    if values["last_contact_date"]:
        _, changed = _call(
            number, OUTCOME_FIELD_COLUMNS, services.outcome_set, patient=patient,
            last_contact_date=values["last_contact_date"], vital_status=values["vital_status"],
            death_date=values["death_date"], clinical_progression_date=values["clinical_progression_date"],
        )
        report.count("outcomes", "written" if changed else "unchanged")
    elif values["death_date"] or values["clinical_progression_date"]:
        raise RowError("last_contact_date", "is required when a death or progression date is given.")
    return patient


def _choice_int(row, column, choice_class):
    value = parse_int(row, column)
    if value is not None and value not in choice_class.values:
        raise RowError(column, f"'{value}' is not one of: {', '.join(str(v) for v in choice_class.values)}.")
    return value


def _treatment_row(number, row, patient, drugs, kinds, report):
    names = [n.strip() for n in row.get("agents", "").replace("+", ";").split(";") if n.strip()]
    if not names:
        raise RowError("agents", "is required: drug names separated by ';' (e.g. 'pembrolizumab; carboplatin').")
    unknown = [n for n in names if n.lower() not in drugs]
    if unknown:
        raise RowError("agents", f"Unknown drug(s): {', '.join(unknown)}. Use the international non-proprietary "
                                  "name, or add the drug in the admin.")
    line = parse_int(row, "line_of_therapy") or 1
    _, created, changed = _call(
        number, REGIMEN_FIELD_COLUMNS, services.regimen_upsert, patient=patient,
        start_date=parse_date(row, "start_date", required=True), line_of_therapy=line,
        agents=[drugs[n.lower()] for n in names], end_date=parse_date(row, "end_date"),
        end_reason=parse_choice(row, "end_reason", choices.EndReason),
    )
    report.count("regimens", "created" if created else "updated" if changed else "unchanged")


def _biomarker_row(number, row, patient, drugs, kinds, report):
    kind = kinds.get(row.get("biomarker", "").lower())
    if kind is None:
        known = ", ".join(sorted(k.code for k in set(kinds.values())))
        raise RowError("biomarker", f"Unknown biomarker '{row.get('biomarker', '')}'; known codes: {known}.")
    raw = row.get("value", "")
    numeric, category = None, ""
    if kind.value_type == choices.BiomarkerValueType.NUMERIC:
        try:
            numeric = Decimal(raw.replace(",", ".")) if raw else None
        except InvalidOperation:
            raise RowError("value", f"'{raw}' is not a number ({kind.name} is numeric).") from None
    else:
        category = next((c for c in kind.categories if c.lower() == raw.lower()), raw)
    _, created, changed = _call(
        number, BIOMARKER_FIELD_COLUMNS, services.biomarker_upsert, patient=patient, kind=kind,
        measured_on=parse_date(row, "measured_on", required=True),
        specimen=parse_choice(row, "specimen", choices.Specimen, default=kind.default_specimen or ""),
        source=parse_choice(row, "source", choices.BiomarkerSource, default=choices.BiomarkerSource.MEASURED),
        value_numeric=numeric, value_category=category, assay=row.get("assay", ""),
    )
    report.count("biomarkers", "created" if created else "updated" if changed else "unchanged")


def _ae_row(number, row, patient, drugs, kinds, report):
    onset = parse_date(row, "ae_onset_date", required=True)
    grade = parse_int(row, "ae_grade", required=True)
    if not 1 <= grade <= 5:
        raise RowError("ae_grade", f"CTCAE grade must be 1 to 5, got {grade}.")
    regimen = patient.regimens.filter(start_date__lte=onset).order_by("-start_date").first()
    _, created, changed = _call(
        number, AE_FIELD_COLUMNS, services.adverse_event_upsert, patient=patient,
        term=parse_choice(row, "ae_term", choices.AETerm, required=True), onset_date=onset, grade=grade,
        term_other=row.get("ae_term_other", ""), resolution_date=parse_date(row, "ae_resolution_date"),
        corticosteroids=parse_bool(row, "ae_corticosteroids"), other_immunosuppressants=parse_bool(row, "ae_immunosuppressants"),
        ici_action=parse_choice(row, "ae_ici_action", choices.ICIAction, default=choices.ICIAction.NONE), regimen=regimen,
    )
    report.count("adverse events", "created" if created else "updated" if changed else "unchanged")
