"""One FilterSet per model, shared by the web list and the API."""
import django_filters
from django.db.models import Q

from . import choices
from .models import Patient, Site


class PatientFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Study ID")
    site = django_filters.ModelChoiceFilter(queryset=Site.objects.all(), field_name="site", to_field_name="code",
                                            empty_label="All sites")
    tumour_type = django_filters.ChoiceFilter(choices=choices.TumourType.choices, empty_label="All tumour types")
    drug_class = django_filters.ChoiceFilter(choices=choices.DrugClass.choices, method="filter_drug_class",
                                             label="Drug class", empty_label="All drug classes")

    class Meta:
        model = Patient
        fields = ["q", "site", "tumour_type", "drug_class"]

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(study_id__icontains=value)) if value else queryset

    def filter_drug_class(self, queryset, name, value):
        return queryset.on_drug_class(value) if value else queryset
