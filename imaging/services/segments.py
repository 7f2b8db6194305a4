"""Curators' and clinicians' review of the segments ingest derived from masks: map a segment to a lesion, accept
its RECIST size as the lesion's measurement, or record their own instead."""
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .. import choices
from ..choices import LesionMapping, ProposalStatus
from ..models import LesionMeasurement, Segment
from .assessments import measurement_record


@transaction.atomic
def segment_assign_lesion(*, segment, lesion, user=None):
    """A curator maps a segment to a lesion of the same patient."""
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
def segment_measurement_override(*, segment, user, size_mm, status=choices.MeasurementStatus.PRESENT, **fields):
    """The clinician disagrees with the derived size: record theirs (a manual measurement) instead. ``fields``: the
    rest of the reading (e.g. ``non_target_status``), recorded with it."""
    lesion, timepoint = _review_target(segment)
    measurement, _ = measurement_record(
        lesion=lesion, timepoint=timepoint, user=user, size_mm=size_mm, status=status,
        source=choices.MeasurementSource.MANUAL, **fields,
    )
    segment.proposal_status, segment.measurement = ProposalStatus.OVERRIDDEN, measurement
    segment.reviewed_by, segment.reviewed_at = user, timezone.now()
    segment.save()
    return measurement


@transaction.atomic
def measurement_enter(*, lesion, timepoint, user, **fields):
    """A person's reading of one lesion at one assessment (the lesion table's cell, the API): when a segmentation
    proposes a size for this lesion there, the person's value overrides the proposal (the segment says so);
    otherwise it is recorded as is. Returns the measurement."""
    proposed = Segment.objects.filter(lesion=lesion, segmentation__image_series__study__timepoint=timepoint,
                                      proposal_status=ProposalStatus.PROPOSED).first()
    if proposed is not None:
        return segment_measurement_override(segment=proposed, user=user, **fields)
    measurement, _ = measurement_record(lesion=lesion, timepoint=timepoint, user=user, **fields)
    return measurement
