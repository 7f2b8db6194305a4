import json
import sys
import warnings
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from analytics.compute.response import ResponseInputError, evaluate


class Command(BaseCommand):
    help = ("Evaluate a response document (RESPONSE_RULES.md §5, see docs/response.md) and print the result "
            "as JSON. Exits non-zero, naming each problem, when the document is invalid. '-' reads stdin.")

    def add_arguments(self, parser):
        parser.add_argument("file", help="JSON file with the document, or - for standard input")
        parser.add_argument("--indent", type=int, default=2)

    def handle(self, *args, file, indent, **options):
        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from None
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(f"{file} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = evaluate(document)
        except ResponseInputError as exc:
            for problem in exc.problems:
                self.stderr.write(f"  {problem}")
            raise CommandError(f"The document has {len(exc.problems)} problem(s); nothing was evaluated.") from None
        self.stdout.write(json.dumps(result, indent=indent or None, ensure_ascii=False))
