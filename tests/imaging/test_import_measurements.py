"""import_measurements: a RECIST CRF in, timepoints and lesions created as needed, all-or-nothing with every problem
reported by row and column, idempotent with history, and one response recomputation per patient."""
import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.models import ResponseAssessment, TimepointResponse
from imaging.models import Lesion, LesionMeasurement, Timepoint
from imaging.services import measurements_import
from imaging.services.measurement_import import COLUMNS
from patients.models import ImportRun
from tests.factories import (
    LesionFactory,
    MeasurementFactory,
    PatientFactory,
    RegimenFactory,
    SiteFactory,
    TimepointFactory,
)

pytestmark = pytest.mark.django_db
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
BASELINE, FOLLOW_UP, LATER = "2024-01-05", "2024-03-01", "2024-05-02"
MODELS = [Timepoint, Lesion, LesionMeasurement]


def crf(rows, columns=COLUMNS):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue().encode()


def course(study_id, follow_up=(20, 14), nt="present"):
    """Baseline T1 30 mm (lung) + T2 20 mm (liver) + NT1 (bone); one follow-up. 50 -> 34 mm is a PR (-32 %)."""
    return [
        {"record_id": study_id, "assessment_date": BASELINE, "lesion": "T1", "organ": "lung", "lesion_kind": "target",
         "size_mm": "30"},
        {"record_id": study_id, "assessment_date": BASELINE, "lesion": "T2", "organ": "liver",
         "lesion_kind": "target", "size_mm": "20"},
        {"record_id": study_id, "assessment_date": BASELINE, "lesion": "NT1", "organ": "bone",
         "lesion_kind": "non_target", "nontarget_status": "present"},
        {"record_id": study_id, "assessment_date": FOLLOW_UP, "lesion": "T1", "size_mm": str(follow_up[0])},
        {"record_id": study_id, "assessment_date": FOLLOW_UP, "lesion": "T2", "size_mm": str(follow_up[1])},
        {"record_id": study_id, "assessment_date": FOLLOW_UP, "lesion": "NT1", "nontarget_status": nt},
    ]


def snapshot():
    """Every row of the tables an import writes (and their history counts), to compare database states."""
    state = {}
    for model in MODELS:
        state[model.__name__] = sorted(map(str, model.objects.values_list()))
        state[model.__name__ + " history"] = model.history.count()
    state["assessments"] = sorted(map(str, ResponseAssessment.objects.values_list(
        "pk", "generation", "status", "recist_bor")))
    state["timepoint responses"] = TimepointResponse.objects.count()
    return state


@pytest.fixture
def patients(django_capture_on_commit_callbacks):
    """P-1, P-2, P-3 at site A, each on pembrolizumab from 2024-01-10 (their response assessments exist, done)."""
    with django_capture_on_commit_callbacks(execute=True):
        site = SiteFactory(code="A")
        out = []
        for study_id in ("P-1", "P-2", "P-3"):
            patient = PatientFactory(site=site, study_id=study_id)
            RegimenFactory(patient=patient, start_date=dt.date(2024, 1, 10))
            out.append(patient)
    return out


@pytest.fixture
def sent(monkeypatch):
    """The (task, pk) of every task sent (the tasks still run: in-process, as without a broker)."""
    from radimmuno import jobs

    calls, send = [], jobs.send_task

    def recording(task_name, pk):
        calls.append((task_name, pk))
        return send(task_name, pk)

    monkeypatch.setattr(jobs, "send_task", recording)
    return calls


def run(data, *, capture, dry_run=False, user=None, filename="crf.csv"):
    with capture(execute=True):
        return measurements_import(data=data, filename=filename, dry_run=dry_run, user=user)


