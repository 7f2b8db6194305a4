"""The clinical import (``manage.py import_clinical``, the page ``/patients/import/``): one flat file in the REDCap
export layout (``docs/import.md``).

One file holds patient rows (``redcap_repeat_instrument`` empty: the patient, their identity and follow-up) and
repeating-instrument rows (``treatment``, ``biomarker``, ``adverse_event``), all keyed by ``record_id`` (the study
ID). All-or-nothing: any problem and nothing is written; the report lists every problem with its row number (the
header is row 1), column and reason. Running the same file twice changes nothing the second time.

The whole file is checked before anything is written, and without a transaction (so without the database's write
lock): rows are parsed as they are read, what the database holds for the file's patients is read in a fixed number
of queries, and every new or changed row is validated in memory with its model's own ``full_clean`` (uniqueness by
the rows' keys, here; the database's constraints stay the last word). Only a file without problems is written,
by ``services.clinical_records_write`` in one short transaction (bulk inserts and updates with their history
rows); after commit one ``patients.signals.clinical_data_imported`` names the patients whose treatment lines,
follow-up or irAEs changed, so that each one's response is recomputed once.

Values of identifying columns (MRN, names, date of birth) never appear in problem messages.
"""
import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import partial

from django.core.exceptions import ValidationError

from .. import choices, services
from ..models import (
    AdverseEvent,
    Biomarker,
    BiomarkerKind,
    Drug,
    ImportRun,
    Outcome,
    Patient,
    PatientIdentity,
    Site,
    TreatmentRegimen,
)
from .reports import ImportReport, Problem, RowError, validation_problems
from .runs import header_problems, ignored_redcap, run_import
from .values import IDENTIFYING, parse_bool, parse_choice, parse_date, parse_decimal, parse_int, shown

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
INSTRUMENTS = {"": "patient", "treatment": "treatment", "biomarker": "biomarker", "adverse_event": "adverse_event"}
IDENTITY_FIELDS = ("mrn", "family_name", "given_name", "date_of_birth")

# model field -> column, per instrument, to put validation errors on the right column
PATIENT_FIELD_COLUMNS = {"study_id": "record_id", "site": "site", "sex": "sex", "year_of_birth": "year_of_birth",
                         "tumour_type": "tumour_type", "histology": "histology", "stage": "stage",
                         "diagnosis_date": "diagnosis_date", "ecog_baseline": "ecog_baseline",
                         "smoking_status": "smoking_status"}
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
#: What a problem of an identifying column says when the model refuses the value (its own message may quote it).
IDENTITY_REFUSED = "is not valid here (the value is not shown: it is identifying data)."
NOT_SHOWN = ("is not valid (the reason is not shown: it would have quoted identifying data of the file). Check "
             "this row's values against docs/import.md.")
_QUOTED = re.compile(r"'([^']*)'")
_TOKEN = re.compile(r"[\w.@/+-]*\d[\w.@/+-]*")  # tokens holding a digit: MRNs, dates
CHILD_ORDER = {"treatment": 0, "biomarker": 1, "adverse_event": 2}  # irAEs link to the regimen given before them


def import_clinical(*, data: bytes, filename: str, dry_run=False, user=None) -> ImportReport:
    """Check and (unless ``dry_run`` or any problem) write a clinical file. Always records an ImportRun."""
    return run_import(data=data, filename=filename, kind=ImportRun.Kind.CLINICAL, check_header=_check_header,
                      validate=partial(_validate, user=user, filename=filename), dry_run=dry_run, user=user)


def _check_header(header, report):
    report.problems.extend(header_problems(
        header, known=COLUMNS, ignored=ignored_redcap,
        required={"record_id": "The header has no 'record_id' column (the study ID)."}))


def _validate(rows, report, *, user, filename):
    return ClinicalCheck(report, user=user, reason=f"import_clinical {filename}"[:100]).run(rows)


