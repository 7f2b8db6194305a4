from django.db import models


class PatientQuerySet(models.QuerySet):
    def with_list_columns(self):
        """What the patient list shows, in a fixed number of queries whatever the cohort size.

        The scan columns follow the imaging app's reverse relation (``timepoints``) by name: patients imports
        nothing from the apps above it.
        """
        return (
            self.select_related("site")
            .prefetch_related("regimens__agents")
            .annotate(
                timepoint_count=models.Count("timepoints", distinct=True),
                last_scan_date=models.Max("timepoints__date"),
            )
            .order_by("site__code", "study_id")
        )

    def on_drug_class(self, drug_class):
        return self.filter(regimens__agents__drug_class=drug_class).distinct()
