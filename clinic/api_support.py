"""Plumbing the apps' JSON APIs share: request bodies, NUL characters, far-off times, users."""

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clinic import sites
from clinic.audit import audit_patients_shown, audit_record
from clinic.models import AuditEvent

NUL_MESSAGE = "Null characters are not allowed."


def contains_nul(value) -> bool:
    """Whether a JSON value holds a NUL character anywhere (PostgreSQL refuses it: a 500)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(contains_nul(v) for v in value)
    return False


def no_nul(value) -> None:
    if contains_nul(value):
        raise serializers.ValidationError(NUL_MESSAGE)


def body_object(request):
    """The request body as an object; a JSON list, string or number is refused with 400."""
    if not isinstance(request.data, dict):
        raise serializers.ValidationError(
            {"non_field_errors": ["Send the fields as a JSON object."]}
        )
    return request.data


class SafeDateTimeField(serializers.DateTimeField):
    """DRF's field, except that a time near year 1 or 9999 answers 400, not 500."""

    def enforce_timezone(self, value):
        try:
            return super().enforce_timezone(value)
        except OverflowError:
            self.fail("overflow")


# For a ModelSerializer's `serializer_field_mapping`: its date-times are SafeDateTimeFields.
DATETIME_MAPPING = {
    **serializers.ModelSerializer.serializer_field_mapping,
    models.DateTimeField: SafeDateTimeField,
}


def user_name(user) -> str:
    return user.get_full_name() or user.get_username()


@extend_schema_field(
    {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}
)
class UserField(serializers.RelatedField):
    """A user as {"id", "name"}."""

    def to_representation(self, value):
        return {"id": value.pk, "name": user_name(value)}


class AuditedReadsMixin:
    """For a viewset of clinical rows: every patient whose rows a list page shows, and the
    patient of every row retrieved, is audited as read (clinic.audit), named `audit_detail`."""

    audit_detail = ""
    # The path from a row to its appointment's site: lists show the user's sites only.
    site_field = "appointment__site"

    def get_queryset(self):
        rows = super().get_queryset()
        return sites.appointments_in_scope(self.request.user, rows, self.site_field)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        self._shown = page if page is not None else list(queryset)
        return page

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        if response.status_code == 200:
            audit_patients_shown(
                request=request,
                records=getattr(self, "_shown", []),
                detail=f"{self.audit_detail} (API list)",
            )
        return response

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        if response.status_code == 200:
            obj = self.get_object()
            audit_record(
                request=request,
                action=AuditEvent.Action.VIEW,
                obj=obj,
                patient=obj.patient,
                detail=f"{self.audit_detail} (API)",
            )
        return response
