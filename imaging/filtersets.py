"""One FilterSet per model, shared by the web lists and the API.

The API viewsets (``imaging.api.views``) use these as ``filterset_class``; a page that filters a list of the same
rows uses the same class, so a query string means the same thing on the page and in the API. ``patient`` is
always the patient's study ID (as in ``patients`` and ``analytics``).
"""
import django_filters

from patients.filtersets import PatientRecordFilterSet

from .choices import LesionRole
from .models import (
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


class StudyFilterSet(PatientRecordFilterSet):
    date_from = django_filters.DateFilter(field_name="study_date", lookup_expr="gte", label="Study date from")
    date_to = django_filters.DateFilter(field_name="study_date", lookup_expr="lte", label="Study date to")

    class Meta:
        model = Study
        fields = ["patient", "patient_id", "site", "timepoint", "date_from", "date_to"]


class TimepointFilterSet(PatientRecordFilterSet):
    date_from = django_filters.DateFilter(field_name="date", lookup_expr="gte", label="Date from")
    date_to = django_filters.DateFilter(field_name="date", lookup_expr="lte", label="Date to")

    class Meta:
        model = Timepoint
        fields = ["patient", "patient_id", "site", "kind", "regimen", "date_from", "date_to"]


class LesionFilterSet(PatientRecordFilterSet):
    class Meta:
        model = Lesion
        fields = ["patient", "patient_id", "site", "role", "organ", "nodal"]


class MeasurementFilterSet(django_filters.FilterSet):
    patient = django_filters.CharFilter(field_name="lesion__patient__study_id", label="Patient (study ID)")
    site = django_filters.CharFilter(field_name="lesion__patient__site__code", label="Site (code)")
    role = django_filters.ChoiceFilter(field_name="lesion__role", choices=LesionRole.choices, label="Lesion role")

    class Meta:
        model = LesionMeasurement
        fields = ["patient", "site", "lesion", "timepoint", "role", "status", "source"]


class SegmentationFilterSet(django_filters.FilterSet):
    patient = django_filters.CharFilter(field_name="image_series__study__patient__study_id",
                                        label="Patient (study ID)")

    class Meta:
        model = Segmentation
        fields = ["patient", "image_series", "kind"]


class ExtractionProfileFilterSet(django_filters.FilterSet):
    class Meta:
        model = ExtractionProfile
        fields = ["name", "source", "modality", "active"]
