"""Recompute every recall row (followup.RecallEntry) from the rules and the records.

Rows are refreshed as appointments and answers change, and every night by the beat; run
this after an upgrade that adds them or after loading data by other means.
"""

import time

from django.core.management.base import BaseCommand

from followup.services_recall import recall_entries_rebuild


class Command(BaseCommand):
    help = "Recompute the recall worklist's rows."

    def handle(self, *args, **options):
        started = time.perf_counter()
        count = recall_entries_rebuild()
        self.stdout.write(
            f"Rebuilt {count:,} recall rows in {time.perf_counter() - started:.1f} s."
        )