# -- the example and idempotency --------------------------------------------------------------------------------
def test_the_documented_example_after_the_clinical_example(django_capture_on_commit_callbacks, sent):
    with django_capture_on_commit_callbacks(execute=True):
        SiteFactory(code="DEMO-A")
        call_command("import_clinical", str(EXAMPLES / "clinical_import_example.csv"), stdout=io.StringIO())
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_measurements", str(EXAMPLES / "measurements_import_example.csv"), stdout=out)
    assert "Import applied." in out.getvalue()
    assert "timepoints created: 8" in out.getvalue() and "measurements created: 28" in out.getvalue()
    kinds = list(Timepoint.objects.filter(patient__study_id="LUNG-001").order_by("date").values_list("kind", flat=True))
    assert kinds == ["pre-baseline", "baseline", "follow-up", "follow-up", "follow-up"]
    assert set(Timepoint.objects.filter(patient__study_id="MEL-002").values_list("kind", flat=True)) == {
        "baseline", "follow-up"}
    assert all(t.regimen is not None for t in Timepoint.objects.all())
    node = Lesion.objects.get(patient__study_id="LUNG-001", label="N1")
    assert node.nodal and node.organ == "lymph_node" and node.location == "subcarinal"
    new = Lesion.objects.get(label="NL1")
    assert new.role == "new" and new.appeared_at.date == dt.date(2023, 8, 22)
    results = {a.patient.study_id: (a.status, a.recist_bor, a.irecist_ibor) for a in ResponseAssessment.objects.all()}
    assert results == {"LUNG-001": ("done", "PR", "iPR"), "MEL-002": ("done", "CR", "iCR")}

    once, sent[:] = snapshot(), []
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_measurements", str(EXAMPLES / "measurements_import_example.csv"), stdout=out)
    assert snapshot() == once  # twice is the same as once: no row, no history row, nothing recomputed
    assert sent == []
    assert ImportRun.objects.filter(kind="measurements", status="applied").count() == 2
    assert ImportRun.objects.latest("created_at").summary == {"timepoints unchanged": 8, "lesions unchanged": 8,
                                                             "measurements unchanged": 28}


def test_a_changed_value_updates_the_row_and_its_history_shows_before_and_after(patients,
                                                                              django_capture_on_commit_callbacks):
    rows = course("P-1")
    run(crf(rows), capture=django_capture_on_commit_callbacks)
    assert ResponseAssessment.objects.get(patient=patients[0]).recist_bor == "PR"
    rows[3]["size_mm"] = "33.5"  # T1 grows at the follow-up: 47.5 mm against 50, and the nadir is the baseline
    rows[0]["location"] = "right upper lobe"
    report = run(crf(rows), capture=django_capture_on_commit_callbacks)
    assert report.counts == {"timepoints unchanged": 2, "lesions updated": 1, "lesions unchanged": 2,
                             "measurements updated": 1, "measurements unchanged": 5}
    measurement = LesionMeasurement.objects.get(lesion__label="T1", timepoint__date=FOLLOW_UP)
    assert measurement.version == 2  # raised by the bulk update: an editor who opened the cell before is told
    latest = measurement.history.first()
    assert latest.history_type == "~" and latest.history_change_reason == "import_measurements crf.csv"
    diff = latest.diff_against(latest.prev_record)
    assert [(c.field, c.old, c.new) for c in diff.changes] == [("size_mm", Decimal("20.00"), Decimal("33.50"))]
    lesion = Lesion.objects.get(patient=patients[0], label="T1")
    assert lesion.location == "right upper lobe" and lesion.history.count() == 2
    assert ResponseAssessment.objects.get(patient=patients[0]).recist_bor == "SD"  # recomputed after the update


def test_history_rows_are_those_simple_history_writes(patients, django_capture_on_commit_callbacks, curator):
    run(crf(course("P-1")), capture=django_capture_on_commit_callbacks, user=curator)
    for model in MODELS:
        fields = [f.attname for f in model.history.model.tracked_fields]
        rows = sorted(model.objects.values_list(*fields))
        history = model.history.filter(history_type="+")
        assert sorted(history.values_list(*fields)) == rows and rows
        assert set(history.values_list("history_user", "history_change_reason")) == {
            (curator.pk, "import_measurements crf.csv")}
    measurement = LesionMeasurement.objects.filter(recorded_by=curator).first()
    assert measurement is not None and measurement.recorded_at is not None


