"""import_features: externally computed features in long format, attached to an external profile, all-or-nothing,
idempotent, with a fixed number of queries whatever the file's size."""
import csv
import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from imaging.models import ExternalFeatureSet, ExtractionProfile
from imaging.services import features_import
from imaging.services.feature_import import COLUMNS
from imaging.signals import features_imported
from patients.models import ImportRun
from tests.factories import LesionFactory, PatientFactory, SiteFactory, TimepointFactory

pytestmark = pytest.mark.django_db
BASELINE, FOLLOW_UP = dt.date(2024, 1, 5), dt.date(2024, 3, 1)


def long_file(rows, columns=COLUMNS):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue().encode()


def values(study_id, lesion, date, features, region=None):
    return [{"record_id": study_id, "lesion": lesion, "assessment_date": date.isoformat(), "feature": name,
             "value": value, **({"region": region} if region else {})} for name, value in features.items()]


@pytest.fixture
def recorded(db):
    """P-1 and P-2, each with lesions T1, T2 and a baseline and a follow-up assessment."""
    site = SiteFactory(code="A")
    for study_id in ("P-1", "P-2"):
        patient = PatientFactory(site=site, study_id=study_id)
        TimepointFactory(patient=patient, date=BASELINE, kind="baseline")
        TimepointFactory(patient=patient, date=FOLLOW_UP, kind="follow-up")
        LesionFactory(patient=patient, label="T1", organ="lung")
        LesionFactory(patient=patient, label="T2", organ="liver")
    return site


@pytest.fixture
def announced():
    """The patient ids of every features_imported signal."""
    calls = []

    def receiver(sender, patient_ids, **kwargs):
        calls.append(set(patient_ids))

    features_imported.connect(receiver, weak=False)
    yield calls
    features_imported.disconnect(receiver)


FEATURES = {"original_shape_MeshVolume": "4123.5", "original_firstorder_Mean": "-12.25",
            "original_glcm_Contrast": "3.0e-2"}


def good_rows():
    return (values("P-1", "T1", BASELINE, FEATURES) + values("P-1", "T1", FOLLOW_UP, FEATURES)
            + values("P-1", "T2", BASELINE, FEATURES, region="ring_0-3mm") + values("P-2", "T1", BASELINE, FEATURES))


def state():
    return (sorted(map(str, ExternalFeatureSet.objects.values_list("lesion_id", "timepoint_id", "profile_id",
                                                                     "region", "features", "feature_count",
                                                                     "import_run_id", "imported_at"))),
            sorted(map(str, ExtractionProfile.objects.values_list())))


def run(data, django_capture_on_commit_callbacks, **options):
    options.setdefault("profile", "lifex-ct")
    with django_capture_on_commit_callbacks(execute=True):
        return features_import(data=data, filename="features.csv", **options)


def test_features_go_to_an_external_profile_created_on_first_use(recorded, django_capture_on_commit_callbacks,
                                                                 announced):
    report = run(long_file(good_rows()), django_capture_on_commit_callbacks, description="LIFEx 7.6, CT, bin 25 HU")
    assert report.ok, report.problems
    assert report.counts == {"profile created": "lifex-ct v1 (external)", "feature sets created": 4,
                             "feature values read": 12}
    profile = ExtractionProfile.objects.get(name="lifex-ct")
    assert (profile.source, profile.version, profile.active, profile.modality) == ("external", 1, False, "")
    assert profile.params == {"description": "LIFEx 7.6, CT, bin 25 HU"} and profile.is_external
    run_row = ImportRun.objects.get()
    assert (run_row.kind, run_row.status, run_row.rows) == ("features", "applied", 12)
    fs = ExternalFeatureSet.objects.get(lesion__patient__study_id="P-1", lesion__label="T1", timepoint__date=BASELINE)
    assert fs.features == {"original_shape_MeshVolume": 4123.5, "original_firstorder_Mean": -12.25,
                           "original_glcm_Contrast": 0.03}
    assert (fs.feature_count, fs.region, fs.profile, fs.import_run) == (3, "lesion", profile, run_row)
    assert ExternalFeatureSet.objects.get(region="ring_0-3mm").lesion.label == "T2"
    assert announced == [set(ExternalFeatureSet.objects.values_list("lesion__patient_id", flat=True))]
    assert len(announced[0]) == 2


def test_twice_is_the_same_as_once_and_a_changed_value_updates(recorded, django_capture_on_commit_callbacks,
                                                               announced):
    data = long_file(good_rows())
    run(data, django_capture_on_commit_callbacks)
    once = state()
    report = run(data, django_capture_on_commit_callbacks)
    assert report.counts == {"profile": "lifex-ct v1 (external)", "feature sets unchanged": 4,
                             "feature values read": 12}
    assert state() == once and len(announced) == 1  # nothing changed: nothing announced
    first_run = ImportRun.objects.order_by("created_at").first()

    rows = values("P-2", "T1", BASELINE, {"original_firstorder_Mean": "-11", "original_ngtdm_Busyness": "7"})
    report = run(long_file(rows), django_capture_on_commit_callbacks)
    assert report.counts["feature sets updated"] == 1
    fs = ExternalFeatureSet.objects.get(lesion__patient__study_id="P-2")
    assert fs.features == {"original_shape_MeshVolume": 4123.5, "original_firstorder_Mean": -11.0,
                           "original_glcm_Contrast": 0.03, "original_ngtdm_Busyness": 7.0}  # others kept
    assert fs.feature_count == 4 and fs.import_run == ImportRun.objects.latest("created_at") != first_run
    assert announced[-1] == {fs.lesion.patient_id}
    assert ExternalFeatureSet.objects.filter(import_run=first_run).count() == 3


