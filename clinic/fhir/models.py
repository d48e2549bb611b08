"""Bulk export jobs ($export): one row per request, worked by a Celery task that takes its id."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ExportJob(models.Model):
    """A FHIR Bulk Data export asked for by one user; its NDJSON files are only theirs.

    The row is the truth: the task claims it (accepted -> in_progress, bumping `attempt`),
    writes the files under a folder of that attempt and completes it only if no other
    attempt took over meanwhile, so a redelivered or repeated task never mixes files.
    """

    class Status(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    request_url = models.CharField(max_length=2000)
    # Resource types asked for (`_type`), in the order they are written.
    types = models.JSONField(default=list)
    since = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACCEPTED)
    attempt = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    # When the export began reading: resources changed after it belong to the next export.
    transaction_time = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # [{"type": "Patient", "count": 12}], one file per type written.
    output = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=["accepted", "in_progress", "completed", "failed", "cancelled"]
                ),
                name="fhir_export_job_status_known",
            ),
            models.CheckConstraint(
                condition=~Q(status="completed")
                | Q(completed_at__isnull=False, expires_at__isnull=False),
                name="fhir_export_job_completed_has_times",
            ),
        ]

    def __str__(self):
        return f"FHIR export {self.pk} ({self.get_status_display()})"

    def is_expired(self, now=None) -> bool:
        """Completed files are served until `expires_at` (FHIR_EXPORT_EXPIRY_HOURS)."""
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())
