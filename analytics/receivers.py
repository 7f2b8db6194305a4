"""Announce changes that affect a response assessment; the recomputation runs after commit."""
from django.db.models import QuerySet
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from imaging.models import Lesion, LesionMeasurement, Timepoint
from imaging.signals import in_bulk_changes, lesion_data_imported
from patients.models import Outcome, Patient, TreatmentRegimen

from .services import response_request


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


@receiver(m2m_changed, sender=TreatmentRegimen.agents.through)
def regimen_agents_changed(sender, instance, action, **kwargs):
    if action in ("post_add", "post_remove", "post_clear") and isinstance(instance, TreatmentRegimen):
        _request(instance.patient_id)


@receiver(lesion_data_imported)
def lesion_data_bulk_imported(sender, patient_ids, **kwargs):
    """One recomputation per patient of a bulk import (not one per imported row)."""
    for patient in Patient.objects.filter(pk__in=patient_ids).order_by("pk"):
        response_request(patient=patient)
