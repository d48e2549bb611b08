"""JSON API v1 for appointments and the slot finder: the pages' services and rules.

A refusal is 409 in the one shape of clinic.api_errors (a refused booking offers a few
free slots as alternatives); malformed input is 400 with a message per field.
"""

import datetime

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Prefetch, prefetch_related_objects
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic import sites
from clinic.api_permissions import site_scope_check
from clinic.api_support import user_name
from clinic.audit import audit_record
from clinic.models import AuditEvent, Indication, Patient, ProcedureType, Room, Site
from clinic.selectors import field_by_key
from scheduling import pathway, selectors, services
from scheduling.dates import OUT_OF_RANGE, in_range, validate_schedule_day
from scheduling.filters import AppointmentDaysMixin, days_applied_together
from scheduling.models import (
    Appointment,
    CancelReason,
    Laterality,
    PathwayOverride,
    Status,
    validate_levels,
)
from scheduling.rules import normalise_levels
from scheduling.selectors_board import card_appointments
from scheduling.slots import PARTS_OF_DAY, find_slots

User = get_user_model()
OVERRIDE = "scheduling.override_duration"
MAX_SLOT_DAYS = 92


class HasPermissions(BasePermission):
    """Logged in (401 otherwise) and holding every one of `perms` (403 otherwise)."""

    def __init__(self, *perms):
        self.perms = perms

    def has_permission(self, request, view):
        user = request.user
        allowed = bool(user and user.is_authenticated) and user.has_perms(self.perms)
        if allowed:
            site_scope_check(request, view)
        return allowed


class CanViewAppointments(HasPermissions):
    def __init__(self):
        super().__init__("scheduling.view_appointment")


# --- Serializers -------------------------------------------------------------------------


class SiteLocalDateTimeField(serializers.DateTimeField):
    """Leaves a time without an offset naive, for the view to read in the site's zone."""

    def enforce_timezone(self, value):
        return value if timezone.is_naive(value) else super().enforce_timezone(value)


STARTS_AT_HELP = "ISO 8601. Without an offset, it is read as local time at the room's site."


def starts_at_in_range(value: datetime.datetime) -> None:
    # Far-off years overflow as soon as the zone or the room time is added: refuse them as
    # bad input (400, naming the field) before any rule runs.
    if not in_range(value.date()):
        raise serializers.ValidationError(OUT_OF_RANGE)


class PathwayOverrideSerializer(serializers.ModelSerializer):
    by_name = serializers.SerializerMethodField()

    class Meta:
        model = PathwayOverride
        fields = ["rule_code", "warning", "evidence", "reason", "by", "by_name", "at"]
        read_only_fields = fields

    def get_by_name(self, override) -> str:
        return user_name(override.by) if override.by else ""

    def to_representation(self, override):
        return override_row(override, timezone.get_current_timezone())


def override_row(override: PathwayOverride, zone) -> dict:
    return {
        "rule_code": override.rule_code,
        "warning": override.warning,
        "evidence": override.evidence,
        "reason": override.reason,
        "by": override.by_id,
        "by_name": user_name(override.by) if override.by else "",
        "at": iso_time(override.at, zone),
    }


# As get_status_display() reads them, without rebuilding the choices for every row.
STATUS_LABELS = dict(Status.choices)


def iso_time(moment: datetime.datetime | None, zone) -> str | None:
    """A time as DRF's DateTimeField writes it: in `zone`, ISO 8601, UTC as "Z"."""
    if moment is None:
        return None
    text = moment.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# Its fields document the API (a docstring would show in the schema); `to_representation`
