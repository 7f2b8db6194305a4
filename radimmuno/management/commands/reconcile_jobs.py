from django.core.management.base import BaseCommand

from radimmuno.jobs import reconcile


class Command(BaseCommand):
    help = "Re-enqueue background jobs stuck in pending/running past their deadline (also a periodic task)."

    def handle(self, *args, **options):
        counts = reconcile()
        for label, n in sorted(counts.items()):
            self.stdout.write(f"{label}: {n} re-enqueued")
        if not counts:
            self.stdout.write("No kinds of background job are registered.")
