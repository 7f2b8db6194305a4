"""Radiomics services: extraction profiles, feature-set requests and extraction (single and batch).

The hand-off: a new lesion mask (``Segment``) → ``feature_sets_request`` creates one ``FeatureSet`` per
(active profile for the modality, region) and enqueues it after commit → the task re-fetches it by id and
calls ``feature_set_compute`` (idempotent: it recomputes from the stored image and mask; the unique
constraint makes a duplicate run harmless).
"""
import hashlib
import json
import logging
import threading
import uuid
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import yaml
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from radimmuno.jobs import JobFailed, JobStatus
from radimmuno.lazy import lazy_import

from ..models import ExtractionProfile, FeatureSet, Instance, Segment, Study
from ..selectors import segment_mask, series_volume
from ..signals import feature_sets_done

sitk = lazy_import("SimpleITK")
radiomics_compute = lazy_import("imaging.compute.radiomics")  # pyradiomics, scipy: loaded on first use

logger = logging.getLogger(__name__)
MODALITY_ALIASES = {"PET": "PT"}


# -- profiles -----------------------------------------------------------------------------------------------------
def _clean_rings(rings_mm):
    rings = []
    for ring in rings_mm or []:
        try:
            inner, outer = (float(v) for v in ring)
        except (TypeError, ValueError):
            raise ValidationError({"rings_mm": f"A ring is [inner_mm, outer_mm], got {ring!r}."}) from None
        if not 0 <= inner < outer:
            raise ValidationError({"rings_mm": f"Ring [{inner:g}, {outer:g}] mm: need 0 <= inner < outer."})
        rings.append([inner, outer])
    return rings


@transaction.atomic
def profile_save(*, name, params, rings_mm=(), modality="", description="", active=True, user=None):
    """Create the first or the next version of a profile. Returns (profile, created).

    Unchanged parameters and rings return the current version: saving twice never makes a new version.
    """
    try:
        validated = radiomics_compute.validate_params(params)
    except radiomics_compute.InvalidParameters as exc:
        raise ValidationError({"params": [str(m) for m in (getattr(exc, "errors", None) or [str(exc)])]}) from None
    rings = _clean_rings(rings_mm)
    modality = MODALITY_ALIASES.get(modality.upper(), modality.upper()) if modality else ""
    digest = radiomics_compute.params_hash(validated)
    latest = ExtractionProfile.objects.select_for_update().filter(name=name).order_by("-version").first()
    if latest and latest.params_hash == digest and latest.rings_mm == rings and latest.modality == modality:
        if latest.active != active or (description and latest.description != description):
            latest.active, latest.description = active, description or latest.description
            latest.save(update_fields=["active", "description"])
        return latest, False
    if latest and active:
        ExtractionProfile.objects.filter(name=name).update(active=False)  # one active version per name
    profile = ExtractionProfile(
        name=name, version=(latest.version + 1) if latest else 1, modality=modality, params=validated,
        params_hash=digest, rings_mm=rings, description=description, active=active, created_by=user,
    )
    profile.full_clean()
    profile.save()
    return profile, True


PROFILE_SECTION = "radimmuno"  # what a profile adds to pyradiomics' parameters, in an exported file
_SECTION_KEYS = ("modality", "rings_mm", "description")


def _profile_section(section):
    """The profile fields an exported file's ``radimmuno:`` section gives (modality, rings, description)."""
    if section is None:
        return {}
    if not isinstance(section, dict) or set(section) - set(_SECTION_KEYS):
        unknown = ", ".join(sorted(set(section) - set(_SECTION_KEYS))) if isinstance(section, dict) else ""
        raise ValidationError({PROFILE_SECTION: f"The {PROFILE_SECTION} section holds only "
                                                f"{', '.join(_SECTION_KEYS)}" + (f"; unknown: {unknown}." if unknown else ".")})
    for key in ("modality", "description"):
        if not isinstance(section.get(key, ""), str):
            raise ValidationError({PROFILE_SECTION: f"{PROFILE_SECTION}.{key} must be text."})
    rings = section.get("rings_mm", [])
    if not isinstance(rings, list):
        raise ValidationError({"rings_mm": f"{PROFILE_SECTION}.rings_mm is a list of [inner_mm, outer_mm], got {rings!r}."})
    return {"modality": section.get("modality", ""), "rings_mm": _clean_rings(rings),
            "description": section.get("description", "")}