# writes the same values itself, for rows of SHOWN_APPOINTMENTS: DRF's field-by-field
# machinery was most of a list page's time.
class AppointmentSerializer(serializers.ModelSerializer):
    patient_name = serializers.CharField(source="patient.full_name", read_only=True)
    procedure_type_name = serializers.CharField(read_only=True)
    physician_name = serializers.SerializerMethodField()
    site_name = serializers.CharField(read_only=True)
    room_name = serializers.CharField(read_only=True)
    recovery_bay_name = serializers.CharField(read_only=True, allow_null=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    # A plain string here: the cancel endpoint's `reason` documents the choices once.
    cancel_reason = serializers.CharField(read_only=True)
    checked_in_late = serializers.BooleanField(
        read_only=True,
        help_text="Checked in more than an hour after starts_at.",
    )
    pathway_overrides = PathwayOverrideSerializer(
        source="pathway_override_list",
        many=True,
        read_only=True,
        help_text="Pathway warnings the booking went ahead despite, with the reason given.",
    )

    class Meta:
        model = Appointment
        fields = [
            "id",
            "patient",
            "patient_name",
            "procedure_type",
            "procedure_type_name",
            "physician",
            "physician_name",
            "site",
            "site_name",
            "room",
            "room_name",
            "recovery_bay",
            "recovery_bay_name",
            "starts_at",
            "ends_at",
            "recovery_starts_at",
            "recovery_ends_at",
            "laterality",
            "levels",
            "notes",
            "status",
            "status_display",
            "cancel_reason",
            "cancel_note",
            "checked_in_at",
            "checked_in_from",
            "checked_in_late",
            "indication",
            "pathway_overrides",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_physician_name(self, appointment) -> str:
        return user_name(appointment.physician)

    def to_representation(self, appointment):
        zone = timezone.get_current_timezone()
        return {
            "id": appointment.pk,
            "patient": appointment.patient_id,
            "patient_name": appointment.patient.full_name,
            "procedure_type": appointment.procedure_type_id,
            "procedure_type_name": appointment.procedure_type_name,
            "physician": appointment.physician_id,
            "physician_name": user_name(appointment.physician),
            "site": appointment.site_id,
            "site_name": appointment.site_name,
            "room": appointment.room_id,
            "room_name": appointment.room_name,
            "recovery_bay": appointment.recovery_bay_id,
            "recovery_bay_name": appointment.recovery_bay_name,
            "starts_at": iso_time(appointment.starts_at, zone),
            "ends_at": iso_time(appointment.ends_at, zone),
            "recovery_starts_at": iso_time(appointment.recovery_starts_at, zone),
            "recovery_ends_at": iso_time(appointment.recovery_ends_at, zone),
            "laterality": appointment.laterality,
            "levels": appointment.levels,
            "notes": appointment.notes,
            "status": appointment.status,
            "status_display": STATUS_LABELS.get(appointment.status, appointment.status),
            "cancel_reason": appointment.cancel_reason,
            "cancel_note": appointment.cancel_note,
            "checked_in_at": iso_time(appointment.checked_in_at, zone),
            "checked_in_from": appointment.checked_in_from,
            "checked_in_late": appointment.checked_in_late,
            "indication": appointment.indication_id,
            "pathway_overrides": [
                override_row(override, zone) for override in appointment.pathway_override_list
            ],
            "created_at": iso_time(appointment.created_at, zone),
            "updated_at": iso_time(appointment.updated_at, zone),
        }


PATHWAY_OVERRIDES = Prefetch(
    "pathway_overrides",
    # In their order within each appointment; the default order by appointment would join
    # the appointments again.
    PathwayOverride.objects.select_related("by").order_by("at", "pk"),
    to_attr="pathway_override_list",
)


def _shown_appointments():
    """Appointments with all AppointmentSerializer writes, in a constant number of queries.

    The small tables' names come as subqueries, not joins: with all six tables joined,
    PostgreSQL spent 12-40 ms choosing a join order for a query that runs in 1 ms. Of the
    patient and the physician only their names are read.
    """
    return (
        Appointment.objects.select_related("patient", "physician")
        .only(
            *(field.name for field in Appointment._meta.concrete_fields),
            "patient__first_name",
            "patient__last_name",
            "physician__first_name",
            "physician__last_name",
            "physician__username",
        )
        .annotate(
            procedure_type_name=field_by_key(ProcedureType, "name", "procedure_type"),
            site_name=field_by_key(Site, "name", "site"),
            room_name=field_by_key(Room, "name", "room"),
            recovery_bay_name=field_by_key(Room, "name", "recovery_bay"),
        )
        .prefetch_related(PATHWAY_OVERRIDES)
        .order_by("starts_at", "pk")
    )


# Built once, cloned per request: resolving the subqueries cost more than a page's rows.
SHOWN_APPOINTMENTS = _shown_appointments()
# A page of the list asks which of its rows have pathway overrides and fetches theirs only
# (`with_pathway_overrides`): most pages have none, and skip that query.
LISTED_APPOINTMENTS = SHOWN_APPOINTMENTS.prefetch_related(None).annotate(
    has_pathway_overrides=Exists(PathwayOverride.objects.filter(appointment=OuterRef("pk")))
)


def with_pathway_overrides(page: list[Appointment]) -> list[Appointment]:
    """`page`, from LISTED_APPOINTMENTS, with the overrides AppointmentSerializer writes."""
    overridden = []
    for appointment in page:
        if appointment.has_pathway_overrides:
            overridden.append(appointment)
        else:
            appointment.pathway_override_list = []
    prefetch_related_objects(overridden, PATHWAY_OVERRIDES)
    return page


class AppointmentCreateSerializer(serializers.Serializer):
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    procedure_type = serializers.PrimaryKeyRelatedField(queryset=ProcedureType.objects.all())
    physician = serializers.PrimaryKeyRelatedField(queryset=User.objects.filter(is_active=True))
    room = serializers.PrimaryKeyRelatedField(
        queryset=Room.objects.filter(kind=Room.Kind.PROCEDURE).select_related("site")
    )
    starts_at = SiteLocalDateTimeField(help_text=STARTS_AT_HELP, validators=[starts_at_in_range])
    laterality = serializers.ChoiceField(
        choices=Laterality.choices, default=Laterality.NOT_APPLICABLE
    )
    levels = serializers.CharField(
        max_length=60, required=False, allow_blank=True, default="", validators=[validate_levels]
    )
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    room_minutes = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=5,
        max_value=600,
        help_text="Room time override; only for users who may override durations.",
    )
    indication = serializers.PrimaryKeyRelatedField(
        queryset=Indication.objects.all(),
        required=False,
        allow_null=True,
        help_text="The patient's referral this procedure answers.",
    )
    pathway_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=1000,
        help_text="Why to book although pathway rules warn (409 pathway_warning without it).",
    )

    def validate(self, attrs):
        indication = attrs.get("indication")
        if indication is not None and indication.patient_id != attrs["patient"].pk:
            raise serializers.ValidationError({"indication": "This is another patient's."})
        if attrs.get("room_minutes") and not self.context["request"].user.has_perm(OVERRIDE):
            raise PermissionDenied("Only physicians and managers may override the room time.")
        attrs["starts_at"] = _aware(attrs["starts_at"], attrs["room"].site)
        return attrs


