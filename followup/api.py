"""JSON API v1 of follow-up: invitations, responses with scores, alerts (+ acknowledge).

The same rules as the pages: reading needs the model's view permission (clinical roles
only for responses and alerts), acknowledging needs `change_alert` and goes through
`followup.services.alert_acknowledge` (a second acknowledgement is refused: 409).
"""

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.response import Response as ApiResponse

from clinic import sites
from clinic.api_support import AuditedReadsMixin, user_name
from clinic.audit import audit_record
from clinic.models import AuditEvent
from followup.models import Alert, Invitation, Response
from followup.services import alert_acknowledge
from scheduling.dates import EARLIEST_DAY, LATEST_DAY, in_range

MOMENT_OUT_OF_RANGE = (
    f"Enter a date and time between {EARLIEST_DAY:%Y-%m-%d} and {LATEST_DAY:%Y-%m-%d}."
)


def moment_in_range(value) -> None:
    # Moments near year 1 or 9999 overflow when the database query shifts them to UTC.
    if value is not None and not in_range(value.date()):
        raise DjangoValidationError(MOMENT_OUT_OF_RANGE, code="out_of_range")


def moment_filter(field_name: str, lookup_expr: str) -> django_filters.IsoDateTimeFilter:
    return django_filters.IsoDateTimeFilter(
        field_name=field_name, lookup_expr=lookup_expr, validators=[moment_in_range]
    )


class InvitationSerializer(serializers.ModelSerializer):
    step_name = serializers.CharField(source="step.name", default="", read_only=True)

    class Meta:
        model = Invitation
        fields = [
            "id",
            "patient",
            "appointment",
            "kind",
            "step_name",
            "instruments",
            "status",
            "due_at",
            "expires_at",
            "queued_at",
            "sent_at",
            "opened_at",
            "answered_at",
            "reminders_sent",
            "next_reminder_at",
            "last_error",
        ]


class InvitationFilter(django_filters.FilterSet):
    due_after = moment_filter("due_at", "gte")
    due_before = moment_filter("due_at", "lt")

    class Meta:
        model = Invitation
        fields = ["patient", "appointment", "kind", "status", "due_after", "due_before"]


@extend_schema_view(
    list=extend_schema(summary="List invitations (emails and surveys due, sent, answered)"),
    retrieve=extend_schema(summary="One invitation"),
)
class InvitationViewSet(viewsets.ReadOnlyModelViewSet):
    """Follow-up invitations: the reminder and survey emails with their due times and state."""

    queryset = Invitation.objects.select_related("step").order_by("due_at", "pk")

    def get_queryset(self):
        # Staff limited to some sites see those sites' rows (clinic.sites).
        return sites.appointments_in_scope(
            self.request.user, super().get_queryset(), "appointment__site"
        )

    serializer_class = InvitationSerializer
    filterset_class = InvitationFilter


class AlertSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Alert
        fields = ["id", "kind", "detail", "acknowledged_at"]


class ResponseSerializer(serializers.ModelSerializer):
    """A response with its scores. Decimal scores are exact and unrounded (strings)."""

    alerts = AlertSummarySerializer(many=True, read_only=True)

    class Meta:
        model = Response
        fields = [
            "id",
            "invitation",
            "patient",
            "submitted_at",
            "nrs_current",
            "nrs_average",
            "nrs_worst",
            "pgic",
            "patient_rated_relief",
            "percent_relief",
            "odi_percent",
            "ndi_percent",
            "red_flags",
            "answers",
            "alerts",
        ]


class ResponseFilter(django_filters.FilterSet):
    submitted_after = moment_filter("submitted_at", "gte")
    submitted_before = moment_filter("submitted_at", "lt")

    class Meta:
        model = Response
        fields = ["patient", "invitation", "submitted_after", "submitted_before"]


@extend_schema_view(
    list=extend_schema(summary="List survey responses with scores"),
    retrieve=extend_schema(summary="One survey response with its answers and scores"),
)
class ResponseViewSet(AuditedReadsMixin, viewsets.ReadOnlyModelViewSet):
    """Survey responses with scores: clinical roles only (`followup.view_response`)."""

    queryset = Response.objects.prefetch_related("alerts").order_by("-submitted_at", "-pk")
    serializer_class = ResponseSerializer
    filterset_class = ResponseFilter
    site_field = "invitation__appointment__site"
    audit_detail = "survey response"


class AlertSerializer(serializers.ModelSerializer):
    acknowledged_by = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = [
            "id",
            "patient",
            "response",
            "kind",
            "detail",
            "created_at",
            "oncall_emailed_at",
            "escalated_at",
            "acknowledged_by",
            "acknowledged_at",
            "acknowledgement_note",
        ]

    def get_acknowledged_by(self, alert) -> str | None:
        return user_name(alert.acknowledged_by) if alert.acknowledged_by else None


class AcknowledgeSerializer(serializers.Serializer):
    note = serializers.CharField(
        max_length=2000,
        help_text="What was done, e.g. 'Phoned the patient, advised to attend the ED'.",
    )


class AlertFilter(django_filters.FilterSet):
    acknowledged = django_filters.BooleanFilter(
        field_name="acknowledged_at", lookup_expr="isnull", exclude=True
    )

    class Meta:
        model = Alert
        fields = ["patient", "kind", "acknowledged"]


class CanAcknowledgeAlerts(BasePermission):
    """Acknowledging is a change of the alert (`change_alert`), not the POST-means-add default."""

    def has_permission(self, request, view):
        return bool(request.user and request.user.has_perm("followup.change_alert"))


@extend_schema_view(
    list=extend_schema(summary="List alerts (filter acknowledged=false for the open ones)"),
    retrieve=extend_schema(summary="One alert"),
)
class AlertViewSet(
    AuditedReadsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Alerts raised by survey answers; a nurse acknowledges each with a note."""

    audit_detail = "follow-up alert"

    queryset = Alert.objects.select_related("acknowledged_by").order_by("-created_at", "-pk")
    site_field = "response__invitation__appointment__site"
    serializer_class = AlertSerializer
    filterset_class = AlertFilter

    @extend_schema(
        summary="Acknowledge an alert with a note of what was done",
        request=AcknowledgeSerializer,
        responses={
            200: AlertSerializer,
            400: OpenApiResponse(description="The note is missing or too long."),
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[CanAcknowledgeAlerts])
    def acknowledge(self, request, pk=None):
        alert = self.get_object()
        body = AcknowledgeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        alert_acknowledge(alert=alert, user=request.user, note=body.validated_data["note"])
        audit_record(
            request=request,
            action=AuditEvent.Action.CHANGE,
            obj=alert,
            patient=alert.patient,
            detail="alert acknowledged (API)",
        )
        alert.refresh_from_db()
        return ApiResponse(AlertSerializer(alert).data)
