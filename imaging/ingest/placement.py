"""Where a file belongs: the patient of its Patient ID, the study and series of its UIDs (found, or created, once
per run), and the image instances of one series indexed together.

Nothing is created for a file that cannot be placed: every refusal is decided before the first row is written,
so a refused file never leaves a new Study (or assessment) behind without a series.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import F

from patients.models import PatientIdentity, Site
from patients.services import patient_identity_set, patient_upsert, site_create

from ..choices import QuarantineReason as R
from ..choices import VolumeStatus
from ..models import Instance, Series, Study, Timepoint
from ..services.assessments import timepoint_upsert
from .outcomes import DUPLICATE, Outcome
from .records import clip, compare, instance_row, series_fields, timepoint_kind_for


@dataclass
class Indexed:
    """What indexing one series' group of instances did: the series, the files now stored in it, the duplicates
    and the files it refused (each with its Outcome, not yet quarantined)."""

    series: Series | None
    stored: list = field(default_factory=list)
    duplicates: int = 0
    refused: list = field(default_factory=list)  # (Received, Outcome)


class Placement:
    """The patient, study and series rows of one run's files.

    Parameters
    ----------
    job : IngestJob
        The run's status row (recorded on every Instance).
    patient : Patient, optional
        Attach everything to this patient instead of matching Patient IDs (a curator's resolution).
    """

    def __init__(self, job, *, patient=None):
        self.job = job
        self.forced_patient = patient
        self.forget()

    def forget(self):
        """Drop the rows cached by UID (after a rollback they may not exist)."""
        self._patients, self._studies, self._series = {}, {}, {}

    def patient_for(self, h):
        """The patient of a header's Patient ID, or the Outcome refusing the file (an unknown Patient ID)."""
        pid = h["patient_id"]
        if pid in self._patients:
            return self._patients[pid]
        if self.forced_patient is not None:
            patient = self.forced_patient
        else:
            identity = PatientIdentity.objects.select_related("patient").filter(mrn=pid).first() if pid else None
            patient = identity.patient if identity else None
            if patient is None and getattr(settings, "RADIMMUNO_AUTO_CREATE_PATIENTS", False) and pid:
                patient = _auto_create_patient(pid)
            if patient is None:
                return Outcome.refused(
                    R.UNKNOWN_PATIENT,
                    # the Patient ID (an MRN) stays out of the message: it is identifying data, kept only in the
                    # quarantine row's dicom_patient_id field for curators
                    "the DICOM Patient ID matches no patient's MRN. A curator assigns these files to a "
                    "patient (which records the Patient ID as the MRN) or creates the patient; nothing was dropped",
                )
        self._patients[pid] = patient
        return patient

    def place(self, h, patient):
        """(study, series) of a header for ``patient``, created when new, or the Outcome refusing the file.

        The series is looked up once: a stored series put into another study is refused before anything is
        created for it.
        """
        uid = h["series_instance_uid"]
        series = self._series.get(uid) or Series.objects.filter(series_instance_uid=uid).select_related("study").first()
        if series is not None and series.study.study_instance_uid != h["study_instance_uid"]:
            return Outcome.refused(
                R.PATIENT_MISMATCH,
                f"series {uid} is stored in study {series.study.study_instance_uid}, but this file puts it in "
                f"study {h['study_instance_uid']}; the UIDs are inconsistent",
            )
        study = self._study_for(h, patient)
        if isinstance(study, Outcome):
            return study
        if series is None:
            series = Series.objects.create(study=study, **series_fields(h))
        self._series[uid] = series
        return study, series

    def _study_for(self, h, patient):
        uid = h["study_instance_uid"]
        study = self._studies.get(uid) or Study.objects.filter(study_instance_uid=uid).first()
        if study is not None and study.patient_id != patient.pk:
            return Outcome.refused(
                R.PATIENT_MISMATCH,
                f"study {uid} is stored for patient {study.patient} but this file's Patient ID "
                f"belongs to patient {patient}; one of them is mislabelled",
            )
        if study is None:
            date = h["study_date"]
            timepoint = None
            if date is not None:
                timepoint = Timepoint.objects.filter(patient=patient, date=date).first()
                if timepoint is None:
                    timepoint, _ = timepoint_upsert(patient=patient, date=date,
                                                    kind=timepoint_kind_for(patient, date))
            study = Study.objects.create(
                patient=patient, timepoint=timepoint, study_instance_uid=uid, study_date=date,
                study_time=h["study_time"], study_description=clip(h["study_description"], 255),
            )
        self._studies[uid] = study
        return study

    def index(self, group):
        """Instance rows for a group of received image instances of one series (the caller's transaction).

        An instance stored meanwhile (another writer, or twice in the group) is a duplicate or a conflict.
        """
        h = group[0].header
        patient = self.patient_for(h)
        home = patient if isinstance(patient, Outcome) else self.place(h, patient)
        if isinstance(home, Outcome):
            return Indexed(series=None, refused=[(received, home) for received in group])
        _, series = home
        indexed = Indexed(series=series)
        uids = [r.header["sop_instance_uid"] for r in group]
        existing = {uid: rest for uid, *rest in Instance.objects.filter(sop_instance_uid__in=uids)
                    .values_list("sop_instance_uid", "sha256", "transfer_syntax_uid", "file")}
        rows = []
        for received in group:
            uid = received.header["sop_instance_uid"]
            if uid in existing:
                outcome = compare(received, existing[uid])
                if outcome.kind == DUPLICATE:
                    indexed.duplicates += 1
                else:
                    indexed.refused.append((received, outcome))
                continue
            existing[uid] = (received.sha256, clip(received.header["transfer_syntax_uid"], 64), received.name)
            rows.append(instance_row(received, series, self.job))
            indexed.stored.append(received)
        Instance.objects.bulk_create(rows)
        Series.objects.filter(pk=series.pk).update(
            instance_count=F("instance_count") + len(rows), volume_status=VolumeStatus.PENDING)
        return indexed


def auto_created_study_id(dicom_patient_id):
    """The study ID of a patient auto-created for a Patient ID: "IMG-" and 12 hex digits of HMAC-SHA256 keyed with
    ``RADIMMUNO_PSEUDONYM_KEY``.

    Keyed, because an unkeyed hash of an MRN is reversed by hashing every possible MRN (seconds for a hospital's
    MRN format); without the key the study ID says nothing about the MRN. Patients created earlier (with the
    unkeyed hash, or another key) keep their study IDs: a re-sent scan finds its patient by the MRN stored in its
    identity, never by recomputing the study ID.
    """
    key = getattr(settings, "RADIMMUNO_PSEUDONYM_KEY", "")
    if not key:
        raise ImproperlyConfigured("RADIMMUNO_PSEUDONYM_KEY is not set: auto-created patients need it for their "
                                   "study IDs (see README, production settings).")
    return "IMG-" + hmac.new(key.encode(), dicom_patient_id.encode(), hashlib.sha256).hexdigest()[:12]


def _auto_create_patient(dicom_patient_id):
    """Research sites (RADIMMUNO_AUTO_CREATE_PATIENTS): a pseudonymous patient for an unknown Patient ID."""
    code = getattr(settings, "RADIMMUNO_AUTO_CREATE_SITE", "IMAGING")
    site = Site.objects.filter(code=code).first() or site_create(code=code, name=f"{code} (created by imaging ingest)")
    study_id = auto_created_study_id(dicom_patient_id)
    patient, _, _ = patient_upsert(site=site, study_id=study_id, tumour_type="other")
    patient_identity_set(patient=patient, mrn=dicom_patient_id)
    return patient