def profile_load_yaml(*, name, source, **given):
    """Create or version a profile from a pyradiomics parameter YAML file (a path or the text itself).

    A file written by :func:`profile_export_yaml` carries the profile's modality, rings and description in a
    ``radimmuno:`` section, so loading it back gives the same profile; keyword arguments that are given (not
    None) override the section.
    """
    text = str(source)
    if isinstance(source, Path) or ("\n" not in text and (Path(text).is_file() or text.endswith((".yaml", ".yml")))):
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValidationError({"params": [f"Cannot read {source}: {exc.strerror}."]}) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError({"params": [f"Not valid YAML: {str(exc).splitlines()[0]}"]}) from None
    fields = {}
    if isinstance(document, dict):
        fields = _profile_section(document.pop(PROFILE_SECTION, None))
    try:
        params = radiomics_compute.load_params(document if isinstance(document, dict) else text)
    except radiomics_compute.InvalidParameters as exc:
        raise ValidationError({"params": [str(exc)]}) from None
    fields.update({key: value for key, value in given.items() if value is not None})
    return profile_save(name=name, params=params, **fields)


def profile_export_yaml(profile, *, params_only=False):
    """The profile as YAML: pyradiomics' parameters and (unless ``params_only``, for stock pyradiomics, which
    refuses unknown keys) a ``radimmuno:`` section with the modality, rings and description."""
    text = radiomics_compute.dump_params(profile.params)
    if params_only:
        return text
    section = {"modality": profile.modality, "rings_mm": profile.rings_mm, "description": profile.description}
    return text + yaml.safe_dump({PROFILE_SECTION: section}, sort_keys=False, default_flow_style=None)


@transaction.atomic
def profile_set_active(*, name, active):
    """Switch a profile's automatic extraction off (every version) or on (its latest version), without a new
    version. Returns the latest version; raises ExtractionProfile.DoesNotExist for an unknown name."""
    versions = ExtractionProfile.objects.select_for_update().filter(name=name)
    latest = versions.order_by("-version").first()
    if latest is None:
        raise ExtractionProfile.DoesNotExist(f"No extraction profile named '{name}'.")
    versions.exclude(pk=latest.pk).update(active=False)  # one active version per name
    if latest.active != active:
        latest.active = active
        latest.save(update_fields=["active"])
    return latest


# -- requests -----------------------------------------------------------------------------------------------------
_deferred = threading.local()


@contextmanager
def auto_extract_deferred():
    """Within this block new masks don't enqueue extraction; the caller extracts them in one batch afterwards
    (``feature_sets_extract_batch``), which loads each series once and uses every core."""
    previous = getattr(_deferred, "active", False)
    _deferred.active = True
    try:
        yield
    finally:
        _deferred.active = previous


def auto_extract_enabled():
    return settings.RADIMMUNO_AUTO_EXTRACT and not getattr(_deferred, "active", False)


def profiles_for_modality(modality):
    modality = MODALITY_ALIASES.get(modality, modality)
    return list(ExtractionProfile.objects.filter(active=True, modality=modality))


def feature_sets_request(*, segment, profiles=None, retry_failed=False, enqueue=True):
    """Create (or reuse) the feature sets of a lesion mask and enqueue the new ones. Returns them all.

    ``enqueue=False`` only creates the rows (pending), for a caller that extracts them itself in a batch.
    """
    if profiles is None:
        profiles = profiles_for_modality(segment.segmentation.image_series.modality)
    wanted = []
    for profile in profiles:
        for region in profile.regions:
            fs, created = FeatureSet.objects.get_or_create(segment=segment, profile=profile, region=region)
            if enqueue and (created or (retry_failed and fs.status == JobStatus.FAILED)):
                fs.enqueue()
            wanted.append(fs)
    return wanted


def feature_set_retry(*, feature_set):
    """Run a (failed) feature set again."""
    feature_set.enqueue()



# -- extraction ---------------------------------------------------------------------------------------------------
def _volume_cache_dir():
    path = Path(settings.MEDIA_ROOT) / "volumes"
    path.mkdir(parents=True, exist_ok=True)
    return path


def series_volume_path(series):
    """NRRD of the series' assembled volume (cached, keyed by the SHA-256 of its instances' content).

    The series is read and assembled once for all of its lesions and profiles; a changed instance set gives a
    new key, so the cache can never serve a stale volume.
    """
    shas = list(Instance.objects.filter(series=series).order_by("sop_instance_uid").values_list("sha256", flat=True))
    if not shas:
        raise JobFailed(f"Series {series} has no stored instances.")
    key = hashlib.sha256("".join(shas).encode()).hexdigest()
    path = _volume_cache_dir() / f"{key}.nrrd"
    if not path.exists():
        try:
            volume = series_volume(series)
        except Exception as exc:  # noqa: BLE001 - typed volume errors carry a readable message
            raise JobFailed(f"The image series could not be assembled into a volume: {exc}") from None
        tmp = path.with_name(f".{key}-{uuid.uuid4().hex}.nrrd")  # two workers may build the same volume
        sitk.WriteImage(volume.to_sitk(), str(tmp), useCompression=True)
        tmp.replace(path)
    return path


