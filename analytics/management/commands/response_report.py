from django.core.management.base import BaseCommand

from analytics.reports import pattern_confusion


class Command(BaseCommand):
    help = ("Compare the demo cohort's planted response patterns with what the response engine flags "
            "(confusion table per flag and per published definition).")

    def handle(self, *args, **options):
        table = pattern_confusion()
        if not table["rows"]:
            self.stdout.write("No demo patients with computed assessments (run seed_demo first).")
            return
        columns = table["columns"]
        width = max(len(r["pattern"]) for r in table["rows"]) + 2
        self.stdout.write("pattern".ljust(width) + "n".rjust(5) + "".join(c.rjust(max(len(c), 5) + 2) for c in columns))
        for row in table["rows"]:
            self.stdout.write(row["pattern"].ljust(width) + str(row["n"]).rjust(5)
                              + "".join(str(row[c]).rjust(max(len(c), 5) + 2) for c in columns))
        self.stdout.write("")
        for name, stats in table["summary"].items():
            self.stdout.write(f"{name}: sensitivity {stats['sensitivity']:.1%} ({stats['tp']}/{stats['positives']}), "
                              f"specificity {stats['specificity']:.1%} ({stats['tn']}/{stats['negatives']})")
