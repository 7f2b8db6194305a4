"""Signals the patients app sends for bulk changes (per-row saves announce themselves through ``post_save``).

A bulk write (``services.clinical_records_write``, the clinical import) sends no ``post_save`` per row; it sends
one of these after its transaction commits, naming every patient it changed, so that what depends on their data
(their response assessments and irAE alerts, ``analytics.receivers``) is requested once per patient.
"""
from django.dispatch import Signal

#: Treatment lines, follow-up (outcome) or irAEs of these patients were created or changed in bulk; sent after
#: commit. kwargs: ``patient_ids`` (a frozenset of Patient primary keys).
clinical_data_imported = Signal()
