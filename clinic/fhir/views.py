"""The FHIR R4 endpoint (read-only) at /fhir/R4/.

Audit: every response that shows patient data writes one VIEW row per patient shown, in
one query (clinic.audit.audit_record_reads), naming the interaction in `detail`; a bulk
export writes one EXPORT row per exported patient when its files are ready.
"""

import datetime
from urllib.parse import urlencode

from django.conf import settings
from django.http import FileResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import http_date
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from rest_framework import exceptions, status
from rest_framework.response import Response

from clinic.audit import audit_record_reads
from clinic.fhir import codes, resources, search, selectors, services
from clinic.fhir.access import fhir_can_read, fhir_patient_scope
from clinic.fhir.models import ExportJob
from clinic.fhir.rest import fhir_view, operation_outcome
from clinic.models import Patient


def _base(request) -> str:
    """The absolute base URL of the endpoint, ending in "/"."""
    return request.build_absolute_uri(reverse("fhir_metadata")).removesuffix("metadata")


def _audit(request, patient_ids, detail: str) -> None:
    shown = list(dict.fromkeys(pk for pk in patient_ids if pk is not None))
    if shown:
        audit_record_reads(
            request=request, patients=[Patient(pk=pk) for pk in shown], detail=detail
        )


def _not_found(resource_type: str, resource_id: str):
    return exceptions.NotFound(f"{resource_type}/{resource_id} is not known here.")


def _int_id(resource_id: str) -> int | None:
    return int(resource_id) if resource_id.isdigit() and len(resource_id) < 19 else None


def _one(queryset, pk):
    return queryset.filter(pk=pk).first() if pk is not None else None


def _read(user, resource_type: str, resource_id: str):
    """(resource, patient id or None) of one id; NotFound when there is none."""
    scoped = lambda queryset, path: fhir_patient_scope(user, queryset, path)  # noqa: E731
    pk = _int_id(resource_id)
    found = None
    if resource_type == "Patient":
        row = _one(scoped(selectors.patients(), ""), pk)
        found = row and (resources.patient_resource(row), row.pk)
    elif resource_type == "Practitioner":
        row = _one(selectors.practitioners(), pk)
        found = row and (resources.practitioner_resource(row), None)
    elif resource_type == "Location":
        kind, _dash, number = resource_id.partition("-")
        if kind == "site":
            row = _one(selectors.sites(), _int_id(number))
            found = row and (resources.site_location(row), None)
        elif kind == "room":
            row = _one(selectors.rooms(), _int_id(number))
            found = row and (resources.room_location(row), None)
    elif resource_type == "ActivityDefinition":
        row = _one(selectors.procedure_types(), pk)
        found = row and (resources.activity_definition(row), None)
    elif resource_type == "Questionnaire":
        instrument = {qid: name for name, qid in codes.QUESTIONNAIRE_IDS.items()}.get(resource_id)
        found = instrument and (resources.questionnaire_resource(instrument), None)
    elif resource_type == "Appointment":
        row = _one(scoped(selectors.appointments(), "patient"), pk)
        found = row and (resources.appointment_resource(row), row.patient_id)
    elif resource_type == "Procedure":
        row = _one(scoped(selectors.procedures(), "patient"), pk)
        found = row and (resources.procedure_resource(row), row.patient_id)
    elif resource_type == "Flag":
        row = _one(scoped(selectors.alerts(), "patient"), pk)
        found = row and (resources.flag_resource(row), row.patient_id)
    elif resource_type == "Observation":
        found = _read_observation(user, resource_id)
    elif resource_type == "QuestionnaireResponse":
        number, _dash, qid = resource_id.partition("-")
        row = _one(scoped(selectors.responses(), "patient"), _int_id(number))
        made = resources.questionnaire_responses(row) if row else []
        match = [qr for qr in made if qr.id == resource_id]
        found = match and (match[0], row.patient_id)
    if not found:
        raise _not_found(resource_type, resource_id)
    return found


