"""Writes of the imaging app: timepoints, lesions and their measurements."""
import datetime
from collections import defaultdict

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from . import choices
from .models import MAX_TARGETS, MAX_TARGETS_PER_ORGAN, Lesion, LesionMeasurement, Timepoint

BASELINE_LOOKAHEAD_DAYS = 90
PRE_BASELINE_LOOKAHEAD_DAYS = 183  # the scan before baseline used for pre-treatment growth kinetics (§3)


def regimen_for_assessment(*, regimens, date, kind):
    """The regimen an assessment on ``date`` evaluates.

    A baseline scan belongs to the regimen starting soonest after it (within 90 days), a pre-baseline scan
    likewise within 6 months; any other scan to the regimen most recently started on or before its date,
    else the first one after it.
    """
    regimens = sorted(regimens, key=lambda r: r.start_date)
    if kind in (choices.TimepointKind.PRE_BASELINE, choices.TimepointKind.BASELINE):
        lookahead = PRE_BASELINE_LOOKAHEAD_DAYS if kind == choices.TimepointKind.PRE_BASELINE else BASELINE_LOOKAHEAD_DAYS
        horizon = date + datetime.timedelta(days=lookahead)
        upcoming = [r for r in regimens if date <= r.start_date <= horizon]
        if upcoming:
            return upcoming[0]
    started = [r for r in regimens if r.start_date <= date]
    if started:
        return started[-1]
    return regimens[0] if regimens else None


def _save(instance):
    instance.full_clean()
    instance.save()
    return instance


@transaction.atomic
def timepoint_upsert(*, patient, date, kind, regimen=None, notes=""):
    """Create or update the patient's assessment on ``date``. Returns (timepoint, created)."""
    if regimen is None:
        regimen = regimen_for_assessment(regimens=patient.regimens.all(), date=date, kind=kind)
    timepoint = Timepoint.objects.filter(patient=patient, date=date).first()
    created = timepoint is None
    if created:
        timepoint = Timepoint(patient=patient, date=date)
    timepoint.kind, timepoint.regimen, timepoint.notes = kind, regimen, notes or timepoint.notes
    return _save(timepoint), created


@transaction.atomic
def lesion_create(*, patient, label, organ, role, nodal=False, appeared_at=None, **fields):
    return _save(Lesion(patient=patient, label=label, organ=organ, role=role, nodal=nodal,
                        appeared_at=appeared_at, **fields))


@transaction.atomic
def measurement_record(*, lesion, timepoint, user=None, **fields):
    """Record (or correct) a lesion's measurement at an assessment. Returns (measurement, created)."""
    measurement = LesionMeasurement.objects.filter(lesion=lesion, timepoint=timepoint).first()
    created = measurement is None
    if created:
        measurement = LesionMeasurement(lesion=lesion, timepoint=timepoint)
    for name, value in fields.items():
        setattr(measurement, name, value)
    measurement.recorded_by = user
    return _save(measurement), created


def targets_check(lesions):
    """Target-selection limits over an in-memory set of lesions (RECIST 1.1 §1.2), for bulk writes.

    Returns a list of messages, empty when the selection is valid.
    """
    by_patient = defaultdict(list)
    for lesion in lesions:
        if lesion.role == choices.LesionRole.TARGET:
            by_patient[lesion.patient_id or id(lesion.patient)].append(lesion)
    problems = []
    for targets in by_patient.values():
        patient = targets[0].patient
        if len(targets) > MAX_TARGETS:
            problems.append(f"patient {patient}: {len(targets)} target lesions (at most {MAX_TARGETS}).")
        per_organ = defaultdict(list)
        for lesion in targets:
            per_organ[lesion.organ_group].append(lesion.label)
        for organ, labels in per_organ.items():
            if len(labels) > MAX_TARGETS_PER_ORGAN:
                problems.append(
                    f"patient {patient}: {len(labels)} targets in {organ} ({', '.join(labels)}); "
                    f"at most {MAX_TARGETS_PER_ORGAN} per organ."
                )
    return problems


def regimen_assign_all(timepoints, regimens_by_patient):
    """Fill ``regimen`` on unsaved timepoints from each patient's regimens (bulk path of timepoint_upsert)."""
    for timepoint in timepoints:
        if timepoint.regimen is None:
            timepoint.regimen = regimen_for_assessment(
                regimens=regimens_by_patient.get(timepoint.patient_id, []), date=timepoint.date, kind=timepoint.kind
            )
        timepoint.days_from_regimen_start = (
            (timepoint.date - timepoint.regimen.start_date).days if timepoint.regimen else None
        )


def lesions_validate(lesions):
    problems = targets_check(lesions)
    if problems:
        raise ValidationError(problems)



# --------------------------------------------------------------------------- imaging ingest (issue 3)
# The ingest machinery itself lives in imaging.ingest; these are the writes curators and clinicians make.

