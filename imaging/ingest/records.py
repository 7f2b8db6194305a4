"""The rows of one file: its Series fields and the volume check of a series, its Instance row, whether its SOP
Instance UID is stored already (and with the same content), and the quarantine entries of refused files."""
from __future__ import annotations

import re

from django.db import connection
from django.utils import timezone

from .. import choices, storage
from ..choices import QuarantineReason as R
from ..choices import QuarantineStatus, VolumeStatus
from ..compute.dicom_headers import IMAGE_SOP_CLASSES, DicomHeaderError
from ..compute.volume import SUVError, VolumeAssemblyError, suv_bw_factor
from ..models import Instance, QuarantinedFile, Series, Timepoint
from .inputs import dataset_sha256
from .outcomes import DUPLICATE, Outcome

_STORED_INSTANCE_SQL = (
    f"SELECT sha256, transfer_syntax_uid, file FROM {Instance._meta.db_table} WHERE sop_instance_uid = %s"
)


def clip(value, length):
    """A header text cut to its column's length ("" for a missing value)."""
    return (value or "")[:length]


def _iso(value):
    return value.isoformat() if value is not None else ""


# --------------------------------------------------------------------------- series, instances, assessments


def series_fields(h):
    pet = h.get("pet") or {}
    spacing = h.get("pixel_spacing_mm") or (None, None)
    is_image = h["sop_class_uid"] in IMAGE_SOP_CLASSES
    return dict(
        series_instance_uid=h["series_instance_uid"], modality=clip(h["modality"], 16),
        sop_class_uid=h["sop_class_uid"], series_number=h["series_number"],
        series_description=clip(h["series_description"], 255),
        frame_of_reference_uid=clip(h["frame_of_reference_uid"], 64),
        manufacturer=clip(h["manufacturer"], 128), manufacturer_model_name=clip(h["manufacturer_model_name"], 128),
        convolution_kernel=clip(h["convolution_kernel"], 128), kvp=h["kvp"],
        contrast_bolus_agent=clip(h["contrast_bolus_agent"], 128), slice_thickness_mm=h["slice_thickness_mm"],
        pixel_spacing_row_mm=spacing[0], pixel_spacing_column_mm=spacing[1] if len(spacing) > 1 else None,
        rows=h["rows"], columns=h["columns"], acquisition_date=h["acquisition_date"],
        acquisition_time=(h["acquisition_time"].replace(tzinfo=None) if h["acquisition_time"] else None),
        patient_weight_kg=h["patient_weight_kg"], patient_size_m=h["patient_size_m"],
        radiopharmaceutical=clip(pet.get("radiopharmaceutical"), 64),
        radionuclide_total_dose_bq=pet.get("radionuclide_total_dose_bq"),
        radionuclide_half_life_s=pet.get("radionuclide_half_life_s"),
        radiopharmaceutical_start=clip(
            _iso(pet.get("radiopharmaceutical_start_datetime")) or _iso(pet.get("radiopharmaceutical_start_time")), 32),
        pet_units=clip(pet.get("units"), 16), decay_correction=clip(pet.get("decay_correction"), 16),
        volume_status=VolumeStatus.PENDING if is_image else VolumeStatus.NOT_IMAGE,
    )


def instance_row(received, series, job):
    h = received.header
    return Instance(series=series, sop_instance_uid=h["sop_instance_uid"], sop_class_uid=h["sop_class_uid"],
                    instance_number=h["instance_number"], sha256=received.sha256, file=received.name,
                    size_bytes=received.size, transfer_syntax_uid=clip(h["transfer_syntax_uid"], 64), job=job)


def timepoint_kind_for(patient, date):
    """Kind of a new assessment created for a scan: baseline before the first regimen, follow-up after it."""
    starts = sorted(r.start_date for r in patient.regimens.all())
    if not starts:
        return choices.TimepointKind.UNSCHEDULED
    if date > starts[0]:
        return choices.TimepointKind.FOLLOW_UP
    has_baseline = Timepoint.objects.filter(patient=patient, kind=choices.TimepointKind.BASELINE).exists()
    return choices.TimepointKind.PRE_BASELINE if has_baseline else choices.TimepointKind.BASELINE


def match_lesion(name, lesions_by_label):
    """The lesion a segment label names: the whole label (``"T1"``), else its first word (``"T1 lung"``)."""
    key = name.strip().lower()
    if key in lesions_by_label:
        return lesions_by_label[key]
    first = re.split(r"[\s_:/,;()-]+", key, maxsplit=1)[0]
    return lesions_by_label.get(first)


def series_layout(series, *, known=None):
    """The sorted geometry of a stored image series (headers only; ``known``: see ``storage.read_layout``)."""
    return storage.read_layout(series.instances.values_list("sop_instance_uid", "file"), known=known)


