"""Time a FHIR bulk export ($export) of whatever the database holds; change nothing.

The export runs as a throwaway manager inside a transaction that is rolled back (job,
audit rows and user), into a temporary folder that is removed afterwards.
"""

import tempfile
import time

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings

from clinic.fhir import services
from clinic.fhir.models import ExportJob
from clinic.roles import Role, group_name


class _Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "Time a FHIR $export of the whole database and print its NDJSON line counts."

    def handle(self, *args, **options):
        with tempfile.TemporaryDirectory() as folder, override_settings(FHIR_EXPORT_DIR=folder):
            try:
                with transaction.atomic():
                    self._run()
                    raise _Rollback
            except _Rollback:
                pass

    def _run(self):
        user = User.objects.create_user(username="bench-fhir-export")
        user.groups.add(Group.objects.get(name=group_name(Role.MANAGER)))
        job = ExportJob.objects.create(
            requested_by=user, types=services.EXPORT_TYPES, request_url="bench_fhir"
        )
        started = time.perf_counter()
        result = services.export_job_run(job_id=job.pk)
        seconds = time.perf_counter() - started
        job.refresh_from_db()
        if result != "completed":
            self.stderr.write(f"FHIR $export {result}: {job.error}")
            return
        total = 0
        self.stdout.write("FHIR $export (NDJSON lines per type):")
        for entry in job.output:
            with services.export_file(job, entry["type"]).open(encoding="utf-8") as ndjson:
                lines = sum(1 for _line in ndjson)
            assert lines == entry["count"], entry
            total += lines
            self.stdout.write(f"  {entry['type']:<22} {lines:>9,}")
        rate = total / seconds if seconds else 0
        self.stdout.write(f"  {'total':<22} {total:>9,} in {seconds:.2f} s ({rate:,.0f} lines/s)")