# -- timepoints and lesions -------------------------------------------------------------------------------------
def test_the_timepoint_kind(patients, django_capture_on_commit_callbacks):
    """Without timepoint_kind: the earliest date is the baseline, later ones follow-ups; a recorded baseline stays
    the baseline (an earlier new date is pre-baseline); timepoint_kind given wins, also over a recorded kind."""
    run(crf(course("P-1")), capture=django_capture_on_commit_callbacks)
    assert dict(Timepoint.objects.values_list("date", "kind")) == {dt.date(2024, 1, 5): "baseline",
                                                                   dt.date(2024, 3, 1): "follow-up"}
    rows = [{"record_id": "P-1", "assessment_date": "2023-11-20", "lesion": "T1", "size_mm": "26"},
            {"record_id": "P-1", "assessment_date": LATER, "lesion": "T1", "size_mm": "18"}]
    run(crf(rows), capture=django_capture_on_commit_callbacks)
    assert Timepoint.objects.get(date="2023-11-20").kind == "pre-baseline"
    assert Timepoint.objects.get(date=LATER).kind == "follow-up"
    rows = [{"record_id": "P-1", "assessment_date": LATER, "lesion": "T1", "size_mm": "18",
             "timepoint_kind": "unscheduled"}]
    report = run(crf(rows), capture=django_capture_on_commit_callbacks)
    assert report.counts["timepoints updated"] == 1
    timepoint = Timepoint.objects.get(date=LATER)
    assert timepoint.kind == "unscheduled" and timepoint.history.first().prev_record.kind == "follow-up"
    # P-2 declares its baseline: the earlier scan without a kind is then pre-baseline
    rows = [{"record_id": "P-2", "assessment_date": "2023-10-01", "lesion": "T1", "organ": "lung",
             "lesion_kind": "target", "size_mm": "20"},
            {"record_id": "P-2", "assessment_date": BASELINE, "lesion": "T1", "size_mm": "24",
             "timepoint_kind": "baseline"}]
    run(crf(rows), capture=django_capture_on_commit_callbacks)
    kinds = dict(Timepoint.objects.filter(patient=patients[1]).values_list("date", "kind"))
    assert kinds == {dt.date(2023, 10, 1): "pre-baseline", dt.date(2024, 1, 5): "baseline"}


def test_new_lesions_appear_at_their_first_reading(patients, django_capture_on_commit_callbacks):
    rows = course("P-1") + [
        {"record_id": "P-1", "assessment_date": LATER, "lesion": "NL1", "size_mm": "0",
         "measurement_status": "disappeared"},
        {"record_id": "P-1", "assessment_date": FOLLOW_UP, "lesion": "NL1", "organ": "liver", "lesion_kind": "new",
         "size_mm": "12", "equivocal": "yes"},
    ]
    run(crf(rows), capture=django_capture_on_commit_callbacks)
    lesion = Lesion.objects.get(label="NL1")
    assert lesion.appeared_at.date == dt.date(2024, 3, 1) and lesion.equivocal and not lesion.nodal
    assert lesion.measurements.count() == 2


def test_a_study_id_at_two_sites_needs_the_site_column(patients, django_capture_on_commit_callbacks):
    other = PatientFactory(site=SiteFactory(code="B"), study_id="P-1")
    RegimenFactory(patient=other, start_date=dt.date(2024, 1, 10))
    report = run(crf(course("P-1")[:1]), capture=django_capture_on_commit_callbacks)
    assert [(p.row, p.column) for p in report.problems] == [(2, "record_id")]
    assert "exists at several sites; add a 'site' column" in report.problems[0].message
    rows = [dict(r, site="b") for r in course("P-1")]
    assert run(crf(rows), capture=django_capture_on_commit_callbacks).ok
    assert Lesion.objects.filter(patient=other).count() == 3 and not Lesion.objects.filter(patient=patients[0])


