"""What curators do with quarantined files: re-try them once the cause is fixed, assign them to a patient (or
create one), or discard them. Each re-try is an ingest job of its own, and each entry is closed with what became
of its file."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from patients.models import PatientIdentity
from patients.services import patient_identity_set, patient_upsert
from radimmuno.jobs import run_job

from .. import storage
from ..choices import IngestSource, QuarantineStatus
from ..models import IngestJob
from .records import quarantine_close, quarantine_settle
from .run import Ingest


def _reingest(quarantined, *, user, patient=None, what):
    """Ingest quarantined files again (optionally for a given patient) and close their entries."""
    quarantined = list(quarantined)
    job = IngestJob.objects.create(source=IngestSource.RETRY, started_by=user, files_total=len(quarantined),
                                   label=f"{what}: {len(quarantined)} quarantined file(s)"[:255])
    state = {}

    def work(job):
        ingest = Ingest(job, patient=patient)
        for q in quarantined:
            ingest.add_bytes(storage.stored_bytes(q.file.name), q.original_name or q.file.name)
        fields = ingest.finish()
        state["again"] = ingest.tally.held
        return fields

    run_job(IngestJob, job.pk, work)
    job.refresh_from_db()
    holders = state.get("again", {})
    if job.status == "failed":  # the entries stay open; the job row says why
        return job
    for q in quarantined:
        quarantine_settle(q, holder=holders.get(q.sha256), user=user, what=f"{what} (job #{job.pk})")
    return job


def quarantine_retry(*, quarantined, user):
    """Re-run ingest on quarantined files (after the cause was fixed, e.g. the referenced series arrived)."""
    return _reingest(quarantined, user=user, what="re-tried")


@transaction.atomic
def quarantine_assign_patient(*, quarantined, patient, user):
    """Attach quarantined files (unknown Patient ID) to ``patient`` and ingest them.

    When the patient has no MRN yet and the files carry one DICOM Patient ID, it becomes the patient's MRN,
    so the next scans match by themselves.
    """
    quarantined = list(quarantined)
    ids = {q.dicom_patient_id for q in quarantined if q.dicom_patient_id}
    identity = PatientIdentity.objects.filter(patient=patient).first()
    if len(ids) == 1 and (identity is None or not identity.mrn):
        (mrn,) = ids
        if PatientIdentity.objects.filter(mrn=mrn).exclude(patient=patient).exists():
            raise ValidationError(f"Patient ID {mrn!r} is already the MRN of another patient.")
        patient_identity_set(patient=patient, mrn=mrn)
    return _reingest(quarantined, user=user, patient=patient, what=f"assigned to patient {patient}")


@transaction.atomic
def quarantine_create_patient(*, quarantined, site, study_id, tumour_type, user):
    """Create a patient for quarantined files of an unknown Patient ID (recorded as its MRN) and ingest them."""
    quarantined = list(quarantined)
    ids = {q.dicom_patient_id for q in quarantined if q.dicom_patient_id}
    if len(ids) != 1:
        raise ValidationError("Select files of exactly one DICOM Patient ID to create one patient for them.")
    patient, created, _ = patient_upsert(site=site, study_id=study_id, tumour_type=tumour_type)
    if not created:
        raise ValidationError(f"Patient {study_id} already exists at {site}; assign the files to it instead.")
    return quarantine_assign_patient(quarantined=quarantined, patient=patient, user=user)


def quarantine_discard(*, quarantined, user, reason):
    if not reason.strip():
        raise ValidationError({"reason": "Say why the files are discarded."})
    for q in quarantined:
        quarantine_close(q, user=user, resolution=f"discarded: {reason}", status=QuarantineStatus.DISCARDED)
