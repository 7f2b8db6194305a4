"""Reads of the imaging app for pages, the API and radiomics: rows here, stored files through ``imaging.storage``."""
import datetime as dt
import difflib
import fnmatch
from collections import OrderedDict

from django.db.models import Count, OuterRef, Prefetch, Subquery, TextField
from django.db.models.functions import Cast
from django.db.models.fields.json import KeyTransform

from accounts.access import scope
from radimmuno.history import change_entries
from radimmuno.jobs import JobStatus
from radimmuno.lazy import lazy_import

from . import storage
from .compute import viewer
from .choices import LesionRole, QuarantineStatus, TimepointKind
from .models import (
    LESION_REGION,
    ExternalFeatureSet,
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

sitk = lazy_import("SimpleITK")


def ingest_job_detail(*, pk):
    return IngestJob.objects.select_related("started_by").get(pk=pk)


def ingest_jobs_recent(*, user, limit=10):
    """The user's recent ingest jobs (a superuser's or network-wide member's: everyone's)."""
    return scope(IngestJob.objects.select_related("started_by"), user)[:limit]


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


def feature_set_grid(feature_sets):
    """Lesion x scan date of ``feature_sets`` (as ``feature_sets_for_patient`` reads them): ``(dates, rows)``, each
    row ``(lesion label, [None or {"done", "unfinished", "failed"} counts per date])``. No query."""
    def date_of(fs):
        return fs.segment.segmentation.image_series.study.study_date

    dates = sorted({date_of(fs) for fs in feature_sets}, key=lambda d: (d is None, d))
    grid = {}
    for fs in feature_sets:
        label = fs.segment.lesion.label if fs.segment.lesion else f"segment {fs.segment.number} (not mapped)"
        cell = grid.setdefault(label, dict.fromkeys(dates)).get(date_of(fs)) or {"done": 0, "unfinished": 0, "failed": 0}
        cell["done" if fs.status == JobStatus.DONE else "failed" if fs.status == JobStatus.FAILED else "unfinished"] += 1
        grid[label][date_of(fs)] = cell
    return dates, [(label, [cells[d] for d in dates]) for label, cells in sorted(grid.items())]


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


FEATURE_SET_CONTEXT = ("profile", "segment__lesion", "segment__segmentation__image_series__study__patient",
                       "segment__segmentation__image_series__study__timepoint")


def feature_values_long(feature_sets, *, feature_pattern=None):
    """Finished feature sets as one record per feature (the API's long format), in the sets' order, features by name.
    ``feature_pattern``: shell patterns of pyradiomics names, comma-separated (``original_glcm_*,original_shape_*``)."""
    patterns = [p.strip() for p in (feature_pattern or "").split(",") if p.strip()]
    for fs in feature_sets:
        study = fs.segment.segmentation.image_series.study
        key = {"feature_set": fs.pk, "patient": study.patient.study_id,
               "lesion": fs.segment.lesion.label if fs.segment.lesion_id else None,
               "timepoint": study.timepoint_id, "date": study.timepoint.date if study.timepoint_id else study.study_date,
               "profile": f"{fs.profile.name}@v{fs.profile.version}", "region": fs.region}
        for feature, value in sorted(fs.features.items()):  # by name: PostgreSQL's jsonb keeps no key order
            if patterns and not any(fnmatch.fnmatchcase(feature, p) for p in patterns):
                continue
            yield {**key, "feature": feature, "value": value if isinstance(value, (int, float)) else None}


def patient_measurement_grid(*, patient):
    """Lesions x timepoints with the recorded measurement in each cell (and, where a segmentation of that lesion was
    measured, its series and key slice for the viewer): five queries whatever the patient's size."""
    timepoints = list(Timepoint.objects.filter(patient=patient).order_by("date"))
    lesions = list(Lesion.objects.filter(patient=patient).select_related("appeared_at").order_by("role", "label"))
    measurements = LesionMeasurement.objects.filter(lesion__patient=patient).only(
        "lesion_id", "timepoint_id", "size_mm", "status", "non_target_status", "source"
    )
    by_cell = {(m.lesion_id, m.timepoint_id): m for m in measurements}
    segments = {(s.lesion_id, s.segmentation.image_series.study.timepoint_id): s for s in Segment.objects.filter(
        lesion__patient=patient, voxel_count__gt=0).select_related("lesion", "segmentation__image_series__study")}
    rows = [{"lesion": lesion, "cells": [
        {"measurement": by_cell.get((lesion.pk, tp.pk)), "timepoint": tp, "segment": segments.get((lesion.pk, tp.pk)),
         # a new lesion is recorded from the assessment where it appeared; a baseline lesion from the baseline on
         "applies": tp.date >= lesion.appeared_at.date if lesion.appeared_at_id else tp.kind != TimepointKind.PRE_BASELINE
         or lesion.role == LesionRole.TARGET}
        for tp in timepoints]} for lesion in lesions]
    return {"patient": patient, "timepoints": timepoints, "lesion_rows": rows}


def patient_scans(*, patient):
    """Studies → series → segmentations → segments, and the radiomics status counts: a fixed number of queries."""
    segments = Segment.objects.select_related("lesion").order_by("number")
    series = (Series.objects.defer("geometry", "volume_warnings").order_by("series_number", "pk")
              .prefetch_related(Prefetch("segmentations", queryset=Segmentation.objects.order_by("pk").prefetch_related(
                  Prefetch("segments", queryset=segments)))))
    studies = list(Study.objects.filter(patient=patient).select_related("timepoint")
                   .prefetch_related(Prefetch("series", queryset=series)).order_by("study_date", "pk"))
    radiomics = feature_set_counts(FeatureSet.objects.filter(segment__segmentation__image_series__study__patient=patient))
    return {"patient": patient, "studies": studies, "radiomics": radiomics}


def feature_set_counts(feature_sets):
    """{total, done, failed, unfinished} of a FeatureSet queryset, in one query."""
    counts = dict(feature_sets.order_by().values_list("status").annotate(n=Count("pk")))
    return {
        "total": sum(counts.values()),
        "done": counts.get(JobStatus.DONE, 0),
        "failed": counts.get(JobStatus.FAILED, 0),
        "unfinished": counts.get(JobStatus.PENDING, 0) + counts.get(JobStatus.RUNNING, 0),
    }


def ingest_job_radiomics(job):
    """The radiomics of the segmentations an ingest job stored (the upload page follows them to the end)."""
    return feature_set_counts(FeatureSet.objects.filter(segment__segmentation__in=(job.summary or {}).get(
        "segmentations", [])))


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


# -- delta-radiomics inputs -----------------------------------------------------------------------------------------
#: Series attributes the acquisition-mismatch flags compare (analytics.compute.delta.ACQUISITION_ATTRIBUTES).
_ACQUISITION_FIELDS = ("convolution_kernel", "slice_thickness_mm", "pixel_spacing_row_mm", "pixel_spacing_column_mm",
                       "kvp", "contrast_bolus_agent", "manufacturer", "manufacturer_model_name", "radiopharmaceutical",
                       "pet_units", "decay_correction", "acquisition_date", "acquisition_time",
                       "radiopharmaceutical_start")


def _acquisition(values):
    """The compared attributes of a series from its row values (uptake in minutes for PET, else None)."""
    row = dict(zip(_ACQUISITION_FIELDS, values, strict=True))
    spacing = (row.pop("pixel_spacing_row_mm"), row.pop("pixel_spacing_column_mm"))
    row["pixel_spacing_mm"] = spacing if None not in spacing else None
    acquired_on, acquired_at, injected = row.pop("acquisition_date"), row.pop("acquisition_time"), row.pop(
        "radiopharmaceutical_start")
    row["uptake_minutes"] = None
    if injected and acquired_on and acquired_at:
        try:
            start = dt.datetime.fromisoformat(injected)
        except ValueError:
            start = None
        if start is not None:
            row["uptake_minutes"] = (dt.datetime.combine(acquired_on, acquired_at)
                                     - start.replace(tzinfo=None)).total_seconds() / 60.0
    return row


def lesion_feature_rows(*, patients, timepoints=None):
    """The finished feature sets of these patients' lesions, one per (lesion, timepoint, profile version, region),
    and their imported (external) feature sets, which have no series (``acquisition`` None).

    ``patients``: a list or queryset of patient pks. Yields ``(patient_pk, lesion_pk, timepoint_pk, profile_pk,
    region, features, acquisition)`` ordered by patient: only sets of segments mapped to a lesion, in a study
    attached to a timepoint; where two segments of one lesion were extracted at one timepoint, the newest segment
    (highest pk) counts. ``acquisition`` holds the series attributes the delta flags compare. The feature JSON is
    decoded with orjson (a 1,500-feature set is ~80 KB of JSON). ``timepoints``: only these timepoint pks (None:
    all). Two queries.
    """
    import orjson

    study = "segment__segmentation__image_series__study"
    series = "segment__segmentation__image_series"
    # No status filter in SQL: SQLite would then start from the status index and visit every feature set of the
    # database for each call (quadratic over a cohort); from the patients' studies it visits only theirs.
    rows = (FeatureSet.objects
            .filter(**{f"{study}__patient__in": patients,
                       "segment__lesion__isnull": False, f"{study}__timepoint__isnull": False})
            .filter(**({f"{study}__timepoint__in": timepoints} if timepoints is not None else {}))
            .annotate(features_text=Cast("features", TextField()))
            .order_by(f"{study}__patient_id", "segment_id", "profile_id", "region")
            .values_list(f"{study}__patient_id", "segment__lesion_id", f"{study}__timepoint_id", "profile_id",
                         "region", "status", "features_text",
                         *(f"{series}__{name}" for name in _ACQUISITION_FIELDS)))
    external = {}
    imported = ExternalFeatureSet.objects.filter(lesion__patient__in=patients)
    if timepoints is not None:
        imported = imported.filter(timepoint__in=timepoints)
    for patient_pk, lesion_pk, timepoint_pk, profile_pk, region, text in (
            imported.annotate(features_text=Cast("features", TextField())).order_by("lesion__patient_id", "pk")
            .values_list("lesion__patient_id", "lesion_id", "timepoint_id", "profile_id", "region", "features_text")):
        external.setdefault(patient_pk, []).append(
            (patient_pk, lesion_pk, timepoint_pk, profile_pk, region, orjson.loads(text), None))
    current, chosen = None, {}
    for patient_pk, lesion_pk, timepoint_pk, profile_pk, region, status, text, *acquisition in (
            rows.iterator(chunk_size=200)):
        if status != JobStatus.DONE:
            continue
        if patient_pk != current:
            yield from chosen.values()
            yield from external.pop(current, [])
            current, chosen = patient_pk, {}
        chosen[(lesion_pk, timepoint_pk, profile_pk, region)] = (
            patient_pk, lesion_pk, timepoint_pk, profile_pk, region, orjson.loads(text), _acquisition(acquisition))
    yield from chosen.values()
    yield from external.pop(current, [])
    for patient_pk in sorted(external):  # patients with imported features only
        yield from external[patient_pk]


def patient_lesion_links(*, patients):
    """``{patient_pk: {lesion_pk: (label, role, split_from_pk, merged_into_pk)}}``. One query."""
    out = {}
    for pk, patient_pk, label, role, split_from, merged_into in (
            Lesion.objects.filter(patient__in=patients)
            .values_list("pk", "patient_id", "label", "role", "split_from_id", "merged_into_id")):
        out.setdefault(patient_pk, {})[pk] = (label, role, split_from, merged_into)
    return out


def patient_timepoint_list(*, patient):
    """The patient's imaging assessments, oldest first. One query."""
    return list(Timepoint.objects.filter(patient=patient).order_by("date"))


def patient_timepoint_dates(*, patients):
    """``{patient_pk: {timepoint_pk: (date, kind)}}``. One query."""
    out = {}
    for pk, patient_pk, date, kind in Timepoint.objects.filter(patient__in=patients).values_list(
            "pk", "patient_id", "date", "kind"):
        out.setdefault(patient_pk, {})[pk] = (date, kind)
    return out


def profile_versions(*, pks=None):
    """``{profile_pk: (name, version)}`` (every profile, or those pks). One query."""
    queryset = ExtractionProfile.objects.all() if pks is None else ExtractionProfile.objects.filter(pk__in=pks)
    return {pk: (name, version) for pk, name, version in queryset.values_list("pk", "name", "version")}


def patient_has_lesion_features(*, patient_id):
    """Whether any finished or imported feature set describes a lesion of the patient (two queries at most)."""
    return (FeatureSet.objects.filter(segment__lesion__patient_id=patient_id, status=JobStatus.DONE).exists()
            or ExternalFeatureSet.objects.filter(lesion__patient_id=patient_id).exists())


# -- what the feature-robustness analysis reads (analytics.services.robustness) -------------------------------------
def extraction_profile_latest(*, name):
    """The latest version of profile ``name``; None when no profile has that name."""
    return ExtractionProfile.objects.filter(name=name).order_by("-version").first()


def lesion_feature_sets_done(*, profile, limit=None):
    """The done ``lesion``-region feature sets of profile version ``profile`` whose segment is mapped to a lesion,
    oldest first, with segment, lesion, series, study, timepoint and patient loaded (one query). ``limit``: at most
    that many."""
    queryset = (FeatureSet.objects
                .filter(profile=profile, region=LESION_REGION, status=JobStatus.DONE, segment__lesion__isnull=False)
                .select_related("profile", "segment__lesion", "segment__segmentation__image_series__study__patient",
                                "segment__segmentation__image_series__study__timepoint")
                .order_by("pk"))
    return list(queryset[:limit] if limit else queryset)


def patient_change_history(*, patient):
    """The patient's imaging assessments, lesions and measurements as they changed (radimmuno.history entries)."""
    timepoints = Timepoint.history.filter(patient_id=patient.pk).select_related("history_user")
    lesions = Lesion.history.filter(patient_id=patient.pk).select_related("history_user")
    measurements = LesionMeasurement.history.filter(
        lesion__patient_id=patient.pk).select_related("history_user", "lesion", "timepoint")
    return [
        *change_entries(timepoints, record_type="assessment", fields=["date", "kind"],
                        describe=lambda r: f"{r.get_kind_display().lower()} of {r.date:%Y-%m-%d}"),
        *change_entries(lesions, record_type="lesion", fields=["role", "organ", "nodal", "equivocal"],
                        describe=lambda r: f"{r.label} ({r.get_organ_display().lower()})"),
        *change_entries(measurements, record_type="measurement", fields=["size_mm", "status", "non_target_status"],
                        describe=lambda r: f"{r.lesion.label} at {r.timepoint.date:%Y-%m-%d}"),
    ]


# -- the scan viewer: one slice at a time, from a small in-process cache of decoded series and masks ---------------
_VIEWER_CACHE = OrderedDict()  # key -> decoded array; the few series being read now
_VIEWER_CACHE_SIZE = 6


def _cached(key, load):
    if key in _VIEWER_CACHE:
        _VIEWER_CACHE.move_to_end(key)
        return _VIEWER_CACHE[key]
    value = load()
    _VIEWER_CACHE[key] = value
    while len(_VIEWER_CACHE) > _VIEWER_CACHE_SIZE:
        _VIEWER_CACHE.popitem(last=False)
    return value


def _viewer_segments(series):
    return list(Segment.objects.filter(segmentation__image_series=series, voxel_count__gt=0).select_related(
        "lesion").order_by("segmentation_id", "number"))


def series_viewer(*, series):
    """The viewer page's facts about a series: slice count, units, default window, and its segments with their
    lesion labels and key slices (where the RECIST size was proposed)."""
    segments = _viewer_segments(series)
    slices = series.geometry["size"][2] if series.geometry else series.instance_count
    is_pet = series.modality == "PT"
    return {"series": series, "slices": slices, "segments": segments,
            "default_window": "suv" if is_pet else "mediastinum",
            "windows": [w for w in viewer.WINDOWS if (w == "suv") == is_pet]}


def series_slice_png(*, series, z, window):
    """Slice ``z`` of the series as a PNG with its segments outlined (imaging.compute.viewer). Raises IndexError for
    a slice outside the series."""
    def load_volume():
        return series_volume(series).array

    array = _cached(("series", series.pk, series.instance_count), load_volume)
    if not 0 <= z < array.shape[0]:
        raise IndexError(f"slice {z} is outside this series (0 to {array.shape[0] - 1})")
    overlays = []
    for segment in _viewer_segments(series):
        mask = _cached(("mask", segment.pk, segment.mask_sha256),
                       lambda segment=segment: sitk.GetArrayFromImage(segment_mask(segment)).astype(bool))
        ends = segment.axis_endpoints or {}
        on_key_slice = segment.slice_index == z
        overlays.append({
            "mask": mask[z] if mask.shape == array.shape else None,
            "label": segment.lesion.label if segment.lesion else segment.label,
            "long": [p[:2] for p in ends["long"]] if on_key_slice and ends.get("long") else None,
            "short": [p[:2] for p in ends["short"]] if on_key_slice and ends.get("short") else None,
        })
    return viewer.slice_png(array[z], window=window, overlays=overlays)


def curation_counts(*, user):
    """What waits for a curator at their sites (the worklist's curation row): segments without a lesion, proposed
    sizes to accept, failed extractions, quarantined files. Four counts, one query each."""
    segments = scope(Segment.objects.filter(voxel_count__gt=0), user)
    return {
        "unmapped_segments": segments.filter(lesion__isnull=True).count(),
        "proposed_sizes": segments.filter(lesion__isnull=False, proposal_status="proposed").count(),
        "failed_extractions": scope(FeatureSet.objects.filter(status=JobStatus.FAILED), user).count(),
        "quarantined_files": quarantine_open().count(),
    }
