"""The job layer's state machine: no request lost, no live job re-run, each job's work done once."""
import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from analytics.models import ResponseAssessment, TimepointResponse
from analytics.services import response_recompute
from imaging.ingest import job_manifest
from imaging.models import IngestJob
from imaging.services import measurement_record, timepoint_upsert
from radimmuno import jobs
from radimmuno.jobs import Heartbeat, JobStatus, reconcile, run_job
from tests.analytics.builders import patient_with_scans
from tests.factories import RegimenFactory

AGO = dt.timedelta(hours=2)


def computed_patient(capture):
    with capture(execute=True):
        return patient_with_scans([(-5, 100), (56, 60)])


def requested(job):
    """The row as ``enqueue`` leaves it, its message on the way to a worker (the test plays the worker)."""
    type(job).objects.filter(pk=job.pk).update(status=JobStatus.PENDING, generation=F("generation") + 1)


@pytest.mark.django_db
def test_an_edit_during_a_run_is_recomputed_not_overwritten(django_capture_on_commit_callbacks):
    """Defect 2: the running task's finish used to mark the row done with the result of the old data."""
    patient, regimen, lesions, tps = computed_patient(django_capture_on_commit_callbacks)
    a = ResponseAssessment.objects.get(patient=patient)
    assert a.recist_bor == "PR"
    runs = []

    def work(job):
        fields = response_recompute(job)  # computed from the data as it stood when the run started ...
        if not runs:  # ... while a curator grows both lesions: 60 -> 140 mm, PD
            measurement_record(lesion=lesions[0], timepoint=tps[1], size_mm=Decimal(70))
            measurement_record(lesion=lesions[1], timepoint=tps[1], size_mm=Decimal(70))
        runs.append(fields["recist_bor"])
        return fields

    requested(a)
    with django_capture_on_commit_callbacks(execute=True) as sent:
        assert run_job(ResponseAssessment, a.pk, work) == "requeued"
    assert len(sent) == 1  # two edits during the run, one re-run, sent when the run ended
    a.refresh_from_db()
    assert runs == ["PR"]
    assert a.status == JobStatus.DONE and a.recist_bor == "PD"  # the re-run (the real task) saw the edit
    assert a.generation == a.claimed_generation


@pytest.mark.django_db
def test_several_saves_in_one_transaction_send_one_task_per_row(django_capture_on_commit_callbacks):
    patient, regimen, lesions, tps = computed_patient(django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=False) as sent:
        with transaction.atomic():
            for size in (40, 45, 50):
                measurement_record(lesion=lesions[0], timepoint=tps[1], size_mm=Decimal(size))
    assert [(c.task_name, c.pk) for c in sent] == [
        ("analytics.recompute_response", ResponseAssessment.objects.get(patient=patient).pk)]


@pytest.mark.django_db
def test_a_rolled_back_block_does_not_swallow_the_next_request(django_capture_on_commit_callbacks):
    patient, *_ = computed_patient(django_capture_on_commit_callbacks)
    a = ResponseAssessment.objects.get(patient=patient)
    with django_capture_on_commit_callbacks(execute=False) as sent:
        try:
            with transaction.atomic():
                a.enqueue()
                raise RuntimeError("the edit failed")
        except RuntimeError:
            pass
        a.enqueue()
    assert len(sent) == 1


@pytest.mark.django_db
def test_the_reconciler_leaves_a_live_long_job_and_its_manifest_alone(django_capture_on_commit_callbacks):
    """Defect 3: a job running for hours (a long C-STORE association) was re-run because of its start time."""
    now = timezone.now()
    job = IngestJob.objects.create(source="network", status=JobStatus.RUNNING, started_at=now - AGO,
                                   heartbeat_at=now, claim_token="live", generation=1, claimed_generation=1)
    job_manifest(job).write_text("spool/1.dcm\n")
    with django_capture_on_commit_callbacks(execute=True) as sent:
        assert reconcile()["imaging.IngestJob"] == 0
    job.refresh_from_db()
    assert not sent and job.status == JobStatus.RUNNING and job.claim_token == "live"
    assert job_manifest(job).exists()


@pytest.mark.django_db
def test_a_killed_worker_is_taken_over_and_its_late_end_is_not_recorded(django_capture_on_commit_callbacks):
    patient, *_ = computed_patient(django_capture_on_commit_callbacks)
    a = ResponseAssessment.objects.get(patient=patient)
    requested(a)
    zombie = ResponseAssessment.objects.get(pk=a.pk)
    assert zombie.claim()
    assert not ResponseAssessment.objects.get(pk=a.pk).claim()  # alive: a second delivery waits
    ResponseAssessment.objects.filter(pk=a.pk).update(heartbeat_at=timezone.now() - AGO)  # its machine died
    with django_capture_on_commit_callbacks(execute=False) as sent:
        assert reconcile()["analytics.ResponseAssessment"] == 1
    assert len(sent) == 1
    sent[0]()  # the new worker runs it
    a.refresh_from_db()
    assert a.status == JobStatus.DONE and a.attempts == 3  # the first computation, the zombie's claim, the re-run
    assert zombie.finish(recist_bor="CR") is None  # the dead run comes back: nothing is written
    assert not zombie.beat()
    a.refresh_from_db()
    assert a.status == JobStatus.DONE and a.recist_bor == "PR"