@dataclass(slots=True)
class PatientRow:
    number: int
    study_id: str
    site: Site
    fields: dict  # Patient
    identity: dict | None  # PatientIdentity, when any identifying column is given
    outcome: dict | None  # Outcome, when the last contact date is given


@dataclass(slots=True)
class ChildRow:
    number: int
    instrument: str
    study_id: str
    key: tuple  # what identifies the record within its patient
    fields: dict
    extra: object = None  # the drug ids of a treatment, the kind of a biomarker


def _study_id_shown(study_id):
    return study_id if len(study_id) <= 40 else study_id[:40] + "…"


class ClinicalCheck:
    """Checks one file, row by row and then across rows and against the database, without writing anything.

    ``run(rows)`` returns the function that writes the checked rows, or None when the file has problems (they are
    in the report, with the counts of what it would write).
    """

    def __init__(self, report, *, user=None, reason=""):
        self.report, self.user, self.reason = report, user, reason
        self.problems = []
        self.today = dt.date.today()
        self.sites = {s.code.lower(): s for s in Site.objects.all()}
        self.drugs = {d.name.lower(): d for d in Drug.objects.all()}
        kinds = list(BiomarkerKind.objects.all())
        self.kinds = {k.code.lower(): k for k in kinds}
        for k in kinds:
            self.kinds.setdefault(k.name.lower(), k)
        self.kinds_by_pk = {k.pk: k for k in kinds}
        self.seen = {}  # study ID: row number of its patient row
        self.failed = set()  # study IDs whose patient row has problems (their other rows are not matched)
        self.patient_rows = {}  # study ID: PatientRow
        self.children = []
        self.secrets = set()  # the file's identifying values (lower-cased): no message may quote one
        self.row_secrets = {}  # row number: its identifying values
        self.mrn_rows = {}  # MRN: row number of the patient row giving it
        self.changes = {model: services.BulkChanges(model) for model in (
            Patient, PatientIdentity, Outcome, TreatmentRegimen, Biomarker, AdverseEvent)}
        self.agents = []
        self.announce = {}  # id(patient): patient whose treatment, follow-up or irAEs change

    def problem(self, number, column, message):
        self.problems.append(Problem(number, column, message))

    # -- reading rows -------------------------------------------------------------------------------------------
    def run(self, rows):
        for number, row in rows:
            self.read(number, row)
        units = self.match()
        if units:
            recorded = self.recorded([p for p in units.values() if p.pk is not None])
            self.patients(units, recorded)
            children = sorted(self.children, key=lambda c: (CHILD_ORDER[c.instrument], c.number))
            regimens = self.treatments([c for c in children if c.instrument == "treatment"], units, recorded)
            self.biomarkers([c for c in children if c.instrument == "biomarker"], units, recorded)
            self.adverse_events([c for c in children if c.instrument == "adverse_event"], units, recorded, regimens)
        self.problems.sort(key=lambda p: p.row)
        self.report.problems.extend(self.scrubbed(self.problems))
        if self.report.problems:
            return None
        return partial(services.clinical_records_write, changes=list(self.changes.values()), agents=self.agents,
                       announce=list(self.announce.values()), user=self.user, reason=self.reason)

    def read(self, number, row):
        values = [row[c] for c in IDENTIFYING if c in row]
        if values:
            self.row_secrets[number] = [v.lower() for v in values if len(v) >= 3]
            self.secrets.update(v.lower() for v in values)
        instrument = row.get("redcap_repeat_instrument", "").lower()
        study_id = row.get("record_id", "")
        if "__error__" in row or "__errors__" in row:
            if "__error__" in row:
                self.problem(number, "", row["__error__"])
            for column, message in row.get("__errors__", ()):
                self.problem(number, column, message)
            if instrument == "" and study_id:
                self.failed.add(study_id)
                self.seen.setdefault(study_id, number)
            return
        if instrument not in INSTRUMENTS:
            self.problem(number, "redcap_repeat_instrument", f"{shown(instrument)} is not one of: (empty for the "
                                                             "patient row), treatment, biomarker, adverse_event.")
        elif not study_id:
            self.problem(number, "record_id", "is required (the patient's study ID).")
        elif instrument == "":
            self.read_patient(number, row, study_id)
        else:
            child, problems = READERS[instrument](self, number, row)
            self.problems.extend(problems)
            if not problems:
                child.study_id = study_id
                self.children.append(child)

    def read_patient(self, number, row, study_id):
        if study_id in self.seen:
            self.problem(number, "record_id", f"Study ID {_study_id_shown(study_id)} already has a patient row "
                                              f"(row {self.seen[study_id]}); give each patient one row.")
            return
        self.seen[study_id] = number
        cells = _Cells(number, row)
        site = self.sites.get(row.get("site", "").lower())
        if site is None:
            known = ", ".join(sorted(s.code for s in self.sites.values())) or "none yet"
            self.problem(number, "site", f"Unknown site {shown(row.get('site', ''))}; known site codes: {known}. "
                                         "Create the site in the admin first.")
        fields = {
            "sex": cells(parse_choice, "sex", choices.Sex, default=choices.Sex.UNKNOWN),
            "year_of_birth": cells(parse_int, "year_of_birth"),
            "tumour_type": cells(parse_choice, "tumour_type", choices.TumourType, required=True),
            "histology": row.get("histology", ""),
            "stage": row.get("stage", ""),
            "diagnosis_date": cells(parse_date, "diagnosis_date"),
            "ecog_baseline": cells(_choice_int, "ecog_baseline", choices.ECOG),
            "smoking_status": cells(parse_choice, "smoking_status", choices.SmokingStatus,
                                    default=choices.SmokingStatus.UNKNOWN),
        }
        identity = None
        if any(row.get(column) for column in IDENTITY_FIELDS):
            identity = self.read_identity(cells, row, fields["year_of_birth"])
        outcome = None
        last_contact = cells(parse_date, "last_contact_date")
        vital_status = cells(parse_choice, "vital_status", choices.VitalStatus, default=choices.VitalStatus.ALIVE)
        death = cells(parse_date, "death_date")
        progression = cells(parse_date, "clinical_progression_date")
        if last_contact:
            outcome = {"last_contact_date": last_contact, "vital_status": vital_status, "death_date": death,
                       "clinical_progression_date": progression}
        elif death or progression:
            cells.problems.append(Problem(number, "last_contact_date",
                                          "is required when a death or progression date is given."))
        if cells.problems or site is None:
            self.problems.extend(cells.problems)
            self.failed.add(study_id)
            return
        self.patient_rows[study_id] = PatientRow(number, study_id, site, fields, identity, outcome)

    def read_identity(self, cells, row, year_of_birth):
        """The identifying values, checked here with messages that name the column and never the value."""
        number = cells.number
        for column in ("mrn", "family_name", "given_name"):
            limit = PatientIdentity._meta.get_field(column).max_length
            if len(row.get(column, "")) > limit:
                cells.problems.append(Problem(number, column, f"is longer than {limit} characters."))
        date_of_birth = cells(parse_date, "date_of_birth")
        if date_of_birth and date_of_birth > self.today:
            cells.problems.append(Problem(number, "date_of_birth", "The date of birth is in the future."))
        elif date_of_birth and year_of_birth and date_of_birth.year != year_of_birth:
            cells.problems.append(Problem(number, "date_of_birth", "The year of the date of birth disagrees with "
                                                                   "year_of_birth."))
        mrn = row.get("mrn", "")
        if mrn:
            first = self.mrn_rows.setdefault(mrn, number)
            if first != number:
                cells.problems.append(Problem(number, "mrn", f"The same MRN is given for the patient of row {first}; "
                                                             "an MRN belongs to one patient."))
        return {"mrn": mrn, "family_name": row.get("family_name", ""), "given_name": row.get("given_name", ""),
                "date_of_birth": date_of_birth}

    def read_treatment(self, number, row):
        cells = _Cells(number, row)
        names = list(dict.fromkeys(n.strip() for n in row.get("agents", "").replace("+", ";").split(";")
                                   if n.strip()))
        drugs = []
        if not names:
            cells.problems.append(Problem(number, "agents", "is required: drug names separated by ';' (e.g. "
                                                            "'pembrolizumab; carboplatin')."))
        else:
            unknown = [n for n in names if n.lower() not in self.drugs]
            if unknown:
                listed = ", ".join(shown(n)[1:-1] for n in unknown[:10]) + (", …" if len(unknown) > 10 else "")
                cells.problems.append(Problem(number, "agents", f"Unknown drug(s): {listed}. Use the international "
                                                                "non-proprietary name, or add the drug in the admin."))
            drugs = [self.drugs[n.lower()] for n in names if n.lower() in self.drugs]
        line = cells(parse_int, "line_of_therapy")
        start = cells(parse_date, "start_date", required=True)
        fields = {"end_date": cells(parse_date, "end_date"),
                  "end_reason": cells(parse_choice, "end_reason", choices.EndReason)}
        line = 1 if line is None and not any(p.column == "line_of_therapy" for p in cells.problems) else line
        child = ChildRow(number, "treatment", "", (start, line), fields, frozenset(d.pk for d in drugs))
        return child, cells.problems

    def read_biomarker(self, number, row):
        cells = _Cells(number, row)
        kind = self.kinds.get(row.get("biomarker", "").lower())
        numeric, category = None, ""
        if kind is None:
            known = ", ".join(sorted(k.code for k in self.kinds_by_pk.values()))
            cells.problems.append(Problem(number, "biomarker", f"Unknown biomarker {shown(row.get('biomarker', ''))}; "
                                                               f"known codes: {known}."))
        elif kind.value_type == choices.BiomarkerValueType.NUMERIC:
            numeric = cells(parse_decimal, "value", what=f"a number ({kind.name} is numeric)")
        else:
            raw = row.get("value", "")
            category = next((c for c in kind.categories if c.lower() == raw.lower()), raw)
        measured_on = cells(parse_date, "measured_on", required=True)
        specimen = cells(parse_choice, "specimen", choices.Specimen, default=(kind.default_specimen if kind else ""))
        source = cells(parse_choice, "source", choices.BiomarkerSource, default=choices.BiomarkerSource.MEASURED)
        fields = {"value_numeric": numeric, "value_category": category, "assay": row.get("assay", "")}
        return ChildRow(number, "biomarker", "", (kind.pk if kind else None, measured_on, specimen, source), fields,
                        kind), cells.problems

    def read_adverse_event(self, number, row):
        cells = _Cells(number, row)
        onset = cells(parse_date, "ae_onset_date", required=True)
        grade = cells(parse_int, "ae_grade", required=True)
        if grade is not None and not 1 <= grade <= 5:
            cells.problems.append(Problem(number, "ae_grade", f"CTCAE grade must be 1 to 5, got {grade}."))
        term = cells(parse_choice, "ae_term", choices.AETerm, required=True)
        fields = {
            "grade": grade, "term_other": row.get("ae_term_other", ""),
            "resolution_date": cells(parse_date, "ae_resolution_date"),
            "corticosteroids": cells(parse_bool, "ae_corticosteroids"),
            "other_immunosuppressants": cells(parse_bool, "ae_immunosuppressants"),
            "ici_action": cells(parse_choice, "ae_ici_action", choices.ICIAction, default=choices.ICIAction.NONE),
        }
        return ChildRow(number, "adverse_event", "", (term, onset), fields), cells.problems

    # -- across rows and against the database -------------------------------------------------------------------
    def match(self):
        """``{study ID: Patient}`` (new, unsaved, or recorded) of every patient the file writes to; reports the rows
        naming no patient. One query per 10,000 study IDs."""
        wanted = set(self.patient_rows) | {c.study_id for c in self.children if c.study_id not in self.failed}
        by_study_id = defaultdict(list)
        for chunk in _chunks(sorted(wanted)):
            for patient in Patient.objects.filter(study_id__in=chunk).order_by():
                by_study_id[patient.study_id].append(patient)
        units = {}
        for study_id, prow in self.patient_rows.items():
            units[study_id] = next((p for p in by_study_id.get(study_id, []) if p.site_id == prow.site.pk), None) or (
                Patient(site=prow.site, study_id=study_id))
        kept = []
        for child in self.children:
            study_id = child.study_id
            if study_id not in units:
                if study_id in self.failed:
                    continue  # its patient row failed; that row's problems are reported
                matches = by_study_id.get(study_id, [])
                if len(matches) != 1:
                    reason = "exists at several sites" if matches else "has no patient row in this file or database"
                    self.problem(child.number, "record_id", f"Study ID {_study_id_shown(study_id)} {reason}.")
                    continue
                units[study_id] = matches[0]
            kept.append(child)
        self.children = kept
        return units

    def recorded(self, patients):
        """What the database holds for these recorded patients, keyed as the file's rows are (fixed queries)."""
        recorded = {"identity": {}, "outcome": {}, "regimens": defaultdict(dict), "agents": defaultdict(set),
                    "biomarkers": defaultdict(dict), "adverse_events": defaultdict(dict), "mrns": {}}
        by_pk = {p.pk: p for p in patients}
        for chunk in _chunks(sorted(by_pk)):
            for identity in PatientIdentity.objects.filter(patient_id__in=chunk).order_by():
                identity.patient = by_pk[identity.patient_id]
                recorded["identity"][identity.patient_id] = identity
            for outcome in Outcome.objects.filter(patient_id__in=chunk).order_by():
                outcome.patient = by_pk[outcome.patient_id]
                recorded["outcome"][outcome.patient_id] = outcome
            for regimen in TreatmentRegimen.objects.filter(patient_id__in=chunk).order_by():
                regimen.patient = by_pk[regimen.patient_id]
                recorded["regimens"][regimen.patient_id][(regimen.start_date, regimen.line_of_therapy)] = regimen
            for regimen_id, drug_id in TreatmentRegimen.agents.through.objects.filter(
                    treatmentregimen__patient_id__in=chunk).values_list("treatmentregimen_id", "drug_id"):
                recorded["agents"][regimen_id].add(drug_id)
            for biomarker in Biomarker.objects.filter(patient_id__in=chunk).order_by():
                biomarker.patient, biomarker.kind = by_pk[biomarker.patient_id], self.kinds_by_pk[biomarker.kind_id]
                key = (biomarker.kind_id, biomarker.measured_on, biomarker.specimen, biomarker.source)
                recorded["biomarkers"][biomarker.patient_id][key] = biomarker
            for event in AdverseEvent.objects.filter(patient_id__in=chunk).order_by():
                event.patient = by_pk[event.patient_id]
                recorded["adverse_events"][event.patient_id][(event.term, event.onset_date)] = event
        mrns = sorted(self.mrn_rows)
        for chunk in _chunks(mrns):
            recorded["mrns"].update(PatientIdentity.objects.filter(mrn__in=chunk).values_list("mrn", "patient_id"))
        return recorded

    def stage(self, model, number, recorded, make, fields, *, field_columns, exclude, agents_changed=False,
              identifying=False):
        """Plan a new row (``make()``) or the change of ``recorded`` to ``fields``, validated with ``full_clean``.

        Returns (instance, outcome): "created", "updated", "unchanged", or None when the row is invalid (its
        problems reported)."""
        if recorded is None:
            instance, outcome, checked, changed = make(), "created", None, None
        else:
            instance = recorded
            checked = {name: _value(instance, name) for name in fields}
            changed = [name for name, value in fields.items() if _differs(instance, name, value)]
            if not changed and not agents_changed:
                return instance, "unchanged"
            for name in changed:
                setattr(instance, name, fields[name])
            outcome = "updated"
        try:
            instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            problems = validation_problems(number, exc, field_columns)
            if identifying:  # the model's messages may quote the value
                problems = [Problem(p.row, p.column, IDENTITY_REFUSED if p.column in IDENTIFYING else p.message)
                            for p in problems]
            self.problems.extend(problems)
            return instance, None
        if outcome == "created":
            self.changes[model].created.append(instance)
        else:
            self.changes[model].updated.append((instance, checked, changed))
        return instance, outcome

    def patients(self, units, recorded):
        for study_id, prow in self.patient_rows.items():
            patient = units[study_id]
            number = prow.number
            if patient.pk is None:
                for name, value in prow.fields.items():
                    setattr(patient, name, value)
                _, outcome = self.stage(Patient, number, None, lambda p=patient: p, {},
                                        field_columns=PATIENT_FIELD_COLUMNS, exclude=["site"])
            else:
                _, outcome = self.stage(Patient, number, patient, None, prow.fields,
                                        field_columns=PATIENT_FIELD_COLUMNS, exclude=["site"])
            if outcome:
                self.report.count("patients", outcome)
            if prow.identity is not None:
                self.identity(prow, patient, recorded)
            if prow.outcome is not None:
                existing = recorded["outcome"].get(patient.pk)
                _, outcome = self.stage(Outcome, number, existing,
                                        lambda: Outcome(patient=patient, **prow.outcome), prow.outcome,
                                        field_columns=OUTCOME_FIELD_COLUMNS, exclude=["patient"])
                if outcome:
                    self.report.count("outcomes", "unchanged" if outcome == "unchanged" else "written")
                if outcome in ("created", "updated"):
                    self.announce[id(patient)] = patient

    def identity(self, prow, patient, recorded):
        mrn = prow.identity["mrn"]
        owner = recorded["mrns"].get(mrn) if mrn else None
        if owner is not None and owner != patient.pk:
            self.problem(prow.number, "mrn", "This MRN is already recorded for another patient.")
            return
        existing = recorded["identity"].get(patient.pk)
        _, outcome = self.stage(PatientIdentity, prow.number, existing,
                                lambda: PatientIdentity(patient=patient, **prow.identity), prow.identity,
                                field_columns=IDENTITY_FIELD_COLUMNS, exclude=["patient"], identifying=True)
        if outcome:
            self.report.count("identities", "unchanged" if outcome == "unchanged" else "written")

    def treatments(self, rows, units, recorded):
        """Plan the treatment lines; returns {id(patient): [regimens]} — recorded and new — for linking irAEs."""
        regimens = defaultdict(list)
        for patient in units.values():
            if patient.pk is not None:
                regimens[id(patient)].extend(recorded["regimens"].get(patient.pk, {}).values())
        first_row = {}
        for child in rows:
            patient = units[child.study_id]
            start, line = child.key
            key = (id(patient), start, line)
            if key in first_row:
                self.problem(child.number, "start_date", f"Treatment line {line} starting {start.isoformat()} is also "
                                                         f"in row {first_row[key]}; give each line once.")
                continue
            first_row[key] = child.number
            existing = recorded["regimens"].get(patient.pk, {}).get((start, line)) if patient.pk else None
            had = frozenset(recorded["agents"].get(existing.pk, ())) if existing else None
            regimen, outcome = self.stage(
                TreatmentRegimen, child.number, existing,
                lambda: TreatmentRegimen(patient=patient, start_date=start, line_of_therapy=line, **child.fields),
                child.fields, field_columns=REGIMEN_FIELD_COLUMNS, exclude=["patient"],
                agents_changed=had is not None and had != child.extra)
            if existing is None:
                regimens[id(patient)].append(regimen)
            if outcome:
                self.report.count("regimens", outcome)
            if outcome in ("created", "updated"):
                if had != child.extra:
                    self.agents.append(services.AgentChanges(regimen, child.extra, had))
                self.announce[id(patient)] = patient
        return regimens

    def biomarkers(self, rows, units, recorded):
        first_row = {}
        for child in rows:
            patient = units[child.study_id]
            kind = child.extra
            key = (id(patient), *child.key)
            if key in first_row:
                self.problem(child.number, "measured_on", f"This {kind.name} result (same date, specimen and source) "
                                                          f"is also in row {first_row[key]}; give each result once.")
                continue
            first_row[key] = child.number
            _, measured_on, specimen, source = child.key
            existing = recorded["biomarkers"].get(patient.pk, {}).get(child.key) if patient.pk else None
            _, outcome = self.stage(
                Biomarker, child.number, existing,
                lambda: Biomarker(patient=patient, kind=kind, measured_on=measured_on, specimen=specimen,
                                  source=source, **child.fields),
                child.fields, field_columns=BIOMARKER_FIELD_COLUMNS, exclude=["patient", "kind"])
            if outcome:
                self.report.count("biomarkers", outcome)

    def adverse_events(self, rows, units, recorded, regimens):
        first_row = {}
        for child in rows:
            patient = units[child.study_id]
            term, onset = child.key
            key = (id(patient), term, onset)
            if key in first_row:
                self.problem(child.number, "ae_onset_date", f"This adverse event (same term and onset) is also in "
                                                            f"row {first_row[key]}; give each irAE once.")
                continue
            first_row[key] = child.number
            # linked to the regimen that started most recently before its onset (recorded or in this file)
            started = [r for r in regimens.get(id(patient), ()) if r.start_date <= onset]
            regimen = max(started, key=lambda r: (r.start_date, r.line_of_therapy), default=None)
            fields = {**child.fields, "regimen": regimen}
            existing = recorded["adverse_events"].get(patient.pk, {}).get(child.key) if patient.pk else None
            _, outcome = self.stage(
                AdverseEvent, child.number, existing,
                lambda: AdverseEvent(patient=patient, term=term, onset_date=onset, **fields),
                fields, field_columns=AE_FIELD_COLUMNS, exclude=["patient", "regimen"])
            if outcome:
                self.report.count("adverse events", outcome)
            if outcome in ("created", "updated"):
                self.announce[id(patient)] = patient

    def scrubbed(self, problems):
        """The problems, with any message that would quote an identifying value of the file replaced (a value
        in the wrong column, a study ID that is an MRN): the messages name columns, and should never need this."""
        if not self.secrets:
            return problems
        clean = []
        for problem in problems:
            text = problem.message.lower()
            leaks = any(value in self.secrets for value in _QUOTED.findall(text)) or any(
                token in self.secrets for token in _TOKEN.findall(text)) or any(
                re.search(rf"(?<!\w){re.escape(value)}(?!\w)", text) for value in self.row_secrets.get(problem.row, ()))
            clean.append(Problem(problem.row, problem.column, NOT_SHOWN) if leaks else problem)
        return clean


READERS = {"treatment": ClinicalCheck.read_treatment, "biomarker": ClinicalCheck.read_biomarker,
           "adverse_event": ClinicalCheck.read_adverse_event}


class _Cells:
    """Parse cells of one row, collecting every wrong cell's problem (not only the first)."""

    def __init__(self, number, row):
        self.number, self.row, self.problems = number, row, []

    def __call__(self, parse, *args, **kwargs):
        try:
            return parse(self.row, *args, **kwargs)
        except RowError as exc:
            self.problems.append(Problem(self.number, exc.column, exc.message))
            return None


def _chunks(values, size=10_000):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _choice_int(row, column, choice_class):
    value = parse_int(row, column)
    if value is not None and value not in choice_class.values:
        raise RowError(column, f"'{value}' is not one of: {', '.join(str(v) for v in choice_class.values)}.")
    return value


def _value(instance, name):
    field = instance._meta.get_field(name)
    return getattr(instance, field.attname)


def _differs(instance, name, value):
    field = instance._meta.get_field(name)
    if field.is_relation:
        return value is None and getattr(instance, field.attname) is not None or (
            value is not None and (value.pk is None or value.pk != getattr(instance, field.attname)))
    return getattr(instance, name) != value
