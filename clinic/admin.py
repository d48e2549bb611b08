from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from simple_history.admin import SimpleHistoryAdmin

from clinic import forms
from clinic.accounts.services import staff_roles_audit
from clinic.audit import audit_record, object_type_display
from clinic.models import (
    Allergy,
    AuditEvent,
    BreakGlass,
    ConservativeCare,
    CrossSiteAccess,
    Diagnosis,
    Imaging,
    Indication,
    Medication,
    OpeningHours,
    Patient,
    ProcedureType,
    Room,
    Site,
    StaffProfile,
)
from clinic.roles import roles_of

User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class ClinicUserAdmin(UserAdmin):
    """The user admin, without a way up for anyone but a superuser.

    The Admin role may change users, but only a superuser grants superuser status, admin site
    access, groups or raw permissions, and only a superuser edits a superuser. Staff get their
    roles on the staff page, where every change is audited.
    """

    SUPERUSER_ONLY_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions")

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += self.SUPERUSER_ONLY_FIELDS
        return readonly

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        request._roles_before = roles_of(User.objects.get(pk=obj.pk)) if change else set()
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        staff_roles_audit(request=request, user=form.instance, before=request._roles_before)


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


@admin.register(Diagnosis)
class DiagnosisAdmin(SimpleHistoryAdmin):
    """The referral diagnoses (ICD-10), seeded with the common spine pain diagnoses."""

    list_display = ["code", "text", "active"]
    list_filter = ["active"]
    search_fields = ["code", "text"]


@admin.register(StaffProfile)
class StaffProfileAdmin(SimpleHistoryAdmin):
    list_display = ["user", "title", "is_demo"]
    filter_horizontal = ["credentials"]


