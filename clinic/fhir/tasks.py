"""Celery tasks of the FHIR interface: thin wrappers that take ids (clinic.fhir.services)."""

from celery import shared_task

from clinic.fhir import services


@shared_task(name="fhir.export_run")
def export_run(job_id: int) -> str:
    """Write the NDJSON files of export job `job_id`; repeating it changes nothing."""
    return services.export_job_run(job_id=job_id)


@shared_task(name="fhir.export_purge")
def export_purge() -> int:
    """Beat, hourly: remove the files of expired, failed and cancelled exports."""
    return services.export_purge()