def _region_mask(feature_set, mask_image):
    if feature_set.region == "lesion":
        return mask_image
    inner, outer = feature_set.profile.ring_for(feature_set.region)
    try:
        return radiomics_compute.peritumoral_ring(mask_image, inner, outer)
    except radiomics_compute.RegionError as exc:
        raise JobFailed(f"Region {feature_set.region}: {exc}") from None


def _store_fields(result, volume_path, mask_sha256):
    if result.error is not None:
        raise JobFailed(result.error.reason)
    provenance = result.provenance.to_dict() if result.provenance else {}
    provenance.update(volume_file=volume_path.name, segment_mask_sha256=mask_sha256)
    features = {k: float(v) for k, v in result.features.items()}
    return {"features": features, "feature_count": len(features), "diagnostics": json.loads(
        json.dumps(result.diagnostics, default=str)), "provenance": provenance, "timings": result.timings}


def feature_set_compute(feature_set):
    """Extract one feature set now (the task body). Returns the fields stored with the done status."""
    segment = Segment.objects.select_related("segmentation__image_series").get(pk=feature_set.segment_id)
    series = segment.segmentation.image_series
    volume_path = series_volume_path(series)
    mask = segment_mask(segment)
    region = _region_mask(feature_set, mask)
    extractor = radiomics_compute.Extractor(feature_set.profile.params).fit()
    result = extractor.extract(str(volume_path), {"r": region})["r"]
    return _store_fields(result, volume_path, segment.mask_sha256)


def feature_sets_extract_batch(feature_sets, *, workers=None, progress=None):
    """Extract many feature sets: grouped by (series, profile) so each volume is loaded once, over N processes.

    Each set's status row goes running → done/failed as its result arrives. Returns (done, failed) counts.
    """
    groups = {}  # profile -> series -> feature sets
    for fs in feature_sets:
        series = fs.segment.segmentation.image_series
        groups.setdefault(fs.profile_id, {}).setdefault(series.pk, []).append(fs)
    lookup = {}
    tmp_dir = Path(settings.MEDIA_ROOT) / "volumes" / "masks"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    done = failed = 0
    finished_studies = set()

    def on_result(n, total, job_result):
        nonlocal done, failed
        for pk, result in job_result.results.items():
            fs, volume_path = lookup[pk]
            try:
                fields = _store_fields(result, volume_path, fs.segment.mask_sha256)
            except JobFailed as exc:
                fs.fail(str(exc))
                failed += 1
            else:
                # the row was claimed when the batch started: record when its own extraction began
                seconds = float(result.timings.get("total", 0.0) or 0.0)
                fields["started_at"] = timezone.now() - timedelta(seconds=seconds)
                if fs.finish(**fields) == JobStatus.DONE:
                    finished_studies.add(fs.segment.segmentation.image_series.study_id)
                done += 1
            (tmp_dir / f"fs-{pk}.nrrd").unlink(missing_ok=True)
        if progress:
            progress(done + failed)

    for profile_pk, by_series in groups.items():
        jobs = []
        for series_pk, members in by_series.items():
            try:
                volume_path = series_volume_path(members[0].segment.segmentation.image_series)
            except Exception as exc:  # noqa: BLE001 - recorded on every member row
                for fs in members:
                    fs.claim()
                    fs.fail(f"Image series could not be loaded: {exc}")
                    failed += 1
                continue
            masks = {}
            for fs in members:
                fs.claim()
                try:
                    region = _region_mask(fs, segment_mask(fs.segment))
                except JobFailed as exc:
                    fs.fail(str(exc))
                    failed += 1
                    continue
                path = tmp_dir / f"fs-{fs.pk}.nrrd"
                sitk.WriteImage(region, str(path), useCompression=True)
                masks[fs.pk] = str(path)
                lookup[fs.pk] = (fs, volume_path)
            if masks:
                jobs.append(radiomics_compute.ExtractionJob(image=str(volume_path), masks=masks, job_id=(series_pk, profile_pk)))
        if jobs:
            params = ExtractionProfile.objects.get(pk=profile_pk).params
            radiomics_compute.BatchExtractor(params, n_workers=workers).run(jobs, progress=on_result)
    logger.info("batch extraction finished at %s: %d done, %d failed", timezone.now(), done, failed)
    if finished_studies:
        patients = set(Study.objects.filter(pk__in=finished_studies).values_list("patient_id", flat=True))
        feature_sets_done.send(sender=FeatureSet, patient_ids=patients)
    return done, failed


