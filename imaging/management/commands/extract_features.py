from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from imaging.models import ExtractionProfile, FeatureSet, Segment
from imaging.services.radiomics import feature_sets_extract_batch, feature_sets_request, profiles_for_modality
from radimmuno.jobs import JobStatus


class Command(BaseCommand):
    help = ("Extract radiomics features for stored lesion masks in batches, one worker process per core "
            "(each image series is loaded once for all of its lesions).")

    def add_arguments(self, parser):
        parser.add_argument("--profile", help="profile name (default: the active profiles of each modality)")
        parser.add_argument("--patient", help="study ID: only this patient's segmentations")
        parser.add_argument("--series", help="Series Instance UID: only the segmentations of this image series")
        parser.add_argument("--segment", type=int, action="append", default=[],
                            help="segment id (as in the admin); repeat for several")
        parser.add_argument("--missing-only", action="store_true", help="skip feature sets already done")
        parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")

    def handle(self, *args, profile, patient, series, segment, missing_only, workers, **options):
        segments = Segment.objects.select_related("segmentation__image_series__study__patient")
        if patient:
            segments = segments.filter(segmentation__image_series__study__patient__study_id=patient)
            if not segments.exists():
                raise CommandError(f"No segmentations for patient {patient}.")
        if series:
            segments = segments.filter(segmentation__image_series__series_instance_uid=series)
            if not segments.exists():
                raise CommandError(f"No segmentations of series {series}{' for this patient' if patient else ''}.")
        if segment:
            missing = sorted(set(segment) - set(segments.filter(pk__in=segment).values_list("pk", flat=True)))
            if missing:
                raise CommandError(f"No segment with id {', '.join(map(str, missing))}"
                                   f"{' among the chosen patient/series' if patient or series else ''}.")
            segments = segments.filter(pk__in=segment)
        profiles = None
        if profile:
            current = ExtractionProfile.objects.filter(name=profile).order_by("-version").first()
            if current is None:
                raise CommandError(f"No extraction profile named '{profile}' (load one with load_extraction_profile).")
            if current.is_external:
                raise CommandError(f"'{profile}' is an external profile: its features are imported "
                                   f"(import_features), not extracted here. Choose a pyradiomics profile.")
            profiles = [current]
        wanted = []
        for segment in segments:
            chosen = profiles if profiles is not None else profiles_for_modality(
                segment.segmentation.image_series.modality)
            for fs in feature_sets_request(segment=segment, profiles=chosen, enqueue=False):
                wanted.append(fs.pk)
        queryset = FeatureSet.objects.filter(pk__in=wanted).select_related(
            "segment__segmentation__image_series", "profile")
        if missing_only:
            queryset = queryset.exclude(status=JobStatus.DONE)
        todo = list(queryset)
        if not todo:
            self.stdout.write("Nothing to extract.")
            return
        with tqdm(total=len(todo), unit="region", desc="extracting", file=self.stderr) as bar:
            done, failed = feature_sets_extract_batch(todo, workers=workers,
                                                      progress=lambda n: bar.update(n - bar.n))
        self.stdout.write(f"{done} feature sets done, {failed} failed.")
        for fs in FeatureSet.objects.filter(pk__in=[f.pk for f in todo], status=JobStatus.FAILED)[:20]:
            self.stdout.write(f"  failed: {fs}: {fs.error}")
