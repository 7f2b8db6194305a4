"""API serializers. Research-facing: nothing from PatientIdentity is ever serialised."""
from rest_framework import serializers

from ..models import AdverseEvent, Biomarker, Drug, Outcome, Patient, TreatmentRegimen


class DrugBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Drug
        fields = ["name", "drug_class", "target"]


class RegimenSerializer(serializers.ModelSerializer):
    agents = DrugBriefSerializer(many=True, read_only=True)

    class Meta:
        model = TreatmentRegimen
        fields = ["id", "line_of_therapy", "agents", "start_date", "end_date", "end_reason"]


class BiomarkerSerializer(serializers.ModelSerializer):
    kind = serializers.SlugRelatedField(slug_field="code", read_only=True)
    unit = serializers.CharField(source="kind.unit", read_only=True)

    class Meta:
        model = Biomarker
        fields = ["id", "kind", "value_numeric", "value_category", "unit", "measured_on", "specimen", "assay",
                  "source"]


class AdverseEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AdverseEvent
        fields = ["id", "term", "term_other", "grade", "onset_date", "resolution_date", "corticosteroids",
                  "other_immunosuppressants", "ici_action", "regimen"]


class OutcomeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Outcome
        fields = ["last_contact_date", "vital_status", "death_date", "clinical_progression_date"]


class PatientSerializer(serializers.HyperlinkedModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:patients:patient-detail")
    site = serializers.SlugRelatedField(slug_field="code", read_only=True)
    regimens = RegimenSerializer(many=True, read_only=True)

    class Meta:
        model = Patient
        fields = ["url", "id", "site", "study_id", "sex", "year_of_birth", "tumour_type", "histology", "stage",
                  "diagnosis_date", "ecog_baseline", "smoking_status", "regimens"]


class PatientDetailSerializer(PatientSerializer):
    biomarkers = BiomarkerSerializer(many=True, read_only=True)
    adverse_events = AdverseEventSerializer(many=True, read_only=True)
    outcome = OutcomeSerializer(read_only=True)

    class Meta(PatientSerializer.Meta):
        fields = PatientSerializer.Meta.fields + ["biomarkers", "adverse_events", "outcome"]
