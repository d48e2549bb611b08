from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from clinic import forms
from clinic.models import (
    Allergy,
    AuditEvent,
    Medication,
    OpeningHours,
    Patient,
    ProcedureType,
    Room,
    Site,
    StaffProfile,
)


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0


@admin.register(Site)
class SiteAdmin(SimpleHistoryAdmin):
    list_display = ["name", "time_zone", "active"]
    inlines = [OpeningHoursInline]


@admin.register(OpeningHours)
class OpeningHoursAdmin(SimpleHistoryAdmin):
    list_display = ["site", "weekday", "opens", "closes"]
    list_filter = ["site"]


@admin.register(Room)
class RoomAdmin(SimpleHistoryAdmin):
    form = forms.RoomForm
    list_display = ["name", "site", "kind", "get_capabilities_display", "active"]
    list_filter = ["site", "kind", "active"]


@admin.register(ProcedureType)
class ProcedureTypeAdmin(SimpleHistoryAdmin):
    form = forms.ProcedureTypeForm
    list_display = ["name", "code", "category", "bleeding_risk", "room_minutes", "active"]
    list_filter = ["category", "bleeding_risk", "active"]
    search_fields = ["name", "code"]


@admin.register(StaffProfile)
class StaffProfileAdmin(SimpleHistoryAdmin):
    list_display = ["user", "title", "is_demo"]
    filter_horizontal = ["credentials"]


class MedicationInline(admin.TabularInline):
    model = Medication
    extra = 0


class AllergyInline(admin.TabularInline):
    model = Allergy
    extra = 0


@admin.register(Patient)
class PatientAdmin(SimpleHistoryAdmin):
    list_display = ["mrn", "last_name", "first_name", "date_of_birth", "preferred_language"]
    search_fields = ["mrn", "last_name", "first_name"]
    inlines = [MedicationInline, AllergyInline]


@admin.register(Medication)
class MedicationAdmin(SimpleHistoryAdmin):
    list_display = ["patient", "name", "agent", "dose"]
    list_filter = ["agent"]
    raw_id_fields = ["patient"]


@admin.register(Allergy)
class AllergyAdmin(SimpleHistoryAdmin):
    list_display = ["patient", "kind", "substance", "severity"]
    list_filter = ["kind"]
    raw_id_fields = ["patient"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: an audit trail that can be edited is no audit trail."""

    list_display = ["at", "user", "action", "object_type", "object_id", "patient"]
    list_filter = ["action", "object_type"]
    raw_id_fields = ["patient"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# The perioperative record registers its own admin classes.
import clinic.nursing.admin  # noqa: E402,F401
