"""API serializers. Research-facing: nothing from PatientIdentity is ever serialised.

The full serializers (one per endpoint) are also what a write takes; the brief ones are nested in a patient.
"""
from rest_framework import serializers

from radimmuno.api import ScopedRelatedFieldsMixin, version_field

from ..models import AdverseEvent, Biomarker, BiomarkerKind, Drug, Outcome, Patient, Site, TreatmentRegimen


class SiteSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:patients:site-detail")

    class Meta:
        model = Site
        fields = ["url", "id", "code", "name"]


class DrugBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Drug
        fields = ["name", "drug_class", "target"]


class RegimenBriefSerializer(serializers.ModelSerializer):
    agents = DrugBriefSerializer(many=True, read_only=True)

    class Meta:
        model = TreatmentRegimen
        fields = ["id", "line_of_therapy", "agents", "start_date", "end_date", "end_reason"]


class BiomarkerBriefSerializer(serializers.ModelSerializer):
    kind = serializers.SlugRelatedField(slug_field="code", read_only=True)
    unit = serializers.CharField(source="kind.unit", read_only=True)

    class Meta:
        model = Biomarker
        fields = ["id", "kind", "value_numeric", "value_category", "unit", "measured_on", "specimen", "assay",
                  "source"]


class AdverseEventBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = AdverseEvent
        fields = ["id", "term", "term_other", "grade", "onset_date", "resolution_date", "corticosteroids",
                  "other_immunosuppressants", "ici_action", "regimen"]


class OutcomeBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Outcome
        fields = ["last_contact_date", "vital_status", "death_date", "clinical_progression_date"]


class _Upsert:
    """Meta of a serializer written through an upsert service: the natural key names the row to update, so the
    unique-constraint validators of a plain create do not apply (the model's own checks still do)."""

    validators = []


class RegimenSerializer(ScopedRelatedFieldsMixin, serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:patients:regimen-detail")
    agents = serializers.SlugRelatedField(slug_field="name", many=True, queryset=Drug.objects.all(),
                                          help_text="Drug names, e.g. ['nivolumab', 'ipilimumab'].")
    version = version_field()

    class Meta(_Upsert):
        model = TreatmentRegimen
        fields = ["url", "id", "patient", "line_of_therapy", "agents", "start_date", "end_date", "end_reason",
                  "version"]


class BiomarkerSerializer(ScopedRelatedFieldsMixin, serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:patients:biomarker-detail")
    kind = serializers.SlugRelatedField(slug_field="code", queryset=BiomarkerKind.objects.all(),
                                        help_text="Biomarker kind code, e.g. 'pdl1_tps'.")
    unit = serializers.CharField(source="kind.unit", read_only=True)

    class Meta(_Upsert):
        model = Biomarker
        fields = ["url", "id", "patient", "kind", "value_numeric", "value_category", "unit", "measured_on",
                  "specimen", "assay", "source"]


class AdverseEventSerializer(ScopedRelatedFieldsMixin, serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:patients:adverse-event-detail")

    class Meta(_Upsert):
        model = AdverseEvent
        fields = ["url", "id", "patient", "term", "term_other", "grade", "onset_date", "resolution_date",
                  "corticosteroids", "other_immunosuppressants", "ici_action", "regimen"]


class OutcomeSerializer(ScopedRelatedFieldsMixin, serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:patients:outcome-detail")
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())  # one per patient: upserted

    class Meta(_Upsert):
        model = Outcome
        fields = ["url", "id", "patient", "last_contact_date", "vital_status", "death_date",
                  "clinical_progression_date"]


class PatientSerializer(ScopedRelatedFieldsMixin, serializers.HyperlinkedModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:patients:patient-detail")
    site = serializers.SlugRelatedField(slug_field="code", queryset=Site.objects.all())
    regimens = RegimenBriefSerializer(many=True, read_only=True)

    class Meta(_Upsert):
        model = Patient
        fields = ["url", "id", "site", "study_id", "sex", "year_of_birth", "tumour_type", "histology", "stage",
                  "diagnosis_date", "ecog_baseline", "smoking_status", "regimens"]


class PatientDetailSerializer(PatientSerializer):
    biomarkers = BiomarkerBriefSerializer(many=True, read_only=True)
    adverse_events = AdverseEventBriefSerializer(many=True, read_only=True)
    outcome = OutcomeBriefSerializer(read_only=True, allow_null=True)

    class Meta(PatientSerializer.Meta):
        fields = PatientSerializer.Meta.fields + ["biomarkers", "adverse_events", "outcome"]
