"""Writes of the FHIR interface: bulk export jobs ($export) and their NDJSON files."""

import datetime
import logging
import shutil
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from clinic.audit import audit_record_reads
from clinic.fhir import codes, resources, selectors
from clinic.fhir.access import fhir_can_read
from clinic.fhir.models import ExportJob
from clinic.models import AuditEvent, Patient

logger = logging.getLogger(__name__)

# Every type a system-level export writes, in this order; a Patient-level export writes
# the patient compartment only.
EXPORT_TYPES = [
    "Patient",
    "Practitioner",
    "Location",
    "ActivityDefinition",
    "Questionnaire",
    "Appointment",
    "Procedure",
    "Observation",
    "QuestionnaireResponse",
    "Flag",
]
PATIENT_COMPARTMENT = [
    "Patient",
    "Appointment",
    "Procedure",
    "Observation",
    "QuestionnaireResponse",
    "Flag",
]


class ExportRefused(ValueError):
    """The kick-off asked for something this server does not export (answered 400)."""


def export_job_start(*, user, types: list[str], since, request_url: str) -> ExportJob:
    """Record an export job and hand it to a worker once the row is committed."""
    unknown = [name for name in types if name not in EXPORT_TYPES]
    if unknown:
        raise ExportRefused(f"Cannot export {', '.join(unknown)}: not a type this server has.")
    refused = [name for name in types if not fhir_can_read(user, resource_type=name)]
    if refused:
        raise ExportRefused(f"Your role may not read {', '.join(refused)}.")
    job = ExportJob.objects.create(
        requested_by=user, types=types, since=since, request_url=request_url[:2000]
    )
    from clinic.fhir.tasks import export_run

    transaction.on_commit(lambda: export_run.delay(job.pk))
    return job


def export_dir(job: ExportJob) -> Path:
    return Path(settings.FHIR_EXPORT_DIR) / str(job.pk)


def export_file(job: ExportJob, resource_type: str) -> Path:
    """Where the completed job's file of one type is (its final attempt's folder)."""
    return export_dir(job) / f"attempt-{job.attempt}" / f"{resource_type}.ndjson"


def _row_patient_id(row, path: str | None) -> int | None:
    if path is None:
        return None
    if path == "":
        return row.pk
    if path == "appointment__patient":
        return row.appointment.patient_id
    return row.patient_id


def _expand(resource_type: str, row) -> list:
    if resource_type == "Patient":
        return [resources.patient_resource(row)]
    if resource_type == "Practitioner":
        return [resources.practitioner_resource(row)]
    if resource_type == "Location":
        if row._meta.model_name == "site":
            return [resources.site_location(row)]
        return [resources.room_location(row)]
    if resource_type == "ActivityDefinition":
        return [resources.activity_definition(row)]
    if resource_type == "Appointment":
        return [resources.appointment_resource(row)]
    if resource_type == "Procedure":
        return [resources.procedure_resource(row)]
    if resource_type == "Observation":
        if row._meta.model_name == "observationround":
            return resources.round_observations(row)
        return resources.response_observations(row)
    if resource_type == "QuestionnaireResponse":
        return resources.questionnaire_responses(row)
    if resource_type == "Flag":
        return [resources.flag_resource(row)]
    raise KeyError(resource_type)


def _write_files(job: ExportJob, folder: Path) -> tuple[list[dict], set[int]]:
    """Write one NDJSON file per type with resources; (output entries, patient ids)."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = selectors.export_sources(job.requested_by, job.since)
    output, patient_ids = [], set()
    for resource_type in job.types:
        path = folder / f"{resource_type}.ndjson"
        count = 0
        with path.open("w", encoding="utf-8") as ndjson:
            if resource_type == "Questionnaire":
                for instrument in codes.QUESTIONNAIRE_IDS:
                    ndjson.write(
                        resources.questionnaire_resource(instrument).model_dump_json() + "\n"
                    )
                    count += 1
            for queryset, patient_path in sources[resource_type]:
                for row in queryset.order_by("pk").iterator(chunk_size=2000):
                    made = _expand(resource_type, row)
                    for resource in made:
                        ndjson.write(resource.model_dump_json() + "\n")
                    count += len(made)
                    patient_id = _row_patient_id(row, patient_path)
                    if made and patient_id is not None:
                        patient_ids.add(patient_id)
        if count:
            output.append({"type": resource_type, "count": count})
        else:
            path.unlink()
    return output, patient_ids


def export_job_run(*, job_id: int) -> str:
    """Do the export of job `job_id`; safe to repeat and to run twice at once.

    A completed, failed or cancelled job is left alone. Otherwise this run claims the job
    with a new attempt number, writes that attempt's files, and completes the job only if
    it is still its attempt; then every exported patient gets an EXPORT audit row, in the
    same transaction as the completion.
    """
    now = timezone.now()
    claimed = ExportJob.objects.filter(
        pk=job_id, status__in=[ExportJob.Status.ACCEPTED, ExportJob.Status.IN_PROGRESS]
    ).update(
        status=ExportJob.Status.IN_PROGRESS,
        attempt=F("attempt") + 1,
        started_at=now,
        transaction_time=now,
    )
    if not claimed:
        return "not pending"
    job = ExportJob.objects.select_related("requested_by").get(pk=job_id)
    folder = export_dir(job) / f"attempt-{job.attempt}"
    mine = ExportJob.objects.filter(
        pk=job.pk, status=ExportJob.Status.IN_PROGRESS, attempt=job.attempt
    )
    try:
        output, patient_ids = _write_files(job, folder)
    except Exception as exc:
        logger.exception("FHIR export %s failed", job.pk)
        mine.update(status=ExportJob.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
        shutil.rmtree(folder, ignore_errors=True)
        return "failed"
    finished = timezone.now()
    with transaction.atomic():
        done = mine.update(
            status=ExportJob.Status.COMPLETED,
            output=output,
            completed_at=finished,
            expires_at=finished + datetime.timedelta(hours=settings.FHIR_EXPORT_EXPIRY_HOURS),
        )
        if done:
            audit_record_reads(
                user=job.requested_by,
                patients=[Patient(pk=pk) for pk in sorted(patient_ids)],
                detail=f"FHIR bulk export {job.pk}",
                action=AuditEvent.Action.EXPORT,
            )
    if not done:
        # Another attempt took the job over (or it was cancelled): its files count.
        shutil.rmtree(folder, ignore_errors=True)
        return "superseded"
    return "completed"


def export_job_cancel(*, job: ExportJob) -> None:
    """Cancel a job (or delete a completed one's files): the FHIR Bulk Data DELETE."""
    ExportJob.objects.filter(pk=job.pk).exclude(status=ExportJob.Status.CANCELLED).update(
        status=ExportJob.Status.CANCELLED
    )
    shutil.rmtree(export_dir(job), ignore_errors=True)


def export_purge(*, now: datetime.datetime | None = None) -> int:
    """Delete the files of expired, failed and cancelled jobs; the rows stay as history."""
    now = now or timezone.now()
    stale = ExportJob.objects.filter(
        Q(status=ExportJob.Status.COMPLETED, expires_at__lte=now)
        | Q(status__in=[ExportJob.Status.FAILED, ExportJob.Status.CANCELLED])
    )
    purged = 0
    for job in stale.only("pk"):
        folder = export_dir(job)
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
            purged += 1
    return purged
