from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin import ReadOnlyHistoryAdmin
from scheduling.models import Appointment, AppointmentEvent, PhysicianSession, Unavailability


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