def _read_observation(user, resource_id: str):
    source, _dash, rest = resource_id.partition("-")
    number, _dash, slug = rest.partition("-")
    kinds = [kind for kind in codes.OBSERVATION_KINDS if kind.slug == slug]
    if not kinds or kinds[0].source != source:
        return None
    if source == "round":
        rows = fhir_patient_scope(user, selectors.observation_rounds(), "appointment__patient")
        row = _one(rows, _int_id(number))
        return row and (resources.round_observations(row, kinds)[0], row.appointment.patient_id)
    rows = fhir_patient_scope(user, selectors.responses(), "patient")
    row = _one(rows, _int_id(number))
    made = resources.response_observations(row, kinds) if row else []
    return made and (made[0], row.patient_id)


@fhir_view(public=True)
def metadata(request):
    """The CapabilityStatement: what this server reads and searches. No login, no data."""
    return Response(capability_statement(_base(request)))


def capability_statement(base: str) -> CapabilityStatement:
    resources_entries = []
    for resource_type in search.SEARCHES:
        entry = {
            "type": resource_type,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [
                {"name": name, "type": kind, "documentation": doc}
                for name, kind, doc in search.SEARCH_PARAMS.get(resource_type, [])
            ]
            or None,
        }
        if resource_type == "Appointment":
            entry["searchInclude"] = ["Appointment:patient"]
        if resource_type == "Patient":
            entry["operation"] = [
                {
                    "name": "everything",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                },
                {
                    "name": "export",
                    "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export",
                },
            ]
        resources_entries.append(entry)
    return CapabilityStatement(
        status="active",
        date=timezone.now(),
        publisher=settings.CLINIC_NAME,
        kind="instance",
        instantiates=["http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"],
        software={"name": "Clinic procedure scheduling and follow-up tracker"},
        implementation={"description": f"{settings.CLINIC_NAME}: read-only FHIR", "url": base},
        fhirVersion=codes.FHIR_VERSION,
        format=["json", "application/fhir+json"],
        rest=[
            {
                "mode": "server",
                "documentation": "Read-only. Paging by Bundle.link next; _count up to "
                f"{settings.FHIR_MAX_PAGE_SIZE}. Unknown search parameters are refused (400).",
                "security": {
                    "description": "HTTP session (staff login) or API token "
                    "(Authorization: Token <key>, from /api/v1/auth/token/). Staff roles that "
                    "may read the clinical record only; every read is audited."
                },
                "resource": resources_entries,
                "operation": [
                    {
                        "name": "export",
                        "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
                    }
                ],
            }
        ],
    )


@fhir_view()
def read(request, resource_type, resource_id):
    """GET [base]/<type>/<id>."""
    if resource_type not in search.SEARCHES:
        raise exceptions.NotFound(f"{resource_type} is not a resource type this server reads.")
    resource, patient_id = _read(request.user, resource_type, resource_id)
    if patient_id is not None and not fhir_can_read(request.user, Patient(pk=patient_id)):
        raise _not_found(resource_type, resource_id)
    _audit(request, [patient_id], f"FHIR read {resource_type}/{resource_id}")
    return Response(resource)


def _page_size(request) -> int:
    value = request.query_params.get("_count")
    if value is None:
        return settings.FHIR_PAGE_SIZE
    if not value.isdigit() or len(value) > 9:
        raise search.SearchError("_count must be a whole number.")
    return min(int(value), settings.FHIR_MAX_PAGE_SIZE)


def _includes(request, resource_type: str) -> set[str]:
    wanted = set(request.query_params.getlist("_include"))
    supported = {"Appointment:patient"} if resource_type == "Appointment" else set()
    if wanted - supported:
        raise search.SearchError(
            f"_include={', '.join(sorted(wanted - supported))} is not supported"
            + (f"; only {', '.join(supported)}." if supported else ".")
        )
    return wanted


def _entry(base, resource, mode):
    return {
        "fullUrl": f"{base}{resource.get_resource_type()}/{resource.id}",
        "resource": resource,
        "search": {"mode": mode},
    }