# -- problems: all reported, nothing written --------------------------------------------------------------------
def test_every_problem_is_reported_by_row_and_column_and_nothing_is_written(patients,
                                                                           django_capture_on_commit_callbacks,
                                                                           sent):
    run(crf(course("P-1")), capture=django_capture_on_commit_callbacks)
    before, sent[:] = snapshot(), []

    def r(study_id, date, lesion, **values):
        return {"record_id": study_id, "assessment_date": date, "lesion": lesion, **values}

    rows = [
        r("P-2", BASELINE, "T1", organ="lung", lesion_kind="target", size_mm="30"),             # 2: fine
        r("GHOST", BASELINE, "T1", organ="lung", lesion_kind="target", size_mm="30"),           # 3
        r("P-2", "05/01/2024", "T1", size_mm="30"),                                              # 4
        r("P-2", BASELINE, "NT9", organ="spleenish", lesion_kind="non_target",
          nontarget_status="present"),                                                           # 5
        r("P-1", LATER, "T1", organ="liver", size_mm="20"),                                      # 6: T1 is lung
        r("P-1", LATER, "T2", lesion_kind="non_target", nontarget_status="present"),             # 7: T2 is a target
        r("P-2", BASELINE, "T2", organ="liver", lesion_kind="target", size_mm="abc"),            # 8
        r("P-2", BASELINE, "T3", organ="liver", lesion_kind="target", size_mm="-3"),             # 9
        r("P-2", BASELINE, "T4", organ="liver", lesion_kind="target"),                           # 10: no size
        r("P-2", FOLLOW_UP, "T1", size_mm="25", nontarget_status="present"),                     # 11
        r("P-2", BASELINE, "T1", size_mm="31"),                                                  # 12: twice
        r("P-2", BASELINE, "NT1", organ="bone", lesion_kind="non_target"),                       # 13: no status
        r("P-2", BASELINE, "T5", organ="lung", lesion_kind="non_target", nontarget_status="present"),  # 14
        r("P-2", FOLLOW_UP, "T5", organ="kidney", nontarget_status="present"),                   # 15: organ differs
        r("P-2", BASELINE, "NL1", organ="liver", lesion_kind="new", size_mm="12"),               # 16: new at baseline
        r("P-2", BASELINE, "T6", organ="adrenal", lesion_kind="target", size_mm="5"),            # 17: not measurable
        r("P-2", BASELINE, "T7", organ="bone", lesion_kind="target", size_mm="NaN"),             # 18
        r("P-2", LATER, "T1", size_mm="22", timepoint_kind="follow-up"),                         # 19
        r("P-2", LATER, "T4", size_mm="22", timepoint_kind="baseline"),                          # 20: other kind
        r("P-3", BASELINE, "T1", organ="lung", lesion_kind="target", size_mm="30"),              # 21
        r("P-3", BASELINE, "T2", organ="lung", lesion_kind="target", size_mm="25"),              # 22
        r("P-3", BASELINE, "T3", organ="lung", lesion_kind="target", size_mm="20"),              # 23: 3rd lung target
        r("P-3", BASELINE, "NT1", organ="bone", lesion_kind="non_target", measurement_status="gone"),  # 24
        r("P-3", BASELINE, "N1", organ="lymph_node", lesion_kind="non_target", is_node="maybe",
          size_mm="12"),                                                                         # 25
        r("P-3", BASELINE, "T9", site="B", organ="lung", lesion_kind="target", size_mm="30"),    # 26: no such site
        r("P-3", BASELINE, "T10", organ="kidney", lesion_kind="target", size_mm="12.345"),       # 27: 3 decimals
    ]
    report = run(crf(rows), capture=django_capture_on_commit_callbacks)
    found = {(p.row, p.column) for p in report.problems}
    assert found == {
        (3, "record_id"), (4, "assessment_date"), (5, "organ"), (6, "organ"), (7, "lesion_kind"), (8, "size_mm"),
        (9, "size_mm"), (10, "size_mm"), (11, "nontarget_status"), (12, "lesion"), (13, "nontarget_status"),
        (15, "organ"), (16, "lesion_kind"), (17, "size_mm"), (18, "size_mm"), (20, "timepoint_kind"),
        (23, "lesion_kind"), (24, "measurement_status"), (25, "is_node"), (26, "site"), (27, "size_mm"),
    }
    messages = {(p.row, p.column): p.message for p in report.problems}
    assert "Study ID GHOST is not a patient in the database" in messages[3, "record_id"]
    assert "use YYYY-MM-DD" in messages[4, "assessment_date"]
    assert "'spleenish' is not one of: lung, liver" in messages[5, "organ"]
    assert "recorded with organ lung; this file says liver" in messages[6, "organ"]
    assert "recorded with kind target; this file says non-target" in messages[7, "lesion_kind"]
    assert "'abc' is not a number" in messages[8, "size_mm"]
    assert "cannot be negative" in messages[9, "size_mm"]
    assert "Target lesion T4 needs its size in mm" in messages[10, "size_mm"]
    assert "T1 is a target lesion" in messages[11, "nontarget_status"]
    assert "read twice on 2024-01-05 (rows 2 and 12)" in messages[12, "lesion"]
    assert "organ lung in row 14 and kidney here" in messages[15, "organ"]
    assert "first read at the baseline assessment" in messages[16, "lesion_kind"]
    assert "≥ 10 mm at baseline (got 5 mm)" in messages[17, "size_mm"]
    assert "not a finite number" in messages[18, "size_mm"]
    assert "'follow-up' in row 19 and 'baseline' here" in messages[20, "timepoint_kind"]
    assert "at most 2 target lesions per organ; lung already has T1, T2" in messages[23, "lesion_kind"]
    assert "no patient at site 'B'" in messages[26, "site"]
    assert "decimal places" in messages[27, "size_mm"]
    assert snapshot() == before and sent == []
    run_row = ImportRun.objects.latest("created_at")
    assert (run_row.kind, run_row.status, len(run_row.problems)) == ("measurements", "rejected", len(found))


