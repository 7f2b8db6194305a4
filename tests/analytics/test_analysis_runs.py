"""Stored survival analyses: the service, the task's failure path, the API, the command and the admin."""
import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from analytics.models import AnalysisRun
from analytics.services import analysis_run_create
from tests.factories import OutcomeFactory, PatientFactory, RegimenFactory, SiteFactory, UserFactory

pytestmark = pytest.mark.django_db
COX = {"kind": "cox", "endpoint": "os", "covariates": ["pdl1_tps"]}


def _created(spec, django_capture_on_commit_callbacks, **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        run = analysis_run_create(spec=spec, **kwargs)
    run.refresh_from_db()
    return run


def test_a_run_is_created_pending_and_computed_by_its_task(cohort, django_capture_on_commit_callbacks):
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = analysis_run_create(spec=COX, user=user)
    assert run.status == "pending" and run.result is None and len(callbacks) == 1
    assert run.spec["times"] == [182, 365, 730] and run.spec["time_zero"] == {"regimen": "first_ici"}  # normalised
    assert (run.kind, run.endpoint, run.seed, run.created_by) == ("cox", "os", 0, user)
    callbacks[0]()  # the on-commit send: in-process (no broker) the task runs now
    run.refresh_from_db()
    assert run.status == "done", run.error
    assert run.result["n"] == 40 and len(run.patient_ids) == 40 and run.finished_at >= run.started_at
    assert run.result["terms"][0]["term"] == "pdl1_tps" and run.result["terms"][0]["hr"] < 1


def test_a_bad_spec_is_a_validation_error_naming_the_field(cohort):
    for spec, field in (({"kind": "cox", "endpoint": "efs"}, "endpoint"),
                        ({"kind": "cox", "endpoint": "os", "covariates": ["shoe_size"]}, "covariates"),
                        ({"kind": "km", "endpoint": "os", "cohort": {"site": ["nowhere"]}}, "cohort.site"),
                        ({"kind": "km", "endpoint": "os", "cohort": {"ward": "3"}}, "cohort.ward")):
        with pytest.raises(ValidationError) as err:
            analysis_run_create(spec=spec)
        assert field in err.value.message_dict and err.value.message_dict[field][0]
    assert not AnalysisRun.objects.exists()


def test_data_that_cannot_be_analysed_fail_the_run_with_a_readable_message(cohort,
                                                                          django_capture_on_commit_callbacks):
    alive = SiteFactory(code="B")
    for _ in range(5):
        patient = PatientFactory(site=alive)
        RegimenFactory(patient=patient)
        OutcomeFactory(patient=patient)
    run = _created({"kind": "km", "endpoint": "os", "cohort": {"site": "B"}}, django_capture_on_commit_callbacks)
    assert run.status == "failed" and run.result is None
    assert "event" in run.error and "Traceback" not in run.error and "PT-" not in run.error


def test_the_api_runs_a_spec_and_serves_its_result(cohort, client_logged_in, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_logged_in.post("/api/v1/analytics/runs/", {"spec": COX}, content_type="application/json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] in ("pending", "done") and response["Location"] == body["url"]
    detail = client_logged_in.get(body["url"]).json()
    assert detail["status"] == "done" and detail["result"]["n"] == 40 and detail["figures"]["forest"]
    assert detail["created_by"] == "clinician" and len(detail["input_sha256"]) == 64

    listed = client_logged_in.get("/api/v1/analytics/runs/?status=done&kind=cox").json()
    assert listed["count"] == 1 and listed["results"][0]["events"] == detail["result"]["events"]
    assert "result" not in listed["results"][0]
    assert client_logged_in.get("/api/v1/analytics/runs/?kind=km").json()["count"] == 0
    changed = client_logged_in.get(body["url"] + "data-changed/").json()
    assert changed["changed"] is False
    with django_capture_on_commit_callbacks(execute=True):
        again = client_logged_in.post(body["url"] + "rerun/")
    assert again.status_code == 202 and again.json()["rerun_of"] == body["url"]


def test_the_api_answers_a_bad_spec_with_the_field_and_message(cohort, client_logged_in):
    response = client_logged_in.post("/api/v1/analytics/runs/", {"spec": {"kind": "cox", "endpoint": "os",
                                                                         "group_by": "dcb"}},
                                     content_type="application/json")
    assert response.status_code == 400
    errors = response.json()["spec"]
    assert "group_by" in errors and "landmark" in " ".join(errors["group_by"]).lower()
    not_object = client_logged_in.post("/api/v1/analytics/runs/", {"spec": [1, 2]}, content_type="application/json")
    assert not_object.status_code == 400 and "spec" in not_object.json()


def test_the_api_needs_a_login(client):
    assert client.get("/api/v1/analytics/runs/").status_code in (401, 403)
    assert client.post("/api/v1/analytics/runs/", {"spec": COX}, content_type="application/json").status_code in (
        401, 403)


def test_the_run_list_has_a_fixed_number_of_queries(cohort, client_logged_in, django_capture_on_commit_callbacks,
                                                    django_assert_max_num_queries):
    for _ in range(3):
        _created(COX, django_capture_on_commit_callbacks)
    with django_assert_max_num_queries(7):  # + the role's permissions and the user's sites (accounts.access), once per request
        assert client_logged_in.get("/api/v1/analytics/runs/").json()["count"] == 3


def test_the_schema_documents_the_runs_endpoint():
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)
    runs = schema["paths"]["/api/v1/analytics/runs/"]
    assert "202" in runs["post"]["responses"] and {"status", "kind", "endpoint"} <= {
        p["name"] for p in runs["get"]["parameters"]}
    examples = runs["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert any(e["value"]["spec"]["kind"] == "cox" for e in examples.values())


def test_the_command_runs_prints_and_writes_the_result(cohort, tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({**COX, "cohort": {"site": ["A"]}}))
    output = tmp_path / "result.json"
    out = io.StringIO()
    call_command("run_analysis", str(spec), output=str(output), stdout=out)
    text = out.getvalue()
    assert "cox of os: n=40" in text and "pdl1_tps: HR" in text and "Input SHA-256" in text
    result = json.loads(output.read_text())
    run = AnalysisRun.objects.get()
    assert run.status == "done" and result == run.result


def test_the_command_refuses_a_bad_spec_and_fails_on_bad_data(cohort, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"kind": "cox", "endpoint": "os", "covariates": ["shoe_size"]}))
    with pytest.raises(CommandError, match="covariates: .*shoe_size"):
        call_command("run_analysis", str(bad), stdout=io.StringIO())
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("run_analysis", str(broken), stdout=io.StringIO())
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"kind": "km", "endpoint": "os", "cohort": {"tumour_type": "rcc"}}))
    with pytest.raises(CommandError, match="failed"):
        call_command("run_analysis", str(empty), stdout=io.StringIO())
    assert AnalysisRun.objects.get().status == "failed"


def test_the_admin_shows_runs_read_only(cohort, admin_client_logged_in, django_capture_on_commit_callbacks):
    run = _created(COX, django_capture_on_commit_callbacks)
    page = admin_client_logged_in.get(f"/admin/analytics/analysisrun/{run.pk}/change/")
    assert page.status_code == 200 and run.input_sha256 in page.content.decode()
    assert b'name="spec"' not in page.content  # read-only: no form field to edit the record
    assert admin_client_logged_in.get("/admin/analytics/analysisrun/add/").status_code == 403


def test_the_admin_reruns_selected_runs(cohort, admin_client_logged_in, django_capture_on_commit_callbacks):
    run = _created(COX, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_logged_in.post("/admin/analytics/analysisrun/", {
            "action": "rerun", "_selected_action": [run.pk]}, follow=True)
    assert "1 re-run(s) requested" in response.content.decode()
    rerun = AnalysisRun.objects.get(rerun_of=run)
    assert rerun.status == "done" and rerun.result == run.result
