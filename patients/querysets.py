from django.db import models
from django.db.models.functions import Coalesce


class PatientQuerySet(models.QuerySet):
    def followed_by(self, user):
        """The patients on ``user``'s care team ("my patients")."""
        return self.filter(care_team_members__user=user) if user and user.is_authenticated else self.none()

    def for_list(self):
        """The patient list before it is paginated: what its filters and orderings need (the current response and
        the last scan date as aliases, computed only where a filter or the chosen order uses them), nothing else.
        A page's rows get their columns afterwards (``with_list_columns`` over the page's pks): SQLite and
        PostgreSQL then evaluate the per-patient subqueries for 25 rows, not for every patient of the selection."""
        assessments = self.model._meta.get_field("response_assessments").related_model._default_manager
        latest = assessments.filter(patient=models.OuterRef("pk"), is_latest=True).order_by()
        return self.alias(current_response=models.Subquery(latest.values("current_irecist")[:1]),
                          last_scan_date=self._scan_columns()["last_scan_date"]).order_by("site__code", "study_id")

    def with_list_columns(self):
        """What the patient list shows, in a fixed number of queries whatever the cohort size.

        The scan columns follow the imaging app's reverse relation (``timepoints``) by name: patients imports
        nothing from the apps above it.
        """
        return (
            self.with_current_response()
            .select_related("site")
            .prefetch_related("regimens__agents")
            .annotate(**self._scan_columns())
            .order_by("site__code", "study_id")
        )

    def _scan_columns(self):
        """Scans and the last scan date per patient as correlated subqueries: computed for the rows of the page
        only, not (as a GROUP BY over a join would be) for the whole cohort before it is paginated."""
        timepoints = self.model._meta.get_field("timepoints").related_model._default_manager
        own = timepoints.filter(patient=models.OuterRef("pk")).order_by()
        count = own.values("patient").annotate(n=models.Count("pk")).values("n")[:1]
        return {"timepoint_count": Coalesce(models.Subquery(count), 0),
                "last_scan_date": models.Subquery(own.order_by("-date").values("date")[:1])}

    def with_current_response(self):
        """Each patient's response now: the latest read iRECIST response of their most recent ICI regimen, its date,
        and whether a scan awaits reading or an iUPD a confirmation scan.

        The analytics app stores these; its model is reached through the reverse relation by name
        (``response_assessments``), as the scan columns follow ``timepoints``: patients imports nothing from above.
        """
        if "current_response" in self.query.annotations:
            return self
        assessments = self.model._meta.get_field("response_assessments").related_model._default_manager
        latest = assessments.filter(patient=models.OuterRef("pk"), is_latest=True).order_by()
        return self.annotate(**{name: models.Subquery(latest.values(field)[:1]) for name, field in (
            ("current_response", "current_irecist"), ("current_response_date", "current_date"),
            ("scan_awaiting_read", "awaiting_read_from"), ("iupd_open", "iupd_awaiting_confirmation"))})

    def on_drug_class(self, drug_class):
        """Patients with a regimen of this drug class (a semi-join: one row per patient, no DISTINCT)."""
        regimens = self.model._meta.get_field("regimens").related_model._default_manager
        return self.filter(pk__in=regimens.filter(agents__drug_class=drug_class).values("patient"))