def upload_job_create(*, files, user=None, source="upload", options=None):
    """Store uploaded files (DICOM, label maps, zips) for a new ingest job and enqueue it. Returns the job.

    In the embedded mode (no broker) the job runs in-process before this returns; with a broker a worker
    runs it and the upload page polls the job row.
    """
    from .ingest import job_add_upload, job_manifest
    from .models import IngestJob

    files = list(files)
    if not files:
        raise ValidationError({"files": "Choose at least one DICOM file, label map or zip archive."})
    label = ", ".join(f.name for f in files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
    job = IngestJob.objects.create(source=source, started_by=user, label=label[:255], options=options or {},
                                   files_total=len(files))
    with open(job_manifest(job), "w", encoding="utf-8") as handle:
        for uploaded in files:
            job_add_upload(job, uploaded, handle)
    with transaction.atomic():
        job.enqueue()
    job.refresh_from_db()
    return job


def _reingest(quarantined, *, user, patient=None, what):
    """Ingest quarantined files again (optionally for a given patient) and close their entries."""
    from django.core.files.storage import default_storage

    from radimmuno.jobs import run_job

    from .ingest import Ingest, quarantine_settle
    from .models import IngestJob
    from .choices import IngestSource

    quarantined = list(quarantined)
    job = IngestJob.objects.create(source=IngestSource.RETRY, started_by=user, files_total=len(quarantined),
                                   label=f"{what}: {len(quarantined)} quarantined file(s)"[:255])
    state = {}

    def work(job):
        ingest = Ingest(job, patient=patient)
        for q in quarantined:
            with default_storage.open(q.file.name, "rb") as f:
                ingest.add_bytes(f.read(), q.original_name or q.file.name)
        fields = ingest.finish()
        state["again"] = ingest.quarantined_shas
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
    from patients.models import PatientIdentity
    from patients.services import patient_identity_set

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
    from patients.services import patient_upsert

    quarantined = list(quarantined)
    ids = {q.dicom_patient_id for q in quarantined if q.dicom_patient_id}
    if len(ids) != 1:
        raise ValidationError("Select files of exactly one DICOM Patient ID to create one patient for them.")
    patient, created, _ = patient_upsert(site=site, study_id=study_id, tumour_type=tumour_type)
    if not created:
        raise ValidationError(f"Patient {study_id} already exists at {site}; assign the files to it instead.")
    return quarantine_assign_patient(quarantined=quarantined, patient=patient, user=user)


def quarantine_discard(*, quarantined, user, reason):
    from .ingest import quarantine_close
    from .choices import QuarantineStatus

    if not reason.strip():
        raise ValidationError({"reason": "Say why the files are discarded."})
    for q in quarantined:
        quarantine_close(q, user=user, resolution=f"discarded: {reason}", status=QuarantineStatus.DISCARDED)


@transaction.atomic
def segment_assign_lesion(*, segment, lesion, user=None):
    """A curator maps a segment to a lesion of the same patient."""
    from .choices import LesionMapping

    patient_id = segment.segmentation.image_series.study.patient_id
    if lesion.patient_id != patient_id:
        raise ValidationError({"lesion": "That lesion belongs to another patient than the segmentation."})
    segment.lesion, segment.lesion_mapping = lesion, LesionMapping.CURATOR
    segment.full_clean()
    segment.save()
    return segment


def _review_target(segment):
    if segment.lesion_id is None:
        raise ValidationError("Map the segment to a lesion first.")
    timepoint = segment.timepoint
    if timepoint is None:
        raise ValidationError("The segmentation's study has no date, so it belongs to no assessment.")
    return segment.lesion, timepoint


@transaction.atomic
def segment_measurement_accept(*, segment, user, replace_manual=False):
    """Record the segment's RECIST size as the lesion's measurement (source "segmentation").

    A clinician-entered measurement is authoritative: it is only replaced when ``replace_manual`` says so.
    """
    from .choices import ProposalStatus

    lesion, timepoint = _review_target(segment)
    size = segment.proposed_size_mm
    if size is None:
        raise ValidationError("The segment's mask is empty: there is nothing to accept.")
    existing = LesionMeasurement.objects.filter(lesion=lesion, timepoint=timepoint).first()
    if existing and existing.source == choices.MeasurementSource.MANUAL and not replace_manual:
        raise ValidationError(
            f"{lesion.label} already has a manual measurement on {timepoint.date.isoformat()} "
            f"({existing.display_size}); it is kept unless you confirm replacing it."
        )
    measurement, _ = measurement_record(
        lesion=lesion, timepoint=timepoint, user=user, size_mm=size, status=choices.MeasurementStatus.PRESENT,
        source=choices.MeasurementSource.SEGMENTATION,
    )
    segment.proposal_status, segment.measurement = ProposalStatus.ACCEPTED, measurement
    segment.reviewed_by, segment.reviewed_at = user, timezone.now()
    segment.save()
    return measurement


@transaction.atomic
def segment_measurement_override(*, segment, user, size_mm, status=choices.MeasurementStatus.PRESENT):
    """The clinician disagrees with the derived size: record theirs (a manual measurement) instead."""
    from .choices import ProposalStatus

    lesion, timepoint = _review_target(segment)
    measurement, _ = measurement_record(
        lesion=lesion, timepoint=timepoint, user=user, size_mm=size_mm, status=status,
        source=choices.MeasurementSource.MANUAL,
    )
    segment.proposal_status, segment.measurement = ProposalStatus.OVERRIDDEN, measurement
    segment.reviewed_by, segment.reviewed_at = user, timezone.now()
    segment.save()
    return measurement
