"""Recompute every recall row (followup.RecallEntry) from the rules and the records.

Rows are refreshed as appointments and answers change, and every night by the beat; run
this after loading data by other means. `--if-empty` fills them once after an upgrade that
adds them (the compose web service runs it before serving).
"""

import time

from django.core.management.base import BaseCommand

from followup.models import RecallEntry
from followup.services_recall import recall_entries_rebuild


class Command(BaseCommand):
    help = "Recompute the recall worklist's rows."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Only when there are none yet (a new install or an upgrade that adds them).",
        )

    def handle(self, *args, if_empty, **options):
        if if_empty and RecallEntry.objects.exists():
            self.stdout.write("Recall rows are there: nothing to do.")
            return
        started = time.perf_counter()
        count = recall_entries_rebuild()
        self.stdout.write(
            f"Rebuilt {count:,} recall rows in {time.perf_counter() - started:.1f} s."
        )
