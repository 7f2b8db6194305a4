from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from analytics.models.robustness import DEFAULT_ICC_THRESHOLD
from analytics.selectors import robustness_class_summary
from analytics.services import feature_robustness_now
from analytics.services.robustness import (
    DEFAULT_CONTOUR_PROBABILITY,
    DEFAULT_PERTURBATIONS,
    MIN_LESIONS,
    PERTURBATIONS,
)
from imaging.selectors import extraction_profile_latest
from radimmuno.jobs import JobStatus


class Command(BaseCommand):
    help = ("Segmentation robustness of a profile's features: every lesion mask with done features of the profile's "
            "latest version is extracted again eroded and dilated by one voxel (and optionally with a random contour "
            "change); the ICC(3,1) of each feature across the perturbations is stored with the profile version.")

    def add_arguments(self, parser):
        parser.add_argument("--profile", required=True, help="extraction profile name (its latest version)")
        parser.add_argument("--threshold", type=float, default=DEFAULT_ICC_THRESHOLD,
                            help=f"ICC from which a feature is robust (default {DEFAULT_ICC_THRESHOLD})")
        parser.add_argument("--perturbations", nargs="+", choices=PERTURBATIONS, default=list(DEFAULT_PERTURBATIONS),
                            help="compared with the original mask (default: erode dilate)")
        parser.add_argument("--seed", type=int, default=0, help="seed of the random contour change (default 0)")
        parser.add_argument("--probability", type=float, default=DEFAULT_CONTOUR_PROBABILITY,
                            help="random contour: chance that a boundary voxel changes side "
                                 f"(default {DEFAULT_CONTOUR_PROBABILITY})")
        parser.add_argument("--limit", type=int, default=None,
                            help=f"at most N lesion masks, oldest first (at least {MIN_LESIONS})")
        parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
        parser.add_argument("--top", type=int, default=10, help="features listed at the top and bottom (default 10)")

    def handle(self, *args, profile, threshold, perturbations, seed, probability, limit, workers, top, **options):
        version = extraction_profile_latest(name=profile)
        if version is None:
            raise CommandError(f"No extraction profile named '{profile}' (load one with load_extraction_profile).")
        with tqdm(total=None, unit="mask", desc="re-extracting", file=self.stderr) as bar:
            def progress(done, total):
                bar.total = total
                bar.update(done - bar.n)

            try:
                row = feature_robustness_now(profile=version, perturbations=perturbations, seed=seed,
                                             threshold=threshold, probability=probability, limit=limit,
                                             workers=workers, progress=progress)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from None
        if row.status != JobStatus.DONE:
            raise CommandError(f"Feature robustness of {version} {row.status}: {row.error}")
        self._summary(row, top)

    def _summary(self, row, top):
        write = self.stdout.write
        write(f"Feature robustness of {row.profile} ({', '.join(row.perturbations)}; seed {row.seed}): "
              f"{row.n_lesions} lesion masks of {row.n_patients} patient(s), {len(row.excluded)} left out.")
        write(f"{row.n_robust} of {row.n_features} features robust (ICC(3,1) >= {row.threshold:g}).")
        for image_type, title in ((None, "all image types"), ("original", "original image")):
            summary = robustness_class_summary(row=row, image_type=image_type, texture_row=True)
            if summary.empty:
                continue
            write(f"\nBy feature class, {title}:")
            write(f"  {'class':<11}{'features':>9}{'robust':>8}{'median ICC':>12}{'IQR':>17}")
            for cls, s in summary.iterrows():
                write(f"  {cls:<11}{int(s.n_features):>9d}{int(s.n_robust):>8d}{s.median_icc:>12.3f}"
                      f"{f'{s.q1_icc:.3f}-{s.q3_icc:.3f}':>17}")
        ranked = sorted(((v["icc"], k) for k, v in row.features.items() if v.get("icc") is not None), reverse=True)
        for title, chosen in ((f"Top {top}", ranked[:top]), (f"Bottom {top}", ranked[::-1][:top])):
            write(f"\n{title} by ICC:")
            for icc, name in chosen:
                entry = row.features[name]
                write(f"  {icc:7.3f}  [{entry['ci_lower']:.3f}, {entry['ci_upper']:.3f}]  {name}")
        undefined = sorted(k for k, v in row.features.items() if v.get("undefined"))
        if undefined:
            write(f"\nICC undefined for {len(undefined)} feature(s) (never robust): {', '.join(undefined[:10])}"
                  f"{' ...' if len(undefined) > 10 else ''}")
        for entry in row.excluded:
            write(f"Left out: {entry['lesion']} of {entry['patient']} ({entry['date']}, segment {entry['segment']}): "
                  f"{entry['reason']}")