def test_a_new_description_is_the_next_version(recorded, django_capture_on_commit_callbacks):
    run(long_file(good_rows()), django_capture_on_commit_callbacks, description="pipeline 1.0")
    run(long_file(good_rows()), django_capture_on_commit_callbacks)  # no description: the latest version
    assert ExtractionProfile.objects.filter(name="lifex-ct").count() == 1
    report = run(long_file(good_rows()), django_capture_on_commit_callbacks, description="pipeline 2.0")
    assert report.counts["profile created"] == "lifex-ct v2 (external)"
    per_version = {v: ExternalFeatureSet.objects.filter(profile__version=v).count() for v in (1, 2)}
    assert per_version == {1: 4, 2: 4}  # never mixed: each version keeps its own values


def test_every_problem_is_reported_and_nothing_is_written(recorded, django_capture_on_commit_callbacks, announced):
    run(long_file(good_rows()), django_capture_on_commit_callbacks)
    before = state()
    rows = [
        *values("P-1", "T1", BASELINE, {"a": "1"}),                                      # 2: fine
        *values("GHOST", "T1", BASELINE, {"a": "1"}),                                    # 3
        *values("P-1", "T9", BASELINE, {"a": "1"}),                                      # 4: no such lesion
        *values("P-1", "T1", dt.date(2024, 2, 2), {"a": "1"}),                           # 5: no such assessment
        {"record_id": "P-1", "lesion": "T1", "assessment_date": "2024-13-01", "feature": "a", "value": "1"},  # 6
        *values("P-1", "T1", BASELINE, {"b": "nan"}),                                    # 7
        *values("P-1", "T1", BASELINE, {"c": "inf"}),                                    # 8
        *values("P-1", "T1", BASELINE, {"d": "1e400"}),                                  # 9: overflows to inf
        *values("P-1", "T1", BASELINE, {"e": "twelve"}),                                 # 10
        *values("P-1", "T1", BASELINE, {"a": "2"}),                                      # 11: a again (row 2)
        *values("P-1", "T1", BASELINE, {"f": ""}),                                       # 12: no value
        {"record_id": "P-1", "lesion": "", "assessment_date": BASELINE.isoformat(), "feature": "", "value": "1"},  # 13
        *values("P-1", "T1", BASELINE, {"g": "1"}, region="x" * 40),                     # 14
    ]
    report = run(long_file(rows), django_capture_on_commit_callbacks)
    assert {(p.row, p.column) for p in report.problems} == {
        (3, "record_id"), (4, "lesion"), (5, "assessment_date"), (6, "assessment_date"), (7, "value"), (8, "value"),
        (9, "value"), (10, "value"), (11, "feature"), (12, "value"), (13, "lesion"), (13, "feature"), (14, "region"),
    }
    messages = {(p.row, p.column): p.message for p in report.problems}
    assert "Study ID GHOST is not a patient" in messages[3, "record_id"]
    assert "Study ID P-1 has no lesion T9" in messages[4, "lesion"]
    assert "no assessment on 2024-02-02" in messages[5, "assessment_date"]
    assert "not a finite number" in messages[7, "value"] and "not a finite number" in messages[9, "value"]
    assert "'twelve' is not a number" in messages[10, "value"]
    assert "given twice (rows 2 and 11)" in messages[11, "feature"]
    assert state() == before and len(announced) == 1
    assert ImportRun.objects.latest("created_at").status == "rejected"


def test_a_pyradiomics_profile_name_is_refused(recorded, django_capture_on_commit_callbacks):
    assert ExtractionProfile.objects.get(name="ct-default").source == "pyradiomics"  # shipped (migration 0004)
    before = state()
    report = run(long_file(good_rows() + values("GHOST", "T1", BASELINE, {"a": "1"})),
                 django_capture_on_commit_callbacks, profile="ct-default", description="mine")
    problems = [(p.row, p.column) for p in report.problems]
    assert problems[0] == (0, "--profile") and (14, "record_id") in problems  # the rows are checked as well
    assert "'ct-default' is a pyradiomics profile" in report.problems[0].message
    assert str(report.problems[0]).startswith("--profile: 'ct-default' is a pyradiomics profile")
    assert state() == before and not ExternalFeatureSet.objects.exists()
    report = run(long_file(good_rows()), django_capture_on_commit_callbacks, profile="Not A Slug!")
    assert report.problems[0].column == "--profile" and "slug" in report.problems[0].message.lower()
    # and the other way round: a pyradiomics version of an external name is refused by the model
    run(long_file(good_rows()), django_capture_on_commit_callbacks, profile="mirp")
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="already the name of an external profile"):
        ExtractionProfile(name="mirp", version=2, params={}, params_hash="y", modality="CT").full_clean()


