import django_tables2 as tables

from clinic.models import AuditEvent, Patient, ProcedureType


class PatientTable(tables.Table):
    mrn = tables.Column(linkify=True, verbose_name="MRN")

    class Meta:
        empty_text = (
            "No patient matches. Try the last name, the MRN or the birth date "
            "(27-05-1966), or register the patient."
        )
        model = Patient
        fields = ["mrn", "last_name", "first_name", "date_of_birth", "phone", "email"]
        order_by = ["last_name", "first_name"]


class ProcedureTypeTable(tables.Table):
    name = tables.Column(linkify=lambda record: record.get_absolute_url())
    room_minutes = tables.Column(verbose_name="Room time (min)", orderable=False)
    regions = tables.Column(accessor="get_regions_display", orderable=False)
    required_capabilities = tables.Column(
        accessor="get_required_capabilities_display", orderable=False, verbose_name="Requires"
    )

    class Meta:
        model = ProcedureType
        fields = [
            "name",
            "code",
            "category",
            "regions",
            "procedure_minutes",
            "room_minutes",
            "recovery_minutes",
            "required_capabilities",
            "bleeding_risk",
            "typical_sedation",
            "active",
        ]


class AuditEventTable(tables.Table):
    at = tables.DateTimeColumn(verbose_name="When", format="Y-m-d H:i:s")
    user = tables.Column(verbose_name="Who", default="(system)")
    action = tables.Column(accessor="get_action_display", order_by="action")
    object_type = tables.Column(verbose_name="What")
    object_id = tables.Column(verbose_name="Id", orderable=False)
    patient = tables.Column(accessor="patient__mrn", verbose_name="Patient MRN", default="")
    detail = tables.Column(orderable=False)
    ip_address = tables.Column(verbose_name="Address", orderable=False)

    class Meta:
        model = AuditEvent
        fields = ["at", "user", "action", "object_type", "object_id", "patient", "detail"]
        order_by = ["-at"]