class ClinicalReadAuditMixin:
    """Audits every admin page that shows a clinical record, as the staff pages do."""

    def _patient_of(self, obj):
        """The patient a row belongs to: itself, its `patient`, or its appointment's,
        round's (nursing rows) or indication's patient."""
        if isinstance(obj, Patient):
            return obj
        for path in ("patient", "appointment", "round", "indication"):
            owner = getattr(obj, path, None)
            if owner is not None:
                return owner if path == "patient" else self._patient_of(owner)
        return None

    def _audit_read(self, request, object_id, detail):
        obj = self.get_object(request, object_id)
        if obj is not None and request.user.has_perm("clinic.view_clinical_record"):
            audit_record(
                request=request,
                action=AuditEvent.Action.VIEW,
                obj=obj,
                patient=self._patient_of(obj),
                detail=detail,
            )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET":
            self._audit_read(request, object_id, "clinical record (admin)")
        return super().change_view(request, object_id, form_url, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        self._audit_read(request, object_id, "clinical record history (admin)")
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._audit_read(request, object_id, f"clinical record version {version_id} (admin)")
        return super().history_form_view(request, object_id, version_id, extra_context)


class MedicationInline(admin.TabularInline):
    model = Medication
    extra = 0


class AllergyInline(admin.TabularInline):
    model = Allergy
    extra = 0


@admin.register(Patient)
class PatientAdmin(ClinicalReadAuditMixin, SimpleHistoryAdmin):
    list_display = ["mrn", "last_name", "first_name", "date_of_birth", "preferred_language"]
    search_fields = ["mrn", "last_name", "first_name"]
    inlines = [MedicationInline, AllergyInline]

    # The clinical note follows the clinical record permissions, as on the staff pages:
    # change_patient alone (demographics) neither shows nor edits it.
    def get_exclude(self, request, obj=None):
        if request.user.has_perm("clinic.view_clinical_record"):
            return super().get_exclude(request, obj)
        return ["spinal_history"]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        user = request.user
        if user.has_perm("clinic.view_clinical_record") and not user.has_perm(
            "clinic.change_clinical_record"
        ):
            readonly.append("spinal_history")
        return readonly


@admin.register(Medication)
class MedicationAdmin(ClinicalReadAuditMixin, SimpleHistoryAdmin):
    list_display = ["patient", "name", "agent", "dose"]
    list_filter = ["agent"]
    raw_id_fields = ["patient"]


@admin.register(Allergy)
class AllergyAdmin(ClinicalReadAuditMixin, SimpleHistoryAdmin):
    list_display = ["patient", "kind", "substance", "severity"]
    list_filter = ["kind"]
    raw_id_fields = ["patient"]


class ReadOnlyAdminMixin:
    """Rows written only by the services, so that every rule is checked: shown, never
    added, edited or deleted here, not even by a superuser."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Rows written only by the services (audit, signed records, sends)."""


class ClinicalReadOnlyAdmin(ClinicalReadAuditMixin, ReadOnlyAdmin):
    """Read-only clinical rows (nursing record, survey answers, alerts): opening one is
    audited like the staff pages."""


class ReadOnlyHistoryAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    """Read-only, with the history shown; no version is reverted here."""

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # simple_history saves a POSTed old version with view permission alone.
        if request.method != "GET":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


class ObjectTypeFilter(admin.SimpleListFilter):
    """By the model a row names, whichever label it was written with."""

    title = "object type"
    parameter_name = "object_type"

    def _labels(self):
        return AuditEvent.objects.order_by().values_list("object_type", flat=True).distinct()

    def lookups(self, request, model_admin):
        shown = {object_type_display(label) for label in self._labels()}
        return [(name, name) for name in sorted(shown)]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        labels = [label for label in self._labels() if object_type_display(label) == self.value()]
        return queryset.filter(object_type__in=labels)


@admin.register(CrossSiteAccess)
class CrossSiteAccessAdmin(ReadOnlyAdmin):
    """Who opened another site's record, and why (written by clinic.sites, never here)."""

    list_display = ["at", "user", "patient", "reason", "until"]
    list_select_related = ["user", "patient"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: an audit trail that can be edited is no audit trail."""

    list_display = ["at", "user", "action", "object_type_shown", "object_id", "patient", "detail"]
    list_filter = ["action", ObjectTypeFilter, ("break_glass", admin.EmptyFieldListFilter)]
    list_select_related = ["user", "patient"]
    raw_id_fields = ["patient", "break_glass"]

    @admin.display(description="object type", ordering="object_type")
    def object_type_shown(self, event):
        return object_type_display(event.object_type)


@admin.register(BreakGlass)
class BreakGlassAdmin(ReadOnlyAdmin):
    """Read-only: who used a superuser's break-glass access, why and for how long; the audit
    trail lists what was done under it."""

    list_display = ["started_at", "ends_at", "user", "reason"]
    list_select_related = ["user"]
    search_fields = ["reason", "user__username"]
    date_hierarchy = "started_at"


class ConservativeCareInline(admin.TabularInline):
    model = ConservativeCare
    extra = 0
    can_delete = False
    readonly_fields = ["kind", "detail", "started", "ended"]

    def has_add_permission(self, request, obj=None):
        return False


class ImagingInline(ConservativeCareInline):
    model = Imaging
    readonly_fields = ["modality", "taken_on", "finding"]


@admin.register(Indication)
class IndicationAdmin(ClinicalReadAuditMixin, ReadOnlyHistoryAdmin):
    """Read-only: referrals are written on the patient's page (audited, with its care and
    imaging saved together)."""

    list_display = ["patient", "diagnosis", "referrer", "symptoms_since", "created_at"]
    raw_id_fields = ["patient"]
    inlines = [ConservativeCareInline, ImagingInline]


@admin.register(ConservativeCare)
class ConservativeCareAdmin(ClinicalReadAuditMixin, ReadOnlyHistoryAdmin):
    list_display = ["indication", "kind", "started", "ended"]


@admin.register(Imaging)
class ImagingAdmin(ClinicalReadAuditMixin, ReadOnlyHistoryAdmin):
    list_display = ["indication", "modality", "taken_on"]