@fhir_view()
def search_type(request, resource_type):
    """GET [base]/<type>?params: a searchset Bundle, paged by Bundle.link next."""
    if resource_type not in search.SEARCHES:
        raise exceptions.NotFound(f"{resource_type} is not a resource type this server reads.")
    query = {key: request.query_params.getlist(key) for key in request.query_params}
    sources = search.SEARCHES[resource_type](request.user, query)
    count = _page_size(request)
    includes = _includes(request, resource_type)
    hits, cursor = search.page(sources, count, request.query_params.get("_cursor"))

    base = _base(request)
    entries = [_entry(base, hit.resource, "match") for hit in hits]
    patient_ids = [hit.patient_id for hit in hits]
    if "Appointment:patient" in includes:
        patients = {hit.row.patient_id: hit.row.patient for hit in hits}
        entries += [
            _entry(base, resources.patient_resource(patient), "include")
            for patient in patients.values()
        ]
    links = [{"relation": "self", "url": request.build_absolute_uri()}]
    if cursor:
        params = [(k, v) for k in request.query_params for v in request.query_params.getlist(k)]
        params = [(k, v) for k, v in params if k != "_cursor"] + [("_cursor", cursor)]
        links.append(
            {
                "relation": "next",
                "url": request.build_absolute_uri(f"{request.path}?{urlencode(params)}"),
            }
        )
    _audit(request, patient_ids, f"FHIR search {resource_type}")
    return Response(Bundle(type="searchset", link=links, entry=entries or None))


@fhir_view()
def patient_everything(request, resource_id):
    """GET [base]/Patient/<id>/$everything: the patient, their record and what it names."""
    pk = _int_id(resource_id)
    patient = _one(fhir_patient_scope(request.user, selectors.patients(), ""), pk)
    if patient is None or not fhir_can_read(request.user, patient):
        raise _not_found("Patient", resource_id)
    refused = [t for t in services.PATIENT_COMPARTMENT if not fhir_can_read(request.user, None, t)]
    if refused:
        raise exceptions.PermissionDenied(f"Your role may not read {', '.join(refused)}.")
    record = selectors.patient_record(patient)
    base = _base(request)
    entries = [_entry(base, resource, "match") for resource in everything_resources(record)]
    _audit(request, [patient.pk], f"FHIR Patient/{patient.pk}/$everything")
    return Response(
        Bundle(
            type="searchset",
            total=len(entries),
            link=[{"relation": "self", "url": request.build_absolute_uri()}],
            entry=entries,
        )
    )


def everything_resources(record: selectors.PatientRecord) -> list:
    """The resources of a patient record: theirs first, then the ones they refer to."""
    made = [resources.patient_resource(record.patient)]
    for appointment in record.appointments:
        made.append(resources.appointment_resource(appointment))
        if appointment.status in codes.PROCEDURE_STATUS:
            made.append(resources.procedure_resource(appointment))
    for round in record.observation_rounds:
        made += resources.round_observations(round)
    for response in record.responses:
        made += resources.response_observations(response)
        made += resources.questionnaire_responses(response)
    made += [resources.flag_resource(alert) for alert in record.alerts]
    made += [resources.practitioner_resource(user) for user in record.physicians]
    made += [resources.site_location(site) for site in record.sites]
    made += [resources.room_location(room) for room in record.rooms]
    made += [resources.activity_definition(p) for p in record.procedure_types]
    answered = {
        instrument
        for response in record.responses
        for instrument in resources.response_instruments(response)
    }
    made += [
        resources.questionnaire_resource(instrument)
        for instrument in codes.QUESTIONNAIRE_IDS
        if instrument in answered
    ]
    return made


# --- Bulk Data export (FHIR Bulk Data Access IG, v2) --------------------------------------

EXPORT_PARAMS = {"_type", "_since", "_outputFormat", "_format"}
NDJSON_FORMATS = {"application/fhir+ndjson", "application/ndjson", "ndjson"}