def test_dry_run_and_the_header(recorded, django_capture_on_commit_callbacks):
    report = run(long_file(good_rows()), django_capture_on_commit_callbacks, dry_run=True)
    assert report.ok and report.counts["feature sets created"] == 4
    assert not ExternalFeatureSet.objects.exists() and not ExtractionProfile.objects.filter(name="lifex-ct").exists()
    assert ImportRun.objects.get().status == "dry-run"
    report = run(b"record_id,lesion,feature,value,colour\nP-1,T1,a,1,red\n", django_capture_on_commit_callbacks)
    assert [(p.row, p.column) for p in report.problems] == [(1, "assessment_date"), (1, "colour")]


def test_the_queries_do_not_grow_with_the_file(db, django_capture_on_commit_callbacks):
    site = SiteFactory(code="Q")

    def queries(n_patients, n_features):
        rows = []
        for i in range(n_patients):
            patient = PatientFactory(site=site, study_id=f"Q{n_patients}-{i}")
            for date in (BASELINE, FOLLOW_UP):
                TimepointFactory(patient=patient, date=date)
            for label in ("T1", "T2"):
                LesionFactory(patient=patient, label=label)
                for date in (BASELINE, FOLLOW_UP):
                    rows += values(patient.study_id, label, date, {f"f{k}": str(k / 7) for k in range(n_features)})
        receivers, features_imported.receivers = features_imported.receivers, []  # the import's queries only
        try:
            with CaptureQueriesContext(connection) as ctx:
                assert run(long_file(rows), django_capture_on_commit_callbacks, profile=f"p{n_patients}").ok
        finally:
            features_imported.receivers = receivers
        return len(ctx.captured_queries)

    assert queries(1, 3) == queries(12, 40)  # 12 rows or 1,920 rows: the same queries


def test_the_command(recorded, tmp_path):
    path = tmp_path / "features.csv"
    path.write_bytes(long_file(good_rows()))
    out = io.StringIO()
    call_command("import_features", str(path), "--profile", "mirp-ct", "--description", "MIRP 2.1", stdout=out)
    assert "Import applied." in out.getvalue() and "feature sets created: 4" in out.getvalue()
    assert ExtractionProfile.objects.get(name="mirp-ct").params == {"description": "MIRP 2.1"}
    path.write_bytes(long_file(values("P-1", "T1", BASELINE, {"a": "-inf"})))
    err = io.StringIO()
    with pytest.raises(CommandError, match="Import rejected"):
        call_command("import_features", str(path), "--profile", "mirp-ct", stdout=io.StringIO(), stderr=err)
    assert "row 2, column 'value': '-inf' is not a finite number" in err.getvalue()


def test_the_features_form_of_the_import_page(client, curator, recorded, htmx_headers, user):
    client.force_login(curator)
    upload = io.BytesIO(long_file(good_rows()))
    upload.name = "features.csv"
    response = client.post("/imaging/import/measurements/", {
        "import": "features", "features-file": upload, "features-profile": "site-pipeline",
        "features-description": "our pipeline v3"}, **htmx_headers)
    assert response.status_code == 200 and b"<html" not in response.content
    assert b"Imported" in response.content and b"feature sets created: 4" in response.content
    assert ImportRun.objects.get().started_by == curator
    assert ExtractionProfile.objects.get(name="site-pipeline").created_by == curator
    bad = io.BytesIO(long_file(values("P-1", "T7", BASELINE, {"a": "1"})))
    bad.name = "bad.csv"
    response = client.post("/imaging/import/measurements/", {"import": "features", "features-file": bad,
                                                             "features-profile": "site-pipeline"})
    assert b"<html" in response.content and b"Rejected: 1 problem, nothing was written" in response.content
    # a curator who may import measurements but not features gets no features form, and a 403 when posting one
    from django.contrib.auth.models import Permission

    user.user_permissions.set(Permission.objects.filter(codename="add_lesionmeasurement"))
    client.force_login(user)
    assert b'name="features-file"' not in client.get("/imaging/import/measurements/").content
    assert client.post("/imaging/import/measurements/", {"import": "features"}).status_code == 403


def test_admin_lists_external_feature_sets_and_profiles(admin_client_logged_in, recorded,
                                                       django_capture_on_commit_callbacks):
    run(long_file(good_rows()), django_capture_on_commit_callbacks, description="LIFEx")
    page = admin_client_logged_in.get("/admin/imaging/externalfeatureset/")
    assert page.status_code == 200 and b"lifex-ct v1" in page.content
    fs = ExternalFeatureSet.objects.first()
    assert admin_client_logged_in.get(f"/admin/imaging/externalfeatureset/{fs.pk}/change/").status_code == 200
    profile = ExtractionProfile.objects.get(name="lifex-ct")
    page = admin_client_logged_in.get(f"/admin/imaging/extractionprofile/{profile.pk}/change/")
    assert page.status_code == 200 and b"LIFEx" in page.content
