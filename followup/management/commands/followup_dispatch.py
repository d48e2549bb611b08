"""Run one tick of the follow-up dispatcher now (what beat runs every minute)."""

from django.core.management.base import BaseCommand

from followup.dispatch import dispatch_tick


class Command(BaseCommand):
    help = "Queue due reminders and surveys, recover stuck sends, and notify on-call now."

    def handle(self, *args, **options):
        report = dispatch_tick()
        self.stdout.write(", ".join(f"{key} {value}" for key, value in report.items()))
