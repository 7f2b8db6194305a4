"""Feature-robustness reads: the stored robustness of a profile version, and the names of its robust features so
that later analyses can exclude the others (docs/analytics.md, "Feature robustness and harmonisation")."""
from imaging import selectors as imaging_selectors
from radimmuno.jobs import JobStatus
from radimmuno.lazy import lazy_import

from ..models import FeatureRobustness

robustness = lazy_import("analytics.compute.robustness")  # scipy, pandas: loaded on first use


def _profile_version(profile):
    """An ExtractionProfile as given, or the latest version of the profile with that name (None if none)."""
    if isinstance(profile, str):
        return imaging_selectors.extraction_profile_latest(name=profile)
    return profile


def feature_robustness_latest(*, profile, method=FeatureRobustness.Method.SEGMENTATION):
    """The finished robustness row of ``profile`` (an ExtractionProfile version, or a profile name: its latest
    version), or None when it was never computed (or its last computation did not finish)."""
    version = _profile_version(profile)
    if version is None:
        return None
    return (FeatureRobustness.objects.filter(profile=version, method=method, status=JobStatus.DONE)
            .select_related("profile").order_by("-computed_at").first())


def _required(profile, method):
    row = feature_robustness_latest(profile=profile, method=method)
    if row is None:
        version = _profile_version(profile)
        name = version.name if version is not None else profile
        raise FeatureRobustness.DoesNotExist(
            f"No feature robustness computed for {version or profile}: run "
            f"`manage.py feature_robustness --profile {name}` first.")
    return row


def robust_features(*, profile, threshold=None, method=FeatureRobustness.Method.SEGMENTATION):
    """Sorted names of the features of ``profile`` whose ICC is at least ``threshold`` (default: the one the row was
    computed with). Features whose ICC is undefined are never robust. Raises ``FeatureRobustness.DoesNotExist``
    (saying which command computes it) when the profile version has no finished robustness row."""
    return _required(profile, method).robust_names(threshold)


def non_robust_features(*, profile, threshold=None, method=FeatureRobustness.Method.SEGMENTATION):
    """Sorted names of the features to exclude: ICC below ``threshold`` or undefined. Same errors as
    :func:`robust_features`."""
    row = _required(profile, method)
    keep = set(row.robust_names(threshold))
    return sorted(name for name in row.features if name not in keep)


def robustness_class_summary(*, row, image_type=None, texture_row=False):
    """The row's ICC by feature class (``analytics.compute.robustness.class_summary``) as a DataFrame."""
    return robustness.class_summary(row.features, image_type=image_type, texture_row=texture_row)