class RescheduleSerializer(serializers.Serializer):
    starts_at = SiteLocalDateTimeField(help_text=STARTS_AT_HELP, validators=[starts_at_in_range])
    room = serializers.PrimaryKeyRelatedField(
        queryset=Room.objects.filter(kind=Room.Kind.PROCEDURE).select_related("site"),
        required=False,
        help_text="Defaults to the current room.",
    )
    physician = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True),
        required=False,
        help_text="Defaults to the current physician.",
    )
    room_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=5, max_value=600
    )

    def validate(self, attrs):
        if attrs.get("room_minutes") and not self.context["request"].user.has_perm(OVERRIDE):
            raise PermissionDenied("Only physicians and managers may override the room time.")
        room = attrs.get("room") or self.context["appointment"].room
        attrs["starts_at"] = _aware(attrs["starts_at"], room.site)
        return attrs


def _aware(value: datetime.datetime, site: Site) -> datetime.datetime:
    return timezone.make_aware(value, site.zone) if timezone.is_naive(value) else value


class CancelSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=CancelReason.choices)
    note = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if attrs["reason"] == CancelReason.OTHER and not attrs["note"].strip():
            raise serializers.ValidationError(
                {"note": "Describe the reason when you choose 'Other'."}
            )
        return attrs


class TransitionSerializer(serializers.Serializer):
    to = serializers.ChoiceField(
        choices=[c for c in Status.choices if c[0] != Status.CANCELLED],
        help_text="The next status. Cancelling takes a reason: use the cancel endpoint.",
        error_messages={
            "invalid_choice": '"{input}" is not a status to set here; to cancel, POST a reason '
            "to the appointment's cancel endpoint."
        },
    )
    override_reason = serializers.CharField(
        max_length=255,
        required=False,
        allow_blank=True,
        default="",
        help_text="One reason without a stop: applies only when a single overridable stop "
        "blocks (and to the discharge criteria). Prefer `overrides`.",
    )
    overrides = serializers.DictField(
        child=serializers.CharField(max_length=255, allow_blank=True),
        required=False,
        default=dict,
        help_text="A physician's reason per stop, keyed by the `stop` of a refusal's reason, e.g. "
        '{"antithrombotics": "Haematologist agreed"}. Each reason waives its own stop only, '
        "and only a stop the refusal marks `overridable`; the sign-in, the time-out and its "
        "two confirmations are never overridden.",
    )