def series_finalize(series, *, known=None):
    """Check that a stored image series forms one regular volume; record geometry, warnings or the reason.

    Runs on header data only (no pixels), so it is cheap enough to run whenever a series got new instances.
    ``known``: headers of this run's instances (see ``series_layout``).
    """
    count = series.instances.count()
    fields = {"instance_count": count, "checked_at": timezone.now()}
    if not series.is_image:
        fields.update(volume_status=VolumeStatus.NOT_IMAGE)
    else:
        try:
            layout = series_layout(series, known=known)
        except (VolumeAssemblyError, DicomHeaderError) as exc:
            fields.update(volume_status=VolumeStatus.FAILED, volume_error_code=getattr(exc, "code", "unreadable"),
                          volume_message=str(exc), volume_warnings=[], geometry=None)
        else:
            warnings = [w.message for w in layout.warnings]
            suv = None
            if layout.modality == "PT":
                try:
                    suv, suv_warnings = suv_bw_factor(
                        layout.header, acquisition_datetimes=[s.acquisition_datetime for s in layout._slices]
                    )
                    warnings += [w.message for w in suv_warnings]
                except SUVError as exc:
                    warnings.append(f"SUVbw cannot be computed: {exc}")
            fields.update(
                volume_status=VolumeStatus.WARNINGS if warnings else VolumeStatus.OK, volume_error_code="",
                volume_message="", volume_warnings=warnings, geometry=storage.geometry_dict(layout.geometry),
                suv_bw_factor=suv,
            )
    Series.objects.filter(pk=series.pk).update(**fields)
    for name, value in fields.items():
        setattr(series, name, value)
    return series


# --------------------------------------------------------------------------- the same SOP Instance UID again


def stored_instance(uid):
    """(sha256, transfer syntax, file) of the stored instance with this UID, or None.

    Raw SQL: this runs for every received instance, and the ORM's query building costs more than the
    indexed look-up itself.
    """
    with connection.cursor() as cursor:
        cursor.execute(_STORED_INSTANCE_SQL, [uid])
        return cursor.fetchone()


def compare(received, existing, *, data=None, spool=None):
    """A file whose SOP Instance UID is stored (or received earlier in the run) as ``existing`` (sha256, transfer
    syntax, file): DUPLICATE when it is the same instance again, else the conflict Outcome (not yet quarantined).

    The same instance again: the same file; else the same data set (another receiver wrote other file meta); or
    another transfer syntax, whose bytes cannot be compared (a PACS re-encoding the same instance): then the
    stored copy is kept. ``existing`` received in this run and not yet placed has no sha256; its file is then
    its place in ``spool``.
    """
    sha, transfer_syntax, name = existing
    uid = received.header["sop_instance_uid"]
    if sha == received.sha256 or transfer_syntax != clip(received.header["transfer_syntax_uid"], 64):
        return Outcome(DUPLICATE)
    if data is None:
        data = storage.stored_bytes(received.name)
    theirs = spool.read(name) if sha is None else storage.stored_bytes(name)
    if dataset_sha256(theirs) == dataset_sha256(data):
        return Outcome(DUPLICATE)
    return Outcome.refused(
        R.CONFLICT,
        f"SOP Instance UID {uid} is already stored with different content (stored SHA-256 of its data set "
        f"{(sha or '?')[:12]}…); the stored original was kept. Two different objects must not share a UID: ask the "
        "sender which one is right")


# --------------------------------------------------------------------------- quarantine


class Quarantine:
    """The quarantine entries one run writes; each held file is counted in the run's tally."""

    def __init__(self, job, tally):
        self.job, self.tally = job, tally

    def hold(self, name, sha256, size, label, refusal, *, header=None, referenced_series_uid=""):
        """Keep a refused file (stored as ``name``) in quarantine with ``refusal``'s reason. Returns the Outcome,
        naming the entry that holds the file.

        The same bad file sent again (or re-tried) for the same reason is one entry, not two.
        """
        h = header or {}
        code, reason = refusal.code, refusal.reason
        held = QuarantinedFile.objects.filter(sha256=sha256, reason_code=code, status=QuarantineStatus.OPEN).first()
        if held is None:
            held = QuarantinedFile.objects.create(
                reason_code=code, reason=reason, file=name, sha256=sha256, size_bytes=size,
                original_name=clip(label, 500), source=self.job.source, peer_ae_title=self.job.peer_ae_title,
                job=self.job, dicom_patient_id=clip(h.get("patient_id"), 64),
                sop_instance_uid=clip(h.get("sop_instance_uid"), 64),
                study_instance_uid=clip(h.get("study_instance_uid"), 64),
                series_instance_uid=clip(h.get("series_instance_uid"), 64),
                referenced_series_uid=clip(referenced_series_uid, 64),
            )
        outcome = Outcome(refusal.kind, code, reason, held.pk)
        self.tally.quarantined(outcome, label=label, sha256=sha256)
        return outcome

    def hold_received(self, received, refusal, **extra):
        return self.hold(received.name, received.sha256, received.size, received.label, refusal,
                         header=received.header, **extra)


def quarantine_settle(q, *, holder, what, user=None):
    """Close entry ``q`` after its file was re-tried, unless the re-try left it in ``q`` itself.

    ``holder`` is the open entry the re-try quarantined the file into (None: ingested). The same reason again
    reuses ``q``, which then stays open in the curators' queue; another reason is a newer entry, named in the
    resolution. Returns the outcome in words.
    """
    if holder == q.pk:
        return "still quarantined"
    outcome = f"quarantined again as entry #{holder}" if holder else "ingested"
    quarantine_close(q, user=user, resolution=f"{what}: {outcome}")
    return outcome


def quarantine_close(q, *, resolution, user=None, status=QuarantineStatus.RESOLVED):
    q.status, q.resolution, q.resolved_by, q.resolved_at = status, resolution, user, timezone.now()
    q.save(update_fields=["status", "resolution", "resolved_by", "resolved_at"])
    return q