def test_one_bad_row_among_good_ones_writes_nothing(patients, django_capture_on_commit_callbacks, sent):
    before = snapshot()
    rows = course("P-1") + course("P-2") + course("P-3")
    rows.insert(7, {"record_id": "P-2", "assessment_date": FOLLOW_UP, "lesion": "T2", "size_mm": "-1"})
    report = run(crf(rows), capture=django_capture_on_commit_callbacks)
    assert [(p.row, p.column) for p in report.problems] == [(9, "size_mm")]
    assert snapshot() == before and sent == []
    assert (Timepoint.objects.count(), Lesion.objects.count(), LesionMeasurement.objects.count()) == (0, 0, 0)
    assert (Timepoint.history.count(), Lesion.history.count(), LesionMeasurement.history.count()) == (0, 0, 0)
    assert ImportRun.objects.get().status == "rejected"


def test_the_header_and_the_file(patients, django_capture_on_commit_callbacks):
    header = ["record_id", "lesion", "size_mm", "colour", "size_mm", "redcap_event_name", "recist_complete"]
    report = run(b",".join(h.encode() for h in header) + b"\nP-1,T1,30,red,30,,\n",
                 capture=django_capture_on_commit_callbacks)
    assert [(p.row, p.column) for p in report.problems] == [(1, "assessment_date"), (1, "colour"), (1, "size_mm")]
    report = run(b"\xff\xfe\x00garbage", capture=django_capture_on_commit_callbacks)
    assert "not UTF-8" in report.problems[0].message
    rows = [dict(r, redcap_repeat_instrument="recist", redcap_repeat_instance="1") for r in course("P-1")]
    columns = [*COLUMNS, "redcap_repeat_instrument", "redcap_repeat_instance", "recist_complete"]
    assert run(crf(rows, columns), capture=django_capture_on_commit_callbacks).ok  # REDCap's columns are ignored


def test_dry_run_writes_nothing(patients, django_capture_on_commit_callbacks, sent):
    before = snapshot()
    report = run(crf(course("P-1")), capture=django_capture_on_commit_callbacks, dry_run=True)
    assert report.ok and report.counts["measurements created"] == 6
    assert snapshot() == before and sent == []
    assert ImportRun.objects.get().status == "dry-run"


