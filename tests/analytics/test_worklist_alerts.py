"""The worklist's alerts: raised by the recomputation, acknowledged by a person, resolved when the condition clears,
scoped to living patients on ongoing regimens — and a scan without its reading is a scan to read, not a lost
response."""
import datetime as dt
from decimal import Decimal

import pytest

from analytics.models import Alert, ResponseAssessment
from analytics.selectors import is_overdue, worklist_alerts, worklist_counts
from analytics.services import alert_acknowledge
from imaging.services import measurement_record, timepoint_upsert
from tests.analytics.builders import patient_with_scans
from patients.models import CareTeamMember
from tests.factories import OutcomeFactory

pytestmark = pytest.mark.django_db


def iupd_patient(days_ago, study_id):
    """Baseline sum 100 mm, first follow-up 56 days later at 130 mm: iUPD, confirmation due 4–8 weeks later."""
    start = dt.date.today() - dt.timedelta(days=days_ago)
    return patient_with_scans([(-5, 100), (56, 130)], start=start, study_id=study_id)


def test_a_new_scan_keeps_the_response_and_becomes_the_scan_to_read(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient, regimen, lesions, tps = iupd_patient(70, "IUPD-1")
    a = ResponseAssessment.objects.get(patient=patient)
    assert a.irecist_ibor == "iUPD" and a.iupd_awaiting_confirmation
    due = Alert.objects.get(patient=patient, kind="confirmation-due")
    assert due.status == "open" and due.due_date == a.confirmation_latest
    assert a.next_scan_due == a.confirmation_earliest

    scan_date = a.confirmation_earliest + dt.timedelta(days=3)
    with django_capture_on_commit_callbacks(execute=True):  # the confirmation scan arrives, nothing read yet
        scan, _ = timepoint_upsert(patient=patient, date=scan_date, kind="follow-up")
    a.refresh_from_db()
    assert a.problems == [] and a.irecist_ibor == "iUPD" and a.iupd_awaiting_confirmation  # nothing lost
    assert a.current_irecist == "iUPD" and a.current_date == tps[1].date
    assert a.awaiting_read == [{"timepoint": scan.pk, "date": scan_date.isoformat(), "kind": "follow-up", "missing": [],
                                "confirmation": {"iupd_date": tps[1].date.isoformat(),
                                                 "from": a.confirmation_earliest.isoformat(),
                                                 "to": a.confirmation_latest.isoformat(), "in_window": True}}]
    to_read = Alert.objects.get(patient=patient, kind="scan-to-read")
    assert to_read.status == "open" and to_read.subject_date == scan_date and to_read.due_date == a.confirmation_latest
    due.refresh_from_db()
    assert due.status == "resolved" and "confirmation" in due.resolution

    with django_capture_on_commit_callbacks(execute=True):  # read: both lesions grew again -> iCPD
        for lesion in lesions:
            measurement_record(lesion=lesion, timepoint=scan, size_mm=Decimal(75))
    a.refresh_from_db()
    to_read.refresh_from_db()
    assert a.irecist_ibor == "iCPD" and a.awaiting_read == [] and a.next_scan_due is None
    assert to_read.status == "resolved" and to_read.resolution == "the reading was recorded"


def test_a_confirmation_scan_received_is_not_overdue(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient, regimen, lesions, tps = iupd_patient(200, "LATE-1")  # window long past
    a = ResponseAssessment.objects.get(patient=patient)
    assert is_overdue(a)
    assert [x.patient_id for x in worklist_alerts(section="overdue")] == [patient.pk]
    with django_capture_on_commit_callbacks(execute=True):
        timepoint_upsert(patient=patient, date=a.confirmation_latest - dt.timedelta(days=1), kind="follow-up")
    a.refresh_from_db()
    assert not is_overdue(a)
    assert not worklist_alerts(section="overdue").exists()
    assert [x.patient_id for x in worklist_alerts(section="to-read")] == [patient.pk]


def test_acknowledging_takes_an_alert_off_the_open_list_and_into_the_history(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient, *_ = iupd_patient(70, "ACK-1")
    alert = Alert.objects.get(patient=patient, kind="confirmation-due")
    assert worklist_counts()["confirmations"] == 1
    alert_acknowledge(alert=alert, user=user, note="CT booked")
    alert.refresh_from_db()
    assert alert.status == "acknowledged" and alert.acknowledged_by == user and alert.note == "CT booked"
    assert worklist_counts()["confirmations"] == 0 and worklist_counts(status="acknowledged")["confirmations"] == 1
    last = alert.history.first()
    assert (last.status, last.history_user, last.history_change_reason) == ("acknowledged", user, "acknowledged")


def test_a_condition_that_returns_is_reopened(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient, regimen, lesions, tps = iupd_patient(70, "BACK-1")
    alert = Alert.objects.get(patient=patient, kind="confirmation-due")
    with django_capture_on_commit_callbacks(execute=True):  # corrected: no growth, no iUPD
        for lesion in lesions:
            measurement_record(lesion=lesion, timepoint=tps[1], size_mm=Decimal(50))
    alert.refresh_from_db()
    assert alert.status == "resolved"
    with django_capture_on_commit_callbacks(execute=True):
        for lesion in lesions:
            measurement_record(lesion=lesion, timepoint=tps[1], size_mm=Decimal(65))
    alert.refresh_from_db()
    assert alert.status == "open" and alert.resolved_at is None
    assert [h.status for h in alert.history.order_by("history_date")] == ["open", "resolved", "open"]


def test_the_default_scope_leaves_out_patients_who_died(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient, *_ = iupd_patient(70, "DIED-1")
        OutcomeFactory(patient=patient, last_contact_date=dt.date.today() - dt.timedelta(days=2),
                       vital_status="dead", death_date=dt.date.today() - dt.timedelta(days=2))
    assert not worklist_alerts().exists()
    assert worklist_alerts(scope="all").filter(patient=patient).exists()
    assert ResponseAssessment.objects.get(patient=patient).next_scan_due is None


def test_worklist_page_acknowledge_with_htmx(client_logged_in, htmx_headers, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient, *_ = iupd_patient(70, "PAGE-1")
    alert = Alert.objects.get(patient=patient, kind="confirmation-due")
    page = client_logged_in.get("/analytics/worklist/").content.decode()
    assert "PAGE-1" in page and "Confirmation scan due" in page and "days left" in page
    fragment = client_logged_in.post(f"/analytics/worklist/alerts/{alert.pk}/acknowledge/",
                                     {"section": "", "status": "open", "scope": "active"}, **htmx_headers)
    assert fragment.status_code == 200 and "<html" not in fragment.content.decode()
    assert "PAGE-1" not in fragment.content.decode()
    acknowledged = client_logged_in.get("/analytics/worklist/?status=acknowledged").content.decode()
    assert "PAGE-1" in acknowledged and "acknowledged by clinician" in acknowledged
    again = client_logged_in.post(f"/analytics/worklist/alerts/{alert.pk}/acknowledge/", {"note": "x" * 501})
    assert again.status_code == 302  # refused with a message, nothing written
    assert client_logged_in.post("/analytics/worklist/alerts/999999/acknowledge/").status_code == 404


def test_the_patient_history_shows_measurement_changes_and_acknowledgements(
        client_logged_in, user, htmx_headers, django_capture_on_commit_callbacks, django_assert_max_num_queries):
    with django_capture_on_commit_callbacks(execute=True):
        patient, regimen, lesions, tps = iupd_patient(70, "HIST-1")
        measurement_record(lesion=lesions[0], timepoint=tps[1], size_mm=Decimal("66.5"), user=user)
    alert_acknowledge(alert=Alert.objects.get(patient=patient, kind="confirmation-due"), user=user)
    url = f"/analytics/patients/{patient.pk}/history/"
    with django_assert_max_num_queries(14):  # + the role's permissions and the user's sites (accounts.access), once per request
        fragment = client_logged_in.get(url, **htmx_headers).content.decode()
    assert "Worklist alert confirmation scan due" in fragment and "Open → Acknowledged" in fragment
    assert "Measurement T1 at" in fragment and "65 → 66.5" in fragment
    assert "<html" in client_logged_in.get(url).content.decode()


def test_a_recent_grade_3_irae_is_on_the_worklist_until_downgraded(client_logged_in, django_capture_on_commit_callbacks):
    from tests.factories import AdverseEventFactory

    with django_capture_on_commit_callbacks(execute=True):
        patient, *_ = patient_with_scans([(-5, 100), (56, 60)], start=dt.date.today() - dt.timedelta(days=80),
                                         study_id="IRAE-1")
        event = AdverseEventFactory(patient=patient, grade=3, onset_date=dt.date.today() - dt.timedelta(days=3))
        AdverseEventFactory(patient=patient, grade=4, onset_date=dt.date.today() - dt.timedelta(days=400))  # old
    alert = Alert.objects.get(patient=patient, kind="irae")
    assert alert.status == "open" and alert.detail["grade"] == 3 and alert.regimen is None
    page = client_logged_in.get("/analytics/worklist/?section=irae").content.decode()
    assert "IRAE-1" in page and "Grade 3 irAE" in page and "#adverse-events" in page
    with django_capture_on_commit_callbacks(execute=True):
        event.grade = 2
        event.save()
    alert.refresh_from_db()
    assert alert.status == "resolved" and "no longer grade 3" in alert.resolution


def test_curators_see_what_waits_for_them(user, admin_client_logged_in):
    from django.test import Client

    clinician = Client()
    clinician.force_login(user)
    assert "Curation:" not in clinician.get("/analytics/worklist/").content.decode()
    page = admin_client_logged_in.get("/analytics/worklist/").content.decode()
    assert "Curation:" in page and "0 segments without a lesion" in page and "0 quarantined files" in page
    for link in ("/admin/imaging/segment/?lesion_mapping__exact=unmatched", "/admin/imaging/featureset/?status__exact=failed",
                 "/admin/imaging/quarantinedfile/?status__exact=open"):
        assert link in page and admin_client_logged_in.get(link.replace("&amp;", "&")).status_code == 200


def test_my_patients_on_the_worklist_and_the_patient_list(client_logged_in, user, htmx_headers,
                                                         django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        mine, *_ = iupd_patient(70, "MINE-1")
        iupd_patient(70, "THEIRS-1")
    everyone = client_logged_in.get("/analytics/worklist/").content.decode()
    assert "MINE-1" in everyone and "THEIRS-1" in everyone
    assert "MINE-1" not in client_logged_in.get("/analytics/worklist/?care_team=mine").content.decode()

    button = client_logged_in.post(f"/patients/{mine.pk}/care-team/", {"follow": "1"}, **htmx_headers)
    assert button.status_code == 200 and "Stop following" in button.content.decode()
    assert "In your patients" in client_logged_in.get(f"/patients/{mine.pk}/").content.decode()
    own = client_logged_in.get("/analytics/worklist/?care_team=mine").content.decode()
    assert "MINE-1" in own and "THEIRS-1" not in own
    assert worklist_counts(followed_by=user)["confirmations"] == 1 and worklist_counts()["confirmations"] == 2
    listed = client_logged_in.get("/patients/?care_team=mine", **htmx_headers).content.decode()
    assert "MINE-1" in listed and "THEIRS-1" not in listed

    assert client_logged_in.post(f"/patients/{mine.pk}/care-team/", {"follow": "0"}).status_code == 302
    assert "MINE-1" not in client_logged_in.get("/patients/?care_team=mine").content.decode()
    left = CareTeamMember.history.get(patient_id=mine.pk, history_type="-")
    assert left.user_id == user.pk and left.history_user == user  # who left, and who did it, is recorded
    assert client_logged_in.post("/patients/999999/care-team/", {"follow": "1"}).status_code == 404
