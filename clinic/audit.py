"""The read-and-change audit trail of clinical records (AuditEvent rows)."""

from django.apps import apps
from django.db import connection
from django.utils import timezone
from django.utils.text import capfirst

from clinic.models import AuditEvent, Patient
from clinic.privacy import Identifiers
from clinic.roles import active_break_glass

# Read to keep them out of `detail`; a patient loaded without them is not read again for it.
IDENTIFYING = {"first_name", "last_name", "mrn", "email", "phone", "date_of_birth"}


def _under_break_glass(user, detail: str):
    """(break-glass access, detail naming its reason) for a row a superuser writes under one."""
    access = active_break_glass(user)
    if access is None:
        return None, detail[:255]
    return access, f"{detail} [break-glass: {access.reason}]".strip()[:255]


def client_ip(request) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy sets it.
    return request.META.get("REMOTE_ADDR") or None


def audit_record(*, request=None, user=None, action, obj=None, patient=None, detail=""):
    """Append one audit row. `user` defaults to the request's user.

    The row is kept forever (append-only), so a patient's own identifying values are taken
    out of `detail` (e.g. an override reason that names them): anonymisation cannot reach it.
    """
    if user is None and request is not None and request.user.is_authenticated:
        user = request.user
    if patient is not None and detail and not patient.get_deferred_fields() & IDENTIFYING:
        detail = Identifiers.of(patient).redact(detail)
    break_glass, detail = _under_break_glass(user, detail)
    return AuditEvent.objects.create(
        user=user,
        action=action,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        patient=patient,
        detail=detail,
        ip_address=client_ip(request) if request is not None else None,
        break_glass=break_glass,
    )


def audit_record_reads(*, request=None, user=None, patients, detail, action=AuditEvent.Action.VIEW):
    """One row per patient whose clinical record a list showed, in one query per thousand.

    `user` defaults to the request's; a task without a request (an export) passes it.
    """
    _record_reads(
        request=request,
        user=user,
        patient_ids=[patient.pk for patient in patients],
        detail=detail,
        action=action,
    )


def _record_reads(*, request, user, patient_ids, detail, action):
    """The rows of audit_record_reads. On PostgreSQL one INSERT that unnests the patients'
    ids: bulk_create builds and prepares a model instance per row, which cost a list page
    three times the INSERT itself."""
    if user is None and request is not None and request.user.is_authenticated:
        user = request.user
    break_glass, detail = _under_break_glass(user, detail)
    shared = {
        "at": timezone.now(),
        "user_id": user.pk if user is not None else None,
        "action": action,
        "object_type": Patient._meta.label,
        "detail": detail,
        "ip_address": client_ip(request) if request is not None else None,
        "break_glass_id": break_glass.pk if break_glass is not None else None,
    }
    if connection.vendor != "postgresql":  # SQLite under `make run`
        AuditEvent.objects.bulk_create(
            (AuditEvent(**shared, object_id=str(pk), patient_id=pk) for pk in patient_ids),
            batch_size=1000,
        )
        return
    meta = AuditEvent._meta
    fields = [meta.get_field(name) for name in shared]
    object_id, patient = meta.get_field("object_id"), meta.get_field("patient")
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in [*fields, object_id, patient])
    constants = ", ".join(f"%s::{field.db_type(connection)}" for field in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(meta.db_table)} ({columns}) "
            f"SELECT {constants}, id::text, id "
            f"FROM unnest(%s::{patient.db_type(connection)}[]) AS id",
            [
                *(
                    field.get_db_prep_save(value, connection)
                    for field, value in zip(fields, shared.values(), strict=True)
                ),
                list(patient_ids),
            ],
        )


def object_type_display(label: str) -> str:
    """What an audit row's object_type ("app_label.Model") names, in words.

    Rows keep the label they were written with. A model that moved to another app since
    ("clinic.<Model>" before) is found through that app's `previous_labels`, so old and new
    rows read the same.
    """
    app_label, _, name = label.partition(".")
    candidates = [app_label] + [
        config.label
        for config in apps.get_app_configs()
        if app_label in getattr(config, "previous_labels", ())
    ]
    for candidate in candidates:
        try:
            return capfirst(apps.get_model(candidate, name)._meta.verbose_name)
        except LookupError:
            continue
    return label


def audit_patients_shown(*, request, records, detail, patient_id="patient_id"):
    """A list that showed clinical data: one VIEW row per patient on it, in one insert.

    Rows are per patient rather than per request so that "who saw this patient's record"
    is one query on the patient's audit rows, whether they were seen alone or in a list.
    """
    ids = dict.fromkeys(
        record.pk if isinstance(record, Patient) else getattr(record, patient_id)
        for record in records
    )
    ids.pop(None, None)
    _record_reads(
        request=request,
        user=None,
        patient_ids=list(ids),
        detail=detail,
        action=AuditEvent.Action.VIEW,
    )