# -- re-extraction from perturbed masks (feature robustness; nothing stored here) -----------------------------------
def feature_sets_extract_perturbed(feature_sets, *, perturbations, seed=0, probability=0.25, workers=None,
                                   progress=None):
    """Extract the features of done lesion feature sets again from perturbed copies of their masks.

    For the feature-robustness analysis (``analytics.services.robustness``): each set's segment mask is changed by
    every named perturbation (``"original"``, ``"erode"``, ``"dilate"``, ``"random"``; see
    ``imaging.compute.segmentation.perturb``; the random contour of a segment is drawn with the seed
    ``(seed, segment pk)``), and extracted with the set's own profile parameters by the app's extractor, each
    series' volume loaded once for all of its masks, over ``workers`` processes. Nothing is stored.

    Returns ``{feature_set_pk: {perturbation: entry}}``: ``entry`` is ``{"features", "voxels", "mask_sha256",
    "provenance"}`` or, where the perturbed mask cannot be used or extracted, ``{"error": reason, "voxels"}``.
    ``progress(done, total)`` is called as masks finish.
    """
    import tempfile

    from ..compute.segmentation.perturb import PerturbationError, perturb_mask

    out = {fs.pk: {} for fs in feature_sets}
    groups = {}  # profile pk -> series pk -> feature sets
    for fs in feature_sets:
        groups.setdefault(fs.profile_id, {}).setdefault(fs.segment.segmentation.image_series_id, []).append(fs)
    total = len(feature_sets) * len(perturbations)
    finished = 0

    def count(n=1):
        nonlocal finished
        finished += n
        if progress:
            progress(finished, total)

    def on_result(n, n_jobs, job_result):
        for (pk, perturbation), result in job_result.results.items():
            entry = out[pk][perturbation]
            if result.error is not None:
                entry["error"] = f"extraction failed: {result.error.reason}"
            else:
                entry["features"] = {k: float(v) for k, v in result.features.items()}
                entry["provenance"] = result.provenance.to_dict() if result.provenance else {}
            count()

    with tempfile.TemporaryDirectory(prefix="radimmuno-perturbed-") as tmp:
        for profile_pk, by_series in groups.items():
            jobs = []
            for series_pk, members in by_series.items():
                try:
                    volume_path = series_volume_path(members[0].segment.segmentation.image_series)
                except Exception as exc:  # noqa: BLE001 - recorded for every mask of the series
                    for fs in members:
                        out[fs.pk] = {p: {"error": f"image series could not be loaded: {exc}", "voxels": 0}
                                      for p in perturbations}
                    count(len(members) * len(perturbations))
                    continue
                masks = {}
                for fs in members:
                    try:
                        mask = segment_mask(fs.segment)
                    except Exception as exc:  # noqa: BLE001 - a missing or unreadable mask file: that lesion only
                        out[fs.pk] = {p: {"error": f"the mask could not be read: {exc}", "voxels": 0}
                                      for p in perturbations}
                        count(len(perturbations))
                        continue
                    for perturbation in perturbations:
                        try:
                            changed = perturb_mask(mask, perturbation, seed=(int(seed), fs.segment_id),
                                                   probability=probability)
                        except PerturbationError as exc:
                            out[fs.pk][perturbation] = {"error": str(exc), "voxels": 0}
                            count()
                            continue
                        array = sitk.GetArrayViewFromImage(changed)
                        path = Path(tmp) / f"{fs.pk}-{perturbation}.nrrd"
                        sitk.WriteImage(changed, str(path), useCompression=True)
                        out[fs.pk][perturbation] = {"voxels": int((array != 0).sum()),
                                                    "mask_sha256": hashlib.sha256(array.tobytes()).hexdigest()}
                        masks[(fs.pk, perturbation)] = str(path)
                if masks:
                    jobs.append(radiomics_compute.ExtractionJob(image=str(volume_path), masks=masks, job_id=(series_pk, profile_pk)))
            if jobs:
                params = ExtractionProfile.objects.get(pk=profile_pk).params
                radiomics_compute.BatchExtractor(params, n_workers=workers).run(jobs, progress=on_result)
    return out
