"""Announce changes that affect a response assessment or a patient's delta-radiomics; the recomputation runs
after commit."""
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from imaging import selectors as imaging_selectors
from imaging.models import Lesion, LesionMeasurement, Segment, Timepoint
from imaging.signals import feature_sets_done, features_imported, in_bulk_changes, lesion_data_imported
from patients.models import AdverseEvent, Outcome, Patient, TreatmentRegimen
from patients.signals import clinical_data_imported

from .models import DeltaFeature
from .services import delta_request, irae_alerts_sync, response_request, response_request_patients


def _deleting_patient(kwargs):
    """True when this delete cascades from deleting the patient itself: nothing left to assess."""
    origin = kwargs.get("origin")
    if isinstance(origin, Patient):
        return True
    return isinstance(origin, QuerySet) and origin.model is Patient


def _request(patient_id):
    if in_bulk_changes():
        return  # a bulk import names its patients once, after commit (lesion_data_imported)
    patient = Patient.objects.filter(pk=patient_id).first()
    if patient is not None:
        response_request(patient=patient)


@receiver(post_save, sender=LesionMeasurement)
@receiver(post_delete, sender=LesionMeasurement)
def measurement_changed(sender, instance, raw=False, **kwargs):
    if not raw and not in_bulk_changes() and not _deleting_patient(kwargs):
        _request(Lesion.objects.filter(pk=instance.lesion_id).values_list("patient_id", flat=True).first())


@receiver(post_save, sender=Lesion)
@receiver(post_delete, sender=Lesion)
@receiver(post_save, sender=Timepoint)
@receiver(post_delete, sender=Timepoint)
@receiver(post_save, sender=TreatmentRegimen)
@receiver(post_delete, sender=TreatmentRegimen)
@receiver(post_save, sender=Outcome)
def patient_data_changed(sender, instance, raw=False, **kwargs):
    if not raw and not _deleting_patient(kwargs):
        _request(instance.patient_id)
        if sender in (Lesion, Timepoint) and not in_bulk_changes():
            _delta(instance.patient_id)  # lesion identity (role, split/merge links) and timepoint dates


@receiver(post_save, sender=AdverseEvent)
@receiver(post_delete, sender=AdverseEvent)
def adverse_event_changed(sender, instance, raw=False, **kwargs):
    """A grade ≥ 3 irAE reaches the worklist (after commit: the alert follows the stored event)."""
    if not raw and not _deleting_patient(kwargs):
        patient_id = instance.patient_id
        transaction.on_commit(lambda: irae_alerts_sync(patient_id=patient_id))


@receiver(m2m_changed, sender=TreatmentRegimen.agents.through)
def regimen_agents_changed(sender, instance, action, **kwargs):
    if action in ("post_add", "post_remove", "post_clear") and isinstance(instance, TreatmentRegimen):
        _request(instance.patient_id)


@receiver(lesion_data_imported)
def lesion_data_bulk_imported(sender, patient_ids, **kwargs):
    """One recomputation per patient of a bulk import (not one per imported row)."""
    response_request_patients(patient_ids=patient_ids)


@receiver(clinical_data_imported)
def clinical_data_bulk_imported(sender, patient_ids, **kwargs):
    """A clinical import's treatment lines, follow-up and irAEs (written in bulk, no per-row signals): one
    response recomputation and irAE alert sync per patient, after its commit."""
    response_request_patients(patient_ids=patient_ids)


def _delta(patient_id):
    """Request a refresh, unless the patient has neither features nor stored deltas (nothing could change)."""
    if not (imaging_selectors.patient_has_lesion_features(patient_id=patient_id)
            or DeltaFeature.objects.filter(patient_id=patient_id).exists()):
        return
    if Patient.objects.filter(pk=patient_id).exists():
        delta_request(patient_id=patient_id)


@receiver(feature_sets_done)
@receiver(features_imported)
def features_changed(sender, patient_ids, **kwargs):
    """Finished extractions or imported features: refresh the patients' stored deltas (once per patient)."""
    for patient_id in sorted(patient_ids):
        _delta(patient_id)


@receiver(lesion_data_imported)
def lesion_data_bulk_imported_deltas(sender, patient_ids, **kwargs):
    for patient_id in sorted(patient_ids):
        _delta(patient_id)


@receiver(post_save, sender=Segment)
def segment_mapping_changed(sender, instance, created, raw=False, update_fields=None, **kwargs):
    """A mask mapped to (or away from) a lesion changes which lesion its features describe."""
    if raw or created or in_bulk_changes():
        return  # a new segment has no finished features yet: feature_sets_done announces them
    patient_id = (Segment.objects.filter(pk=instance.pk)
                  .values_list("segmentation__image_series__study__patient_id", flat=True).first())
    if patient_id is not None and (update_fields is None or {"lesion", "lesion_mapping"} & set(update_fields)):
        _delta(patient_id)