@pytest.mark.django_db
def test_a_job_that_keeps_dying_is_failed_with_a_reason():
    job = IngestJob.objects.create(source="network", status=JobStatus.RUNNING, started_at=timezone.now() - AGO,
                                   heartbeat_at=timezone.now() - AGO, attempts=IngestJob.max_attempts)
    assert reconcile()["imaging.IngestJob"] == 0
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "Gave up after 5 attempts" in job.error


def test_every_job_model_names_a_registered_task():
    from celery import current_app

    current_app.loader.import_default_modules()
    names = {model.task_name for model in jobs.job_models()}
    assert names == {"imaging.ingest_job_run", "imaging.extract_feature_set", "analytics.recompute_response",
                     "analytics.run_analysis", "analytics.refresh_deltas",
                     "exports.run_dataset_export"}
    assert names <= set(current_app.tasks)


@pytest.mark.django_db(transaction=True)
def test_a_run_beats_while_it_works(settings):
    job = IngestJob.objects.create(source="upload", status=JobStatus.PENDING, generation=1)
    seen = []

    def work(job):
        started = IngestJob.objects.get(pk=job.pk).heartbeat_at
        with Heartbeat(job, every=dt.timedelta(seconds=0.05)):
            threading.Event().wait(0.4)
        seen.append(IngestJob.objects.get(pk=job.pk).heartbeat_at > started)

    assert run_job(IngestJob, job.pk, work) == "done"
    assert seen == [True]


@pytest.mark.django_db(transaction=True)
def test_two_reconcilers_at_once_send_each_stuck_job_once(monkeypatch):
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith("file:memorydb"):
        pytest.skip("needs a database shared between threads")
    old = timezone.now() - AGO
    stuck = [IngestJob.objects.create(source="network", status=JobStatus.RUNNING, started_at=old, heartbeat_at=old,
                                      claim_token="dead") for _ in range(20)]
    stuck += [IngestJob.objects.create(source="upload", status=JobStatus.PENDING, enqueued_at=old)
              for _ in range(20)]
    sent, lock = [], threading.Lock()

    def record(task_name, pk):
        with lock:
            sent.append(pk)

    monkeypatch.setattr(jobs, "send_task", record)
    barrier = threading.Barrier(2)
    errors = []

    def reconciler():
        from django.db import connections

        try:
            barrier.wait()
            reconcile()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=reconciler) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(sent) == sorted(job.pk for job in stuck)  # each exactly once
    assert set(IngestJob.objects.values_list("status", flat=True)) == {JobStatus.PENDING}


@pytest.mark.django_db
def test_a_scan_moved_to_another_regimen_is_recomputed_there_first(django_capture_on_commit_callbacks):
    """Defect 6: TimepointResponse was unique on (timepoint, criteria), so when a curator re-linked a scan to the
    next regimen and that regimen's assessment ran before the old one's, it failed with an IntegrityError."""
    with django_capture_on_commit_callbacks(execute=True):
        patient, first, lesions, tps = patient_with_scans([(-5, 100), (56, 60), (112, 140)])
        second = RegimenFactory(patient=patient, start_date=tps[1].date + dt.timedelta(days=3), line_of_therapy=2,
                                agents=["ipilimumab", "nivolumab"])
    assert TimepointResponse.objects.filter(timepoint=tps[2], assessment__regimen=first).exists()
    with django_capture_on_commit_callbacks(execute=False):  # the edit; its recomputations not yet run
        baseline, _ = timepoint_upsert(patient=patient, date=tps[1].date + dt.timedelta(days=1), kind="baseline",
                                       regimen=second)
        for lesion in lesions:
            measurement_record(lesion=lesion, timepoint=baseline, size_mm=Decimal(30))
        timepoint_upsert(patient=patient, date=tps[2].date, kind="follow-up", regimen=second)
    b = ResponseAssessment.objects.get(patient=patient, regimen=second)
    fields = response_recompute(b)  # the second regimen's worker happens to run first
    assert fields["problems"] == []
    moved = TimepointResponse.objects.filter(timepoint=tps[2], criteria="recist1.1")
    assert {(r.assessment.regimen_id, r.category) for r in moved} == {(first.pk, "PD"), (second.pk, "PD")}
    response_recompute(ResponseAssessment.objects.get(patient=patient, regimen=first))
    assert {r.assessment.regimen_id for r in moved.all()} == {second.pk}  # the old one's row goes when it runs


def test_an_unexpected_error_is_a_sentence_for_the_user_and_a_traceback_for_the_log(db, caplog):
    """Issue 15: a job's error shown to the uploader held a server traceback with paths. Now the user reads a
    sentence with a reference to the log; the exception's text (which may hold a path or a value) stays in the log."""
    job = IngestJob.objects.create(source="upload", status=JobStatus.PENDING, generation=1)

    def work(job):
        raise KeyError("/srv/radimmuno/media/incoming/PATIENT-NAME-DOE.dcm")

    with caplog.at_level("ERROR", logger="radimmuno.jobs"):
        assert run_job(IngestJob, job.pk, work) == "failed"
    job.refresh_from_db()
    assert job.error == (f"The job stopped on an unexpected error (KeyError) and did not finish; nothing it was "
                         f"writing was kept. Try again; if it fails again, ask an administrator to look up "
                         f"\"IngestJob {job.pk} failed\" in the server log.")
    assert "Traceback" in caplog.text and f"IngestJob {job.pk} failed" in caplog.text