def test_xlsx_gives_the_same_rows_as_csv(patients, django_capture_on_commit_callbacks, tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in csv.reader(io.StringIO(crf(course("P-1")).decode())):
        sheet.append(row)
    path = tmp_path / "crf.xlsx"
    workbook.save(path)
    report = run(path.read_bytes(), capture=django_capture_on_commit_callbacks, filename="crf.xlsx")
    assert report.counts["measurements created"] == 6
    assert run(crf(course("P-1")), capture=django_capture_on_commit_callbacks).counts == {
        "timepoints unchanged": 2, "lesions unchanged": 3, "measurements unchanged": 6}


# -- recomputation once per patient -----------------------------------------------------------------------------
@pytest.fixture
def recomputed(monkeypatch):
    """The assessment pks recomputed, in order (the in-process path computes them without sending tasks)."""
    from analytics.services import response as response_services

    calls, recompute = [], response_services.response_recompute

    def recording(assessment, **kwargs):
        calls.append(assessment.pk)
        return recompute(assessment, **kwargs)

    monkeypatch.setattr(response_services, "response_recompute", recording)
    return calls


def test_a_three_patient_import_recomputes_each_patient_once(patients, django_capture_on_commit_callbacks, sent,
                                                             recomputed):
    rows = course("P-1") + course("P-2", follow_up=(40, 30)) + course("P-3", nt="unequivocal_progression")
    report = run(crf(rows), capture=django_capture_on_commit_callbacks)
    assert report.counts["measurements created"] == 18
    assessments = {a.pk: a for a in ResponseAssessment.objects.select_related("patient")}
    assert sorted(recomputed) == sorted(assessments) and len(recomputed) == 3  # 18 rows, 3 patients, 3 runs
    assert not [pk for task, pk in sent if task == "analytics.recompute_response"]  # in one pass, no tasks
    results = {a.patient.study_id: (a.status, a.recist_bor) for a in assessments.values()}
    assert results == {"P-1": ("done", "PR"), "P-2": ("done", "PD"), "P-3": ("done", "PD")}
    follow_up = TimepointResponse.objects.get(assessment__patient=patients[0], criteria="recist1.1",
                                              timepoint__date=FOLLOW_UP)
    assert (follow_up.target_sum_mm, follow_up.pct_change_from_baseline) == (Decimal("34.00"), -32.0)

    recomputed.clear()  # one patient's value changes: only that patient is recomputed
    rows[3]["size_mm"] = "21"
    run(crf(rows), capture=django_capture_on_commit_callbacks)
    assert recomputed == [ResponseAssessment.objects.get(patient=patients[0]).pk]


def test_with_a_broker_each_patients_assessment_is_enqueued_once(patients, django_capture_on_commit_callbacks, sent,
                                                                 settings, monkeypatch):
    from radimmuno import jobs

    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(jobs, "send_task", lambda task_name, pk: sent.append((task_name, pk)))  # no broker here
    rows = course("P-1") + course("P-2", follow_up=(40, 30)) + course("P-3", nt="unequivocal_progression")
    run(crf(rows), capture=django_capture_on_commit_callbacks)
    enqueued = sorted(pk for task, pk in sent if task == "analytics.recompute_response")
    assert enqueued == sorted(ResponseAssessment.objects.values_list("pk", flat=True)) and len(enqueued) == 3
    assert set(ResponseAssessment.objects.values_list("status", flat=True)) == {"pending"}


def test_analytics_is_asked_once_per_patient_not_once_per_row(patients, django_capture_on_commit_callbacks,
                                                              monkeypatch):
    from analytics import receivers

    requests = []
    monkeypatch.setattr(receivers, "response_request", lambda *, patient: requests.append(patient.pk))
    monkeypatch.setattr(receivers, "response_request_patients",
                        lambda *, patient_ids: requests.extend(sorted(patient_ids)))
    rows = course("P-1") + course("P-2") + course("P-1", follow_up=(21, 14))[3:4]  # P-1's T1 twice: a problem
    assert not run(crf(rows), capture=django_capture_on_commit_callbacks).ok
    assert requests == []  # rejected: nothing to recompute
    report = run(crf(course("P-1") + course("P-2")), capture=django_capture_on_commit_callbacks)
    assert report.counts["measurements created"] == 12
    assert requests == [patients[0].pk, patients[1].pk]


def test_the_import_reads_each_table_once_whatever_the_number_of_patients(db, django_capture_on_commit_callbacks):
    site = SiteFactory(code="Q")

    def queries(study_ids):
        for study_id in study_ids:
            RegimenFactory(patient=PatientFactory(site=site, study_id=study_id), start_date=dt.date(2024, 1, 10))
        data = crf([row for study_id in study_ids for row in course(study_id)])
        from imaging import signals

        signals_before = signals.lesion_data_imported.receivers
        signals.lesion_data_imported.receivers = []  # count the import's own queries, not the recomputation's
        try:
            with CaptureQueriesContext(connection) as ctx:
                assert measurements_import(data=data, filename="crf.csv").ok
        finally:
            signals.lesion_data_imported.receivers = signals_before
        return len(ctx.captured_queries)

    assert queries(["Q-1", "Q-2"]) == queries([f"Q-{i}" for i in range(3, 13)])


# -- interfaces -------------------------------------------------------------------------------------------------
def test_the_command_exits_non_zero_with_the_report(patients, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(crf([{"record_id": "P-1", "assessment_date": BASELINE, "lesion": "T1", "organ": "lungs",
                          "lesion_kind": "target", "size_mm": "30"}]))
    err = io.StringIO()
    with pytest.raises(CommandError, match="Import rejected"):
        call_command("import_measurements", str(bad), stdout=io.StringIO(), stderr=err)
    assert "row 2, column 'organ': 'lungs' is not one of: lung, liver" in err.getvalue()
    assert not Timepoint.objects.exists()
    good = tmp_path / "good.csv"
    good.write_bytes(crf(course("P-1")))
    out = io.StringIO()
    call_command("import_measurements", str(good), "--dry-run", stdout=out)
    assert "Dry run: the file is valid; nothing was written." in out.getvalue() and not Timepoint.objects.exists()
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_measurements", str(tmp_path / "missing.csv"))


def test_the_page_full_and_htmx(client, curator, patients, htmx_headers, django_capture_on_commit_callbacks):
    client.force_login(curator)
    page = client.get("/imaging/import/measurements/")
    content = page.content.decode()
    assert page.status_code == 200 and "<html" in content and "Recent imports" in content
    assert 'href="/imaging/import/measurements/"' in content  # the navigation links the page
    assert 'name="measurements-file"' in content and 'name="features-profile"' in content
    upload = io.BytesIO(crf(course("P-1")))
    upload.name = "crf.csv"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/imaging/import/measurements/", {"import": "measurements",
                                                                 "measurements-file": upload}, **htmx_headers)
    assert response.status_code == 200
    assert b"<html" not in response.content and b"Imported" in response.content
    assert b"measurements created: 6" in response.content
    assert ImportRun.objects.get().started_by == curator and ImportRun.objects.get().kind == "measurements"
    assert LesionMeasurement.objects.filter(recorded_by=curator).count() == 6
    assert ResponseAssessment.objects.get(patient=patients[0]).recist_bor == "PR"
    assert "crf.csv" in client.get("/imaging/import/measurements/").content.decode()  # in the recent imports


