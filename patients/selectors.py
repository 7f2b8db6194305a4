"""Reads of the patients app for pages and the API. Query counts do not grow with the cohort."""
from django.db.models import Prefetch

from accounts.access import scope, site_ids
from radimmuno.history import change_entries

from .filtersets import PatientFilterSet
from .models import AdverseEvent, Biomarker, Outcome, Patient, Site, TreatmentRegimen


def patient_list(*, filters=None, request=None):
    """The filtered, ordered patient list; returns the FilterSet (``.qs`` is the queryset, to paginate, then give
    the page's rows to ``patient_list_rows``). ``request`` carries the user: the list holds the patients of their
    sites, and "my patients" means theirs."""
    user = getattr(request, "user", None)
    return PatientFilterSet(filters or {}, queryset=scope(Patient.objects.for_list(), user), request=request)


def patient_list_rows(patients):
    """The list's columns for one page of ``patient_list`` (in the page's order): five queries for any page."""
    pks = [patient.pk for patient in patients]
    rows = Patient.objects.with_list_columns().in_bulk(pks)
    return [rows[pk] for pk in pks]


def site_codes(user):
    """The codes of the sites ``user`` may see, or None for every site."""
    if site_ids(user) is None:
        return None
    return set(scope(Site.objects.all(), user).values_list("code", flat=True))


def patients_visible(*, user):
    """The patients at ``user``'s sites (every read of a patient by the other apps starts here)."""
    return scope(Patient.objects.all(), user)


def patient_header(*, pk, user):
    """The patient as the other apps' patient panels name it (study ID, site), if ``user`` may see them.
    Raises Patient.DoesNotExist otherwise (a foreign site's patient is as unknown as a missing one)."""
    return patients_visible(user=user).select_related("site").get(pk=pk)


def patient_detail(*, pk, user):
    """The patients app's part of the patient page, in a fixed number of queries.

    Imaging (measurements, scans) and response are the imaging and analytics apps' own panels, which the page
    loads from their URLs.
    """
    patient = (
        patients_visible(user=user).select_related("site", "outcome")
        .prefetch_related(
            Prefetch("regimens", queryset=TreatmentRegimen.objects.prefetch_related("agents")),
            "biomarkers__kind",
            "adverse_events",
        )
        .get(pk=pk)
    )
    try:
        outcome = patient.outcome
    except Patient.outcome.RelatedObjectDoesNotExist:
        outcome = None
    return {"patient": patient, "outcome": outcome}


def patients_followed_by(*, user):
    """The patients on ``user``'s care team ("my patients"), for the other apps' filters."""
    return patients_visible(user=user).followed_by(user).values("pk")


def care_team_follows(*, patient, user):
    """Whether ``user`` is on the patient's care team."""
    return patient.care_team_members.filter(user=user).exists()


def patient_change_history(*, patient):
    """The patient's treatment, biomarker, irAE and follow-up changes (radimmuno.history entries, newest first)."""
    regimens = TreatmentRegimen.history.filter(patient_id=patient.pk).select_related("history_user")
    events = AdverseEvent.history.filter(patient_id=patient.pk).select_related("history_user")
    biomarkers = Biomarker.history.filter(patient_id=patient.pk).select_related("history_user", "kind")
    outcomes = Outcome.history.filter(patient_id=patient.pk).select_related("history_user")
    return [
        *change_entries(regimens, record_type="regimen", fields=["start_date", "end_date", "end_reason"],
                        describe=lambda r: f"line {r.line_of_therapy} from {r.start_date:%Y-%m-%d}"),
        *change_entries(events, record_type="adverse event", fields=["grade", "onset_date", "resolution_date"],
                        describe=lambda r: f"{r.get_term_display()} (onset {r.onset_date:%Y-%m-%d})"),
        *change_entries(biomarkers, record_type="biomarker", fields=["value_numeric", "value_category", "measured_on"],
                        describe=lambda r: f"{r.kind.name} of {r.measured_on:%Y-%m-%d}"),
        *change_entries(outcomes, record_type="follow-up", fields=["last_contact_date", "vital_status", "death_date",
                                                                    "clinical_progression_date"],
                        describe=lambda r: "follow-up"),
    ]
