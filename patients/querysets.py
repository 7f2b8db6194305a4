from django.db import models


class PatientQuerySet(models.QuerySet):
    def with_list_columns(self):
        """What the patient list shows, in a fixed number of queries whatever the cohort size."""
        from imaging.models import Timepoint  # imaging depends on patients; import lazily

        last_scan = Timepoint.objects.filter(patient=models.OuterRef("pk")).order_by("-date").values("date")[:1]
        return (
            self.select_related("site")
            .prefetch_related("regimens__agents")
            .annotate(
                timepoint_count=models.Count("timepoints", distinct=True),
                last_scan_date=models.Subquery(last_scan),
            )
            .order_by("site__code", "study_id")
        )

    def on_drug_class(self, drug_class):
        return self.filter(regimens__agents__drug_class=drug_class).distinct()