class PathwayEvidenceSerializer(serializers.Serializer):
    text = serializers.CharField()
    date = serializers.CharField(allow_blank=True)
    appointment = serializers.IntegerField(allow_null=True)


class PathwayWarningSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="The rule's code.")
    rule = serializers.CharField()
    reason = serializers.CharField()
    evidence = PathwayEvidenceSerializer(many=True)
    source = serializers.CharField()
    verify_note = serializers.CharField()


class SlotSerializer(serializers.Serializer):
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    site = serializers.IntegerField(source="site.pk")
    site_name = serializers.CharField(source="site.name")
    room = serializers.IntegerField(source="room.pk")
    room_name = serializers.CharField(source="room.name")
    physician = serializers.IntegerField(source="physician.pk")
    physician_name = serializers.SerializerMethodField()
    recovery_bay = serializers.IntegerField(source="recovery_bay.pk")
    recovery_bay_name = serializers.CharField(source="recovery_bay.name")
    pathway_warnings = serializers.SerializerMethodField(
        help_text="Codes of the pathway rules that would warn at this slot (with a patient)."
    )

    def get_physician_name(self, slot) -> str:
        return user_name(slot.physician)

    def get_pathway_warnings(self, slot) -> list[str]:
        return [w.code for w in self.context.get("pathway", {}).get(slot.starts_at, [])]


class SlotQuerySerializer(serializers.Serializer):
    procedure_type = serializers.PrimaryKeyRelatedField(
        queryset=ProcedureType.objects.filter(active=True)
    )
    site = serializers.PrimaryKeyRelatedField(
        queryset=Site.objects.filter(active=True), required=False
    )
    physician = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False
    )
    patient = serializers.PrimaryKeyRelatedField(
        queryset=Patient.objects.all(),
        required=False,
        help_text="Leave out slots when this patient is already booked, and mark the slots "
        "where the clinic's pathway rules would warn for this patient.",
    )
    levels = serializers.CharField(
        max_length=60,
        required=False,
        allow_blank=True,
        default="",
        validators=[validate_levels],
        help_text="Levels to be treated, for the pathway rules' marks.",
    )
    laterality = serializers.ChoiceField(choices=Laterality.choices, required=False)
    date_from = serializers.DateField(
        required=False, help_text="Default: today.", validators=[validate_schedule_day]
    )
    date_to = serializers.DateField(
        required=False, help_text="Default: 28 days on.", validators=[validate_schedule_day]
    )
    part_of_day = serializers.ChoiceField(choices=sorted(PARTS_OF_DAY), required=False)
    limit = serializers.IntegerField(min_value=1, max_value=50, default=10)

    def validate(self, attrs):
        start = attrs.get("date_from") or timezone.localdate()
        end = attrs.get("date_to")
        if end is not None and end < start:
            raise serializers.ValidationError({"date_to": "The end date is before the start."})
        if end is not None and (end - start).days > MAX_SLOT_DAYS:
            raise serializers.ValidationError(
                {"date_to": f"Search at most {MAX_SLOT_DAYS} days at a time."}
            )
        return attrs


class SchedulingErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


VALIDATION_ERROR = OpenApiResponse(
    OpenApiTypes.OBJECT, description="Invalid input: each field name with its messages."
)
FORBIDDEN = OpenApiResponse(SchedulingErrorSerializer, description="Not allowed for your role.")


# --- Views -------------------------------------------------------------------------------


