"""Reads of the imaging app for pages, the API and radiomics: rows here, stored files through ``imaging.storage``."""
import difflib

from django.db.models import Count, OuterRef, Prefetch, Subquery
from django.db.models.fields.json import KeyTransform

from radimmuno.jobs import JobStatus

from . import storage
from .choices import LesionRole, QuarantineStatus, TimepointKind
from .models import (
    LESION_REGION,
    ExtractionProfile,
    FeatureSet,
    IngestJob,
    Lesion,
    LesionMeasurement,
    QuarantinedFile,
    Segment,
    Segmentation,
    Series,
    Study,
    Timepoint,
)


def ingest_job_detail(*, pk):
    return IngestJob.objects.select_related("started_by").get(pk=pk)


def ingest_jobs_recent(*, user=None, limit=10):
    qs = IngestJob.objects.select_related("started_by")
    if user is not None and not user.is_staff:
        qs = qs.filter(started_by=user)
    return qs[:limit]


def quarantine_open():
    return QuarantinedFile.objects.filter(status=QuarantineStatus.OPEN).select_related("job")


def quarantine_counts():
    return dict(quarantine_open().values_list("reason_code").annotate(n=Count("pk")))


def series_volume(series, *, convert_pet_to_suv=True):
    """The series as a 3-D volume (``imaging.compute.volume.Volume``: array, geometry, units, SUV factor)."""
    names = list(series.instances.values_list("file", flat=True))
    return storage.read_volume(names, convert_pet_to_suv=convert_pet_to_suv)


def series_geometry(series):
    if series.geometry:
        return storage.geometry_from_dict(series.geometry)
    return storage.read_layout(series.instances.values_list("sop_instance_uid", "file")).geometry


def segment_mask(segment):
    """The segment's mask as a SimpleITK image (uint8, 1 = lesion) on its image series' grid."""
    return storage.read_mask(segment.mask_file.name)


def segments_for_review(*, patient=None):
    qs = Segment.objects.select_related(
        "lesion", "segmentation__image_series__study__timepoint", "segmentation__image_series__study__patient",
        "measurement")
    if patient is not None:
        qs = qs.filter(segmentation__image_series__study__patient=patient)
    return qs


# -- radiomics ------------------------------------------------------------------------------------------------------
def feature_sets_for_patient(patient):
    return (FeatureSet.objects.filter(segment__segmentation__image_series__study__patient=patient)
            .select_related("profile", "segment__lesion", "segment__segmentation__image_series__study__timepoint")
            .order_by("segment__segmentation__image_series__study__study_date", "segment__number", "profile__name",
                      "region"))


def feature_table(feature_sets, *, layout="long"):
    """Features as a pandas DataFrame for analytics and export.

    ``long``: one row per (patient, lesion, timepoint, region, profile, feature) with its value.
    ``wide``: one row per feature set, one column per feature. Only finished sets are included. The patient is
    identified by the pseudonymous study ID only.
    """
    import pandas as pd

    rows = []
    queryset = feature_sets.filter(status="done").select_related(
        "profile", "segment__lesion", "segment__segmentation__image_series__study__patient",
        "segment__segmentation__image_series__study__timepoint")
    for fs in queryset:
        segment = fs.segment
        study = segment.segmentation.image_series.study
        when = study.timepoint.date if study.timepoint else study.study_date  # both may be unknown
        key = {
            "patient": study.patient.study_id,
            "lesion": segment.lesion.label if segment.lesion else f"segment {segment.number}",
            "timepoint": when.isoformat() if when else None,
            "region": fs.region,
            "profile": f"{fs.profile.name}@v{fs.profile.version}",
            "feature_set": fs.pk,
            # Tell apart segments not (yet) mapped to a lesion: their label, number, mask object and series.
            "segment_label": segment.label,
            "segment_number": segment.number,
            "segmentation": segment.segmentation_id,
            "series": segment.segmentation.image_series_id,
        }
        if layout == "wide":
            rows.append({**key, **fs.features})
        else:
            rows.extend({**key, "feature": name, "value": value} for name, value in fs.features.items())
    columns = ["patient", "lesion", "timepoint", "region", "profile", "feature_set", "segment_label", "segment_number",
               "segmentation", "series"]
    if layout == "long":
        columns += ["feature", "value"]
    return pd.DataFrame(rows, columns=None if (layout == "wide" and rows) else columns)


def patient_measurement_grid(*, patient):
    """Lesions x timepoints with the recorded measurement in each cell: four queries whatever the patient's size."""
    timepoints = list(Timepoint.objects.filter(patient=patient).order_by("date"))
    lesions = list(Lesion.objects.filter(patient=patient).order_by("role", "label"))
    measurements = LesionMeasurement.objects.filter(lesion__patient=patient).only(
        "lesion_id", "timepoint_id", "size_mm", "status", "non_target_status", "source"
    )
    by_cell = {(m.lesion_id, m.timepoint_id): m for m in measurements}
    rows = [{"lesion": lesion, "cells": [by_cell.get((lesion.pk, tp.pk)) for tp in timepoints]} for lesion in lesions]
    return {"patient": patient, "timepoints": timepoints, "lesion_rows": rows}


