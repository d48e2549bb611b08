from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin import ReadOnlyHistoryAdmin
from scheduling.models import (
    Appointment,
    AppointmentEvent,
    PathwayOverride,
    PathwayRule,
    PhysicianSession,
    Unavailability,
)


@admin.register(PhysicianSession)
class PhysicianSessionAdmin(SimpleHistoryAdmin):
    list_display = ["physician", "site", "weekday", "starts", "ends", "valid_from", "valid_until"]
    list_filter = ["site", "weekday"]


@admin.register(Unavailability)
class UnavailabilityAdmin(SimpleHistoryAdmin):
    list_display = ["starts_at", "ends_at", "physician", "room", "site", "reason"]
    list_filter = ["reason"]


class AppointmentEventInline(admin.TabularInline):
    model = AppointmentEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "user", "kind", "from_status", "to_status", "detail"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Appointment)
class AppointmentAdmin(ReadOnlyHistoryAdmin):
    """Read-only: bookings and status changes go through the services, so every rule (and
    the audit trail) is checked; the history stays visible."""

    list_display = ["starts_at", "patient", "procedure_type", "physician", "room", "status"]
    list_filter = ["status", "site", "procedure_type"]
    raw_id_fields = ["patient"]
    date_hierarchy = "starts_at"
    inlines = [AppointmentEventInline]


@admin.register(PathwayRule)
class PathwayRuleAdmin(SimpleHistoryAdmin):
    """The clinic's repeat and pathway rules: a manager edits the numbers and switches rules
    on or off; the check each kind makes is scheduling.pathway's."""

    list_display = ["name", "code", "limit", "window_days", "percent", "duration_days", "active"]
    list_filter = ["active", "kind"]
    readonly_fields = ["code", "kind"]

    def has_add_permission(self, request):
        # A rule's kind names code: new kinds come with a release, not from the admin.
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PathwayOverride)
class PathwayOverrideAdmin(ReadOnlyHistoryAdmin):
    """Read-only: written by the booking service with the reason given."""

    list_display = ["at", "appointment", "rule_code", "reason", "by"]