def test_the_page_shows_problems(client, curator, patients):
    client.force_login(curator)
    bad = io.BytesIO(crf([{"record_id": "P-1", "assessment_date": "yesterday", "lesion": "T1", "organ": "lung",
                           "lesion_kind": "target", "size_mm": "30"}]))
    bad.name = "bad.csv"
    response = client.post("/imaging/import/measurements/", {"import": "measurements", "measurements-file": bad})
    content = response.content.decode()
    assert response.status_code == 200 and "<html" in content
    assert "Rejected: 1 problem, nothing was written" in content and "assessment_date" in content
    assert not Timepoint.objects.exists()
    response = client.post("/imaging/import/measurements/", {"import": "measurements"})  # no file: the form says so
    assert response.status_code == 200 and "This field is required" in response.content.decode()


def test_the_page_needs_permission(client_logged_in):
    assert client_logged_in.get("/imaging/import/measurements/").status_code == 403
    assert b"/imaging/import/measurements/" not in client_logged_in.get("/patients/").content


def test_existing_measurements_of_other_sources_are_matched(patients, django_capture_on_commit_callbacks):
    """A reading entered in the app is the same row as the file's reading of that lesion and date."""
    baseline = TimepointFactory(patient=patients[0], date=dt.date(2024, 1, 5), kind="baseline")
    t1 = LesionFactory(patient=patients[0], label="T1", organ="lung", role="target")
    MeasurementFactory(lesion=t1, timepoint=baseline, size_mm=Decimal("30"))
    report = run(crf(course("P-1")), capture=django_capture_on_commit_callbacks)
    assert report.counts["measurements unchanged"] == 1 and report.counts["measurements created"] == 5
    assert report.counts["timepoints unchanged"] == 1 and report.counts["lesions unchanged"] == 1
