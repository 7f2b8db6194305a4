"""Run a survival analysis from a spec file, in this process, and store it as an AnalysisRun (docs/analytics.md)."""
import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from analytics.services import analysis_run_now


def _number(value, digits=3):
    return "NA" if value is None else f"{value:.{digits}g}" if isinstance(value, float) else str(value)


class Command(BaseCommand):
    help = ("Run an analysis — survival (KM, Cox, landmark, time-varying irAE Cox) or classification (a prediction "
            "model with nested cross-validation) — from SPEC.json on the database, store it as a run, print a "
            "summary and optionally write the result JSON.")

    def add_arguments(self, parser):
        parser.add_argument("spec", help="path of the spec (JSON object), '-' for standard input")
        parser.add_argument("--output", "-o", help="write the result JSON here")

    def handle(self, *args, spec, output=None, **options):
        try:
            text = Path(spec).read_text() if spec != "-" else self.stdin.read()
        except OSError as exc:
            raise CommandError(f"Cannot read the spec {spec}: {exc.strerror}.") from None
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(f"The spec is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).") \
                from None
        def progress(done, total, message):
            width = 30
            filled = int(width * done / total) if total else width
            self.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {message[:60]:60s}",
                              ending="")
            if done == total:
                self.stderr.write("")
            self.stderr.flush()

        try:
            run = analysis_run_now(spec=document, progress=progress)
        except ValidationError as exc:
            problems = exc.message_dict if hasattr(exc, "error_dict") else {"spec": exc.messages}
            raise CommandError("Invalid spec: " + "; ".join(
                f"{field}: {' '.join(messages)}" for field, messages in problems.items())) from None
        if run.status != "done":
            raise CommandError(f"Analysis {run.pk} failed: {run.error or run.status}")
        result = run.result
        for line in self.summary(run, result):
            self.stdout.write(line)
        if output:
            Path(output).write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
            self.stdout.write(f"Result written to {output}.")

    def summary(self, run, result):
        if result.get("kind") == "classification":
            yield (f"Analysis {run.pk}: classification ({result.get('model')}) of {run.endpoint}: "
                   f"n={result.get('n')}, positives={result.get('positives')}")
            yield (f"  AUC {_number(result.get('auc'))} (95% CI {_number(result.get('auc_lower'))}–"
                   f"{_number(result.get('auc_upper'))}); permuted-label control AUC {_number(result.get('permuted_auc'))}")
            if result.get("leak_warning"):
                yield f"  WARNING: {result['leak_warning']}"
            yield (f"  Brier {_number(result.get('brier'))}, calibration slope {_number(result.get('calibration_slope'))}"
                   f", intercept {_number(result.get('calibration_intercept'))}")
            yield f"  selected features: {', '.join(result.get('selected_features') or []) or 'none'}"
            excluded = result.get("excluded") or {}
            if excluded:
                yield "Excluded: " + ", ".join(f"{reason} {count}" for reason, count in sorted(excluded.items()))
            return
        yield (f"Analysis {run.pk}: {result.get('kind')} of {result.get('endpoint')}: n={result.get('n')}, "
               f"events={result.get('events')}")
        excluded = result.get("excluded") or {}
        if excluded:
            yield "Excluded: " + ", ".join(f"{reason} {count}" for reason, count in sorted(excluded.items()))
        for term in result.get("terms") or []:
            yield (f"  {term['term']}: HR {_number(term.get('hr'))} (95% CI {_number(term.get('hr_lower'))}–"
                   f"{_number(term.get('hr_upper'))}), p={_number(term.get('p'))}")
        if result.get("concordance") is not None:
            yield f"  concordance {_number(result['concordance'])}"
        for group in result.get("groups") or []:
            yield (f"  {group['group']}: n={group['n']}, events={group['events']}, median "
                   f"{_number(group.get('median'))} days (95% CI {_number(group.get('median_lower'))}–"
                   f"{_number(group.get('median_upper'))})")
        logrank = result.get("logrank")
        if logrank:
            yield f"  log-rank: statistic {_number(logrank.get('statistic'))}, df {logrank.get('df')}, " \
                  f"p={_number(logrank.get('p'))}"
        for warning in result.get("warnings") or []:
            yield f"Warning: {warning}"
        yield f"Input SHA-256 {result.get('input_sha256')}"
