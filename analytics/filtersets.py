"""One FilterSet per model, shared by the web lists and the API.

The API viewsets (``analytics.api.views``) use these as ``filterset_class``; a page that filters a list of the same
rows uses the same class, so a query string means the same thing on the page and in the API. ``patient`` is the
patient's study ID and ``site`` the site code, as in ``patients``.
"""
import django_filters

from patients.choices import DrugClass, TumourType
from radimmuno.jobs import JobStatus

from .models import AnalysisRun, DeltaFeature, FeatureRobustness, ResponseAssessment, TimepointResponse
from .selectors import worklist


class ResponseAssessmentFilterSet(django_filters.FilterSet):
    patient = django_filters.CharFilter(field_name="patient__study_id")
    site = django_filters.CharFilter(field_name="patient__site__code")
    tumour_type = django_filters.ChoiceFilter(field_name="patient__tumour_type", choices=TumourType.choices,
                                              empty_label="All tumour types")
    drug_class = django_filters.ChoiceFilter(method="filter_drug_class", choices=DrugClass.choices,
                                             label="Drug class", empty_label="All drug classes")
    worklist = django_filters.ChoiceFilter(
        method="filter_worklist", label="Worklist",
        choices=[("all", "all alerts"), ("to-read", "scan awaiting reading"),
                 ("awaiting", "iUPD awaiting confirmation"), ("overdue", "overdue confirmation"),
                 ("hyperprogression", "hyperprogression"), ("dissociated", "dissociated response")],
    )

    class Meta:
        model = ResponseAssessment
        fields = ["patient", "site", "tumour_type", "status", "recist_bor", "irecist_ibor", "pseudoprogression",
                  "hyperprogression_any", "dissociated_any", "iupd_awaiting_confirmation", "current_irecist"]

    def filter_drug_class(self, queryset, name, value):
        """The regimen assessed contains a drug of this class."""
        return queryset.filter(regimen__agents__drug_class=value).distinct() if value else queryset

    def filter_worklist(self, queryset, name, value):
        return queryset.filter(pk__in=worklist(kind=None if value == "all" else value).values("pk"))


class TimepointResponseFilterSet(django_filters.FilterSet):
    patient = django_filters.CharFilter(field_name="assessment__patient__study_id", label="Patient (study ID)")

    class Meta:
        model = TimepointResponse
        fields = ["patient", "assessment", "criteria", "category"]


class AnalysisRunFilterSet(django_filters.FilterSet):
    """Stored survival analyses by status, kind, endpoint, author or the run they re-ran."""

    status = django_filters.ChoiceFilter(choices=JobStatus.choices, empty_label="Any status")
    kind = django_filters.ChoiceFilter(choices=[("km", "Kaplan–Meier"), ("cox", "Cox PH"),
                                                ("landmark", "Landmark"), ("cox_tv", "Time-varying irAE Cox")],
                                       empty_label="Any analysis")
    endpoint = django_filters.ChoiceFilter(choices=[("os", "OS"), ("pfs_recist", "PFS (RECIST 1.1)"),
                                                    ("ipfs_irecist", "iPFS (iRECIST)"), ("ttf", "TTF")],
                                           empty_label="Any endpoint")
    created_by = django_filters.CharFilter(field_name="created_by__username", label="Created by (username)")

    class Meta:
        model = AnalysisRun
        fields = ["status", "kind", "endpoint", "created_by", "rerun_of"]


class DeltaFeatureFilterSet(django_filters.FilterSet):
    """Stored delta-radiomics rows by patient (study ID), lesion label, profile (name, version), region, pair,
    aggregation, level (lesion or patient) and acquisition flags. The feature-name pattern (``feature``) filters
    the features inside each row (see ``analytics.selectors.delta_long``)."""

    patient = django_filters.CharFilter(field_name="patient__study_id", label="Patient (study ID)")
    site = django_filters.CharFilter(field_name="patient__site__code")
    lesion = django_filters.CharFilter(field_name="lesion__label", label="Lesion label (e.g. T1)")
    profile = django_filters.CharFilter(field_name="profile__name", label="Extraction profile name")
    profile_version = django_filters.NumberFilter(field_name="profile__version")
    reference = django_filters.ChoiceFilter(choices=DeltaFeature.Reference.choices)
    aggregation = django_filters.ChoiceFilter(choices=[("mean", "mean"), ("volume_weighted", "volume-weighted")])
    level = django_filters.ChoiceFilter(choices=[("lesion", "lesion"), ("patient", "patient")], method="filter_level")
    flagged = django_filters.BooleanFilter(method="filter_flagged", label="Acquisition differs between the scans")
    feature = django_filters.CharFilter(method="filter_feature_pattern",
                                        label="Feature name pattern(s), e.g. original_glcm_* (comma-separated)")

    class Meta:
        model = DeltaFeature
        fields = ["patient", "site", "lesion", "profile", "profile_version", "region", "reference", "aggregation"]

    def filter_level(self, queryset, name, value):
        return queryset.filter(lesion__isnull=value == "patient")

    def filter_flagged(self, queryset, name, value):
        return queryset.exclude(acquisition_flags=[]) if value else queryset.filter(acquisition_flags=[])

    def filter_feature_pattern(self, queryset, name, value):
        return queryset  # applied to each row's features by the view (the rows are not filtered)


class FeatureRobustnessFilterSet(django_filters.FilterSet):
    profile = django_filters.CharFilter(field_name="profile__name", label="Extraction profile name")
    profile_version = django_filters.NumberFilter(field_name="profile__version")

    class Meta:
        model = FeatureRobustness
        fields = ["profile", "profile_version", "method", "status"]