class AppointmentFilterSet(AppointmentDaysMixin, django_filters.FilterSet):
    date_from = django_filters.DateFilter(
        method=days_applied_together,
        label="Starts on or after (date, site-local). Default: today, unless date_to is given.",
    )
    date_to = django_filters.DateFilter(
        method=days_applied_together, label="Starts on or before (date, site-local)"
    )
    site = django_filters.ModelChoiceFilter(queryset=Site.objects.all())
    physician = django_filters.ModelChoiceFilter(queryset=User.objects.all())
    procedure_type = django_filters.ModelChoiceFilter(queryset=ProcedureType.objects.all())
    status = django_filters.MultipleChoiceFilter(choices=Status.choices)
    patient = django_filters.ModelChoiceFilter(queryset=Patient.objects.all())

    class Meta:
        model = Appointment
        fields = [
            "date_from",
            "date_to",
            "site",
            "physician",
            "procedure_type",
            "status",
            "patient",
        ]


BOOK = ("scheduling.add_appointment", "scheduling.change_appointment")


@extend_schema_view(
    list=extend_schema(
        summary="List appointments",
        description=(
            "Earliest first, paginated. Without `date_from` or `date_to` the list starts "
            "today (the clinic's date): pass an earlier `date_from` for past appointments. "
            "Days are read in the site's zone when `site` is given, else the clinic's."
        ),
    ),
    retrieve=extend_schema(summary="One appointment"),
)
class AppointmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Appointments: book, reschedule, cancel and move through the day's statuses."""

    queryset = card_appointments()
    serializer_class = AppointmentSerializer
    filterset_class = AppointmentFilterSet
    # A refused booking or reschedule offers free slots.
    alternatives_serializer = SlotSerializer

    def get_queryset(self):
        # Reads are serialized; the moves hand the appointment to a service.
        if self.action == "retrieve":
            return SHOWN_APPOINTMENTS.all()
        if self.action == "list":
            return sites.appointments_in_scope(self.request.user, LISTED_APPOINTMENTS.all())
        return super().get_queryset()

    def get_permissions(self):
        # Booking, moving and cancelling are the booking roles' work, as on the pages;
        # status moves are checked per target status in `transition`.
        if self.action in ("reschedule", "cancel"):
            return [HasPermissions(*BOOK)]
        if self.action in ("transition", "undo_check_in"):
            return [HasPermissions("scheduling.change_appointment")]
        return super().get_permissions()

    def paginate_queryset(self, queryset):
        return with_pathway_overrides(super().paginate_queryset(queryset))

    def filter_queryset(self, queryset):
        # The list's filters (and its "from today") are for the list: one appointment is
        # found by its id whatever its day.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def _incoming(self, serializer_class, **context):
        incoming = serializer_class(data=self.request.data, context=context)
        incoming.is_valid(raise_exception=True)
        return incoming.validated_data

    def _answer(self, pk, code=status.HTTP_200_OK) -> Response:
        return Response(AppointmentSerializer(SHOWN_APPOINTMENTS.get(pk=pk)).data, status=code)

    @extend_schema(
        summary="Book an appointment",
        request=AppointmentCreateSerializer,
        responses={201: AppointmentSerializer, 400: VALIDATION_ERROR, 403: FORBIDDEN},
    )
    def create(self, request):
        data = self._incoming(AppointmentCreateSerializer, request=request)
        appointment = services.appointment_book(actor=request.user, **data)
        return self._answer(appointment.pk, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Move an appointment to another time, room or physician",
        request=RescheduleSerializer,
        responses={200: AppointmentSerializer, 400: VALIDATION_ERROR, 403: FORBIDDEN},
    )
    @action(detail=True, methods=["post"])
    def reschedule(self, request, pk=None):
        appointment = self.get_object()
        data = self._incoming(RescheduleSerializer, request=request, appointment=appointment)
        services.appointment_reschedule(actor=request.user, appointment=appointment, **data)
        return self._answer(pk)

    @extend_schema(
        summary="Cancel an appointment",
        request=CancelSerializer,
        responses={200: AppointmentSerializer, 400: VALIDATION_ERROR, 403: FORBIDDEN},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        appointment = self.get_object()
        data = self._incoming(CancelSerializer)
        services.appointment_cancel(actor=request.user, appointment=appointment, **data)
        return self._answer(pk)

    @extend_schema(
        summary="Move an appointment to its next status (check in, no-show, ...)",
        request=TransitionSerializer,
        responses={200: AppointmentSerializer, 400: VALIDATION_ERROR, 403: FORBIDDEN},
    )
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        appointment = self.get_object()
        data = self._incoming(TransitionSerializer)
        to = data["to"]
        if not selectors.may_set_status(request.user, to):
            raise PermissionDenied(f"Your role may not set an appointment to {Status(to).label}.")
        if to == Status.NO_SHOW:
            services.appointment_mark_no_show(actor=request.user, appointment=appointment)
        else:
            services.appointment_transition(
                actor=request.user,
                appointment=appointment,
                to=to,
                override_reason=data["override_reason"],
                overrides=data["overrides"],
            )
        return self._answer(pk)

    @extend_schema(
        summary="Undo a check-in made by mistake",
        description="Back to booked or confirmed, whichever it was checked in from: on the "
        "appointment's day (site-local) only, while the patient is still just checked in.",
        request=None,
        responses={200: AppointmentSerializer, 403: FORBIDDEN},
    )
    @action(detail=True, methods=["post"], url_path="undo-check-in")
    def undo_check_in(self, request, pk=None):
        appointment = self.get_object()
        if not selectors.may_undo_check_in_as(request.user):
            raise PermissionDenied("Your role may not undo a check-in.")
        services.appointment_check_in_undo(actor=request.user, appointment=appointment)
        return self._answer(pk)


class SlotFinderView(APIView):
    """The next free slots at which every booking rule holds."""

    permission_classes = [CanViewAppointments]

    @extend_schema(
        summary="Find free slots",
        parameters=[SlotQuerySerializer],
        responses={200: SlotSerializer(many=True), 400: VALIDATION_ERROR},
    )
    def get(self, request):
        query = SlotQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = dict(query.validated_data)
        marks_for = {"levels": data.pop("levels", ""), "laterality": data.pop("laterality", "")}
        slots = find_slots(**data)
        marks = {}
        if data.get("patient") is not None:
            marks = pathway.slot_warnings(
                slots,
                patient=data["patient"],
                procedure_type=data["procedure_type"],
                levels=normalise_levels(marks_for["levels"]),
                laterality=marks_for["laterality"] or Laterality.NOT_APPLICABLE,
            )
            _audit_pathway_read(request, data["patient"])
        return Response(SlotSerializer(slots, many=True, context={"pathway": marks}).data)


def _audit_pathway_read(request, patient) -> None:
    audit_record(
        request=request, action=AuditEvent.Action.VIEW, patient=patient, detail="pathway rules"
    )


class PathwayCheckSerializer(serializers.Serializer):
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    procedure_type = serializers.PrimaryKeyRelatedField(queryset=ProcedureType.objects.all())
    starts_at = SiteLocalDateTimeField(
        help_text="ISO 8601. Without an offset, local time at `site` (or the clinic's zone).",
        validators=[starts_at_in_range],
    )
    site = serializers.PrimaryKeyRelatedField(queryset=Site.objects.all(), required=False)
    laterality = serializers.ChoiceField(
        choices=Laterality.choices, default=Laterality.NOT_APPLICABLE
    )
    levels = serializers.CharField(
        max_length=60, required=False, allow_blank=True, default="", validators=[validate_levels]
    )
    indication = serializers.PrimaryKeyRelatedField(
        queryset=Indication.objects.all(), required=False, allow_null=True
    )

    def validate(self, attrs):
        indication = attrs.get("indication")
        if indication is not None and indication.patient_id != attrs["patient"].pk:
            raise serializers.ValidationError({"indication": "This is another patient's."})
        site = attrs.pop("site", None)
        if timezone.is_naive(attrs["starts_at"]):
            zone = site.zone if site else timezone.get_current_timezone()
            attrs["starts_at"] = timezone.make_aware(attrs["starts_at"], zone)
        attrs["levels"] = normalise_levels(attrs["levels"])
        return attrs


class PathwayCheckView(APIView):
    """The pathway rules' warnings for a booking, as the booking page evaluates them."""

    def get_permissions(self):
        return [HasPermissions(*BOOK)]

    @extend_schema(
        summary="Check a booking against the clinic's pathway rules",
        request=PathwayCheckSerializer,
        responses={200: PathwayWarningSerializer(many=True), 400: VALIDATION_ERROR},
    )
    def post(self, request):
        incoming = PathwayCheckSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        found = pathway.pathway_warnings(**data)
        _audit_pathway_read(request, data["patient"])
        return Response(PathwayWarningSerializer([w.as_dict() for w in found], many=True).data)
