"""Signals the imaging app sends for bulk changes, and the switch that quiets per-row announcements meanwhile.

A bulk import (``import_measurements``, ``import_features``) writes thousands of rows. The per-row receivers
(``analytics.receivers``: recompute the patient's response, refresh their delta-radiomics) would each enqueue the
patient again, once per row. Inside ``bulk_changes()`` they stay quiet; the importer then sends one signal naming
every patient it touched, after its transaction commits, and each patient is recomputed once.
"""
import contextlib
import contextvars

from django.dispatch import Signal

#: Lesions, timepoints or measurements of these patients were written in bulk. kwargs: ``patient_ids`` (a set).
lesion_data_imported = Signal()
#: Feature values (e.g. externally computed features) of these patients were written in bulk. kwargs: ``patient_ids``.
features_imported = Signal()

#: Feature sets of these patients finished (extraction). kwargs: ``patient_ids``. Sent after the status commit.
feature_sets_done = Signal()

_BULK = contextvars.ContextVar("radimmuno_imaging_bulk_changes", default=False)


def in_bulk_changes():
    """True inside ``bulk_changes()``: per-row receivers should not announce (the bulk signal will)."""
    return _BULK.get()


@contextlib.contextmanager
def bulk_changes():
    token = _BULK.set(True)
    try:
        yield
    finally:
        _BULK.reset(token)
