"""One FilterSet per model, shared by the web lists and the API.

The API viewsets (``imaging.api.views``) use these as ``filterset_class``; a page that filters a list of the same
rows uses the same class, so a query string means the same thing on the page and in the API. ``patient`` is
always the patient's study ID (as in ``patients`` and ``analytics``).
"""
import django_filters

from .models import FeatureSet, IngestJob, QuarantinedFile, Segment, Series


class IngestJobFilterSet(django_filters.FilterSet):
    class Meta:
        model = IngestJob
        fields = ["status", "source"]


class SeriesFilterSet(django_filters.FilterSet):
    patient = django_filters.CharFilter(field_name="study__patient__study_id", label="Patient (study ID)")

    class Meta:
        model = Series
        fields = ["patient", "modality", "volume_status", "study__patient"]


class SegmentFilterSet(django_filters.FilterSet):
    patient = django_filters.CharFilter(field_name="segmentation__image_series__study__patient__study_id",
                                        label="Patient (study ID)")
    series = django_filters.ModelChoiceFilter(field_name="segmentation__image_series", queryset=Series.objects.all(),
                                              label="Image series")

    class Meta:
        model = Segment
        fields = ["patient", "series", "proposal_status", "lesion", "lesion_mapping"]


class QuarantinedFileFilterSet(django_filters.FilterSet):
    class Meta:
        model = QuarantinedFile
        fields = ["reason_code", "status", "source"]


class FeatureSetFilterSet(django_filters.FilterSet):
    patient = django_filters.CharFilter(field_name="segment__segmentation__image_series__study__patient__study_id",
                                        label="Patient (study ID)")
    series = django_filters.ModelChoiceFilter(field_name="segment__segmentation__image_series",
                                              queryset=Series.objects.all(), label="Image series")

    class Meta:
        model = FeatureSet
        fields = ["patient", "series", "segment", "profile", "region", "status"]