def _kick_off(request, default_types):
    unknown = set(request.query_params) - EXPORT_PARAMS
    if unknown:
        raise search.SearchError(f"$export does not support {', '.join(sorted(unknown))}.")
    output_format = request.query_params.get("_outputFormat")
    if output_format is not None and output_format not in NDJSON_FORMATS:
        raise search.SearchError("_outputFormat must be application/fhir+ndjson.")
    types = default_types
    if request.query_params.get("_type"):
        types = [
            name.strip()
            for value in request.query_params.getlist("_type")
            for name in value.split(",")
            if name.strip()
        ]
        outside = [name for name in types if name not in default_types]
        if outside:
            raise search.SearchError(f"This export does not include {', '.join(outside)}.")
        types = list(dict.fromkeys(types))
    since = None
    if request.query_params.get("_since"):
        _prefix, since, _end = search.parse_date(request.query_params["_since"])
        if _prefix != "eq":
            raise search.SearchError("_since is an instant, without a prefix.")
    job = services.export_job_start(
        user=request.user, types=types, since=since, request_url=request.build_absolute_uri()
    )
    status_url = request.build_absolute_uri(reverse("fhir_export_status", args=[job.pk]))
    return Response(
        operation_outcome(f"Export {job.pk} accepted.", "informational", "information"),
        status=status.HTTP_202_ACCEPTED,
        headers={"Content-Location": status_url},
    )


@fhir_view()
def export_system(request):
    """GET [base]/$export: everything the user may read, as NDJSON files, asynchronously."""
    return _kick_off(request, services.EXPORT_TYPES)


@fhir_view()
def export_patients(request):
    """GET [base]/Patient/$export: the patient compartment of every patient."""
    return _kick_off(request, services.PATIENT_COMPARTMENT)


def _own_job(request, job_id) -> ExportJob:
    # Another user's job is answered as unknown: the files are the requester's only.
    job = ExportJob.objects.filter(pk=job_id, requested_by=request.user).first()
    if job is None or job.status == ExportJob.Status.CANCELLED:
        raise exceptions.NotFound(f"There is no export {job_id} of yours.")
    return job


@fhir_view(methods=("GET", "DELETE"))
def export_status(request, job_id):
    """Poll (GET) or cancel (DELETE) an export, as the Bulk Data spec says."""
    job = _own_job(request, job_id)
    if request.method == "DELETE":
        services.export_job_cancel(job=job)
        return Response(
            operation_outcome(f"Export {job.pk} cancelled.", "informational", "information"),
            status=status.HTTP_202_ACCEPTED,
        )
    if job.status in (ExportJob.Status.ACCEPTED, ExportJob.Status.IN_PROGRESS):
        progress = "queued" if job.status == ExportJob.Status.ACCEPTED else "in progress"
        return Response(
            None,
            status=status.HTTP_202_ACCEPTED,
            headers={"X-Progress": progress, "Retry-After": "5"},
        )
    if job.status == ExportJob.Status.FAILED:
        return Response(
            operation_outcome(f"Export {job.pk} failed; ask again.", "exception"),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if job.is_expired():
        services.export_job_cancel(job=job)
        raise exceptions.NotFound(f"Export {job.pk} has expired; ask again.")
    body = {
        "transactionTime": job.transaction_time.astimezone(datetime.UTC).isoformat(),
        "request": job.request_url,
        "requiresAccessToken": True,
        "output": [
            {
                "type": entry["type"],
                "url": request.build_absolute_uri(
                    reverse("fhir_export_file", args=[job.pk, entry["type"]])
                ),
                "count": entry["count"],
            }
            for entry in job.output
        ],
        "error": [],
    }
    return Response(
        body,
        content_type="application/json",
        headers={"Expires": http_date(job.expires_at.timestamp())},
    )


@fhir_view()
def export_file(request, job_id, resource_type):
    """GET one NDJSON file of a completed export: the requester's only, until it expires."""
    job = _own_job(request, job_id)
    if job.status != ExportJob.Status.COMPLETED or job.is_expired():
        raise exceptions.NotFound(f"Export {job.pk} has no files (any more).")
    if resource_type not in {entry["type"] for entry in job.output}:
        raise exceptions.NotFound(f"Export {job.pk} has no {resource_type} file.")
    path = services.export_file(job, resource_type)
    if not path.exists():
        raise exceptions.NotFound(f"Export {job.pk} has no {resource_type} file.")
    return FileResponse(path.open("rb"), content_type="application/fhir+ndjson", filename=path.name)


@fhir_view(methods=("GET", "POST", "PUT", "PATCH", "DELETE"))
def unknown(request, rest):
    """Anything else under the base: an OperationOutcome rather than an HTML 404."""
    if request.method != "GET":
        raise exceptions.MethodNotAllowed(request.method, "This FHIR server is read-only.")
    raise exceptions.NotFound(f"{rest} is not served here.")