def patient_scans(*, patient):
    """Studies → series → segmentations → segments, and the radiomics status counts: a fixed number of queries."""
    segments = Segment.objects.select_related("lesion").order_by("number")
    series = (Series.objects.defer("geometry", "volume_warnings").order_by("series_number", "pk")
              .prefetch_related(Prefetch("segmentations", queryset=Segmentation.objects.order_by("pk").prefetch_related(
                  Prefetch("segments", queryset=segments)))))
    studies = list(Study.objects.filter(patient=patient).select_related("timepoint")
                   .prefetch_related(Prefetch("series", queryset=series)).order_by("study_date", "pk"))
    counts = dict(FeatureSet.objects.filter(segment__segmentation__image_series__study__patient=patient)
                  .order_by().values_list("status").annotate(n=Count("pk")))
    radiomics = {
        "total": sum(counts.values()),
        "done": counts.get(JobStatus.DONE, 0),
        "failed": counts.get(JobStatus.FAILED, 0),
        "unfinished": counts.get(JobStatus.PENDING, 0) + counts.get(JobStatus.RUNNING, 0),
    }
    return {"patient": patient, "studies": studies, "radiomics": radiomics}


# -- what the response engine reads (analytics builds its input from these, never from imaging's models) --------
def regimen_timepoints(*, regimen):
    """The imaging timepoints assessed for ``regimen``, oldest first."""
    return list(Timepoint.objects.filter(regimen=regimen).order_by("date"))


def regimen_measurements(*, regimen):
    """A regimen's timepoints, the patient's lesions (by pk) and the measurements of those timepoints grouped by
    timepoint pk: three queries whatever the patient's size."""
    timepoints = regimen_timepoints(regimen=regimen)
    lesions = {lesion.pk: lesion for lesion in
               Lesion.objects.filter(patient_id=regimen.patient_id).select_related("appeared_at")}
    by_timepoint = {}
    for m in LesionMeasurement.objects.filter(timepoint__in=timepoints).order_by():
        by_timepoint.setdefault(m.timepoint_id, []).append(m)
    return timepoints, lesions, by_timepoint


# -- what the survival analyses read: radiomic features as covariates (analytics.selectors.survival) -----------
def radiomic_feature_lookup(*, profile, feature):
    """Whether ``feature`` is a feature that the latest version of profile ``profile`` extracted.

    Returns ``{"version": int | None, "known": bool, "close": [names]}``: ``version`` is the profile's latest
    version (None when no profile has that name); ``known`` means at least one done ``lesion``-region feature set
    of that version holds the feature; ``close`` offers similar feature names when it is not known (from one done
    feature set). At most three queries, whatever the number of feature sets.
    """


    version = (ExtractionProfile.objects.filter(name=profile).order_by("-version")
               .values_list("version", flat=True).first())
    if version is None:
        return {"version": None, "known": False, "close": []}
    done = FeatureSet.objects.filter(profile__name=profile, profile__version=version, region=LESION_REGION,
                                     status=JobStatus.DONE)
    if done.filter(features__has_key=feature).exists():
        return {"version": version, "known": True, "close": []}
    some = done.order_by("pk").values_list("features", flat=True).first() or {}
    return {"version": version, "known": False, "close": difflib.get_close_matches(feature, list(some), n=3)}


def baseline_target_feature_values(*, patients, profile, feature):
    """One feature of profile ``profile``'s latest version on each patient's baseline target lesions.

    ``patients`` is a list (or a queryset) of patient pks. Only feature sets of region ``lesion`` on segments
    mapped to a TARGET lesion, in a study attached to a timepoint of kind BASELINE, count. Returns
    ``{patient_pk: [(timepoint_date, lesion_pk, segment_pk, status, value), ...]}`` ordered by timepoint date,
    lesion and segment, every status included (the caller decides what an unfinished set means); ``value`` is the
    stored value (None when the set does not hold the feature). One query (the latest version is a subquery).
    """


    latest = (ExtractionProfile.objects.filter(name=OuterRef("profile__name")).order_by("-version")
              .values("version")[:1])
    study = "segment__segmentation__image_series__study"
    rows = (FeatureSet.objects
            .filter(**{f"{study}__patient__in": patients, f"{study}__timepoint__kind": TimepointKind.BASELINE,
                       "segment__lesion__role": LesionRole.TARGET, "profile__name": profile,
                       "region": LESION_REGION})
            .filter(profile__version=Subquery(latest))
            .annotate(value=KeyTransform(feature, "features"))
            .order_by(f"{study}__patient_id", f"{study}__timepoint__date", "segment__lesion_id", "segment_id")
            .values_list(f"{study}__patient_id", f"{study}__timepoint__date", "segment__lesion_id", "segment_id",
                         "status", "value"))
    values = {}
    for patient_pk, *row in rows:
        values.setdefault(patient_pk, []).append(tuple(row))
    return values
