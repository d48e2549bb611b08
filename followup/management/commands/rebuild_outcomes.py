"""Recompute every outcome row (followup.OutcomeEpisode) from the surveys and records.

Rows are refreshed as answers come in; run this after loading data by other means, after
changing the outcome rules, or after a nurse amends a pre-procedure pain score.
"""

import time

from django.core.management.base import BaseCommand

from followup.services_outcomes import outcome_episodes_rebuild


class Command(BaseCommand):
    help = "Recompute the outcome row of every treated appointment."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=2000, metavar="N")

    def handle(self, *args, batch_size, **options):
        started = time.perf_counter()
        count = outcome_episodes_rebuild(batch_size=batch_size)
        self.stdout.write(
            f"Rebuilt {count:,} outcome rows in {time.perf_counter() - started:.1f} s."
        )
