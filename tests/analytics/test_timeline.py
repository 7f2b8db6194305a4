"""The patient timeline: one time axis from diagnosis to the last contact, every mark described and focusable."""
import datetime as dt
import re

import pytest

from analytics.compute.timeline import _ticks, timeline_svg
from tests.analytics.builders import patient_with_scans
from tests.factories import AdverseEventFactory, OutcomeFactory

pytestmark = pytest.mark.django_db


def test_ticks_and_marks():
    assert _ticks(dt.date(2026, 9, 10), dt.date(2026, 12, 4)) == [dt.date(2026, 10, 1), dt.date(2026, 11, 1),
                                                                  dt.date(2026, 12, 1)]
    assert len(_ticks(dt.date(2019, 1, 1), dt.date(2026, 12, 4))) <= 10
    svg = timeline_svg(start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 1),
                       regimens=[("pembrolizumab", "anti_pd1", dt.date(2024, 2, 1), None)],
                       scans=[(dt.date(2024, 1, 25), "", "baseline"), (dt.date(2024, 4, 1), "iPR", "follow-up")],
                       adverse_events=[("Pneumonitis", 3, dt.date(2024, 5, 1), dt.date(2024, 6, 1))],
                       biomarkers=[(dt.date(2024, 1, 10), "PD-L1 TPS 60 %")],
                       end_event=("death", dt.date(2024, 11, 20)))
    assert "pembrolizumab: from 2024-02-01, ongoing" in svg and "follow-up scan 2024-04-01: iPR" in svg
    assert "Pneumonitis, grade 3: 2024-05-01 – 2024-06-01" in svg and "2024-01-10: PD-L1 TPS 60 %" in svg
    assert "died 2024-11-20" in svg and svg.count('tabindex="0"') == 5  # every mark reachable by keyboard
    assert not re.search(r'font-size="([0-9]|1[01])"', svg)


def test_timeline_panel_ends_at_the_last_contact(client_logged_in, htmx_headers, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient, *_ = patient_with_scans([(-5, 100), (56, 60)], start=dt.date(2024, 1, 10))
        AdverseEventFactory(patient=patient, grade=3, onset_date=dt.date(2024, 2, 1))
        OutcomeFactory(patient=patient, last_contact_date=dt.date(2024, 9, 1))
    fragment = client_logged_in.get(f"/analytics/patients/{patient.pk}/timeline/", **htmx_headers).content.decode()
    assert "<html" not in fragment and "<svg" in fragment and "last contact 2024-09-01" in fragment
    assert "follow-up scan 2024-03-06: iPR" in fragment and "grade 3" in fragment
    assert 'hx-trigger="lesion-data-changed from:body"' in fragment
