"""Tables of the follow-up worklists; times are shown in the appointment's site zone."""

import zoneinfo
from decimal import ROUND_HALF_UP, Decimal

import django_tables2 as tables
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django_tables2.utils import AttributeDict

from clinic.links import key_url
from followup.models import (
    Alert,
    CarePlan,
    Instrument,
    Invitation,
    RescheduleRequest,
    Response,
    WorklistAction,
)
from followup.red_flags import red_flag_labels
from followup.scoring import PGIC_CHOICES
from followup.selectors_worklists import RESPONSE_SCORES

PGIC_LABELS = dict(PGIC_CHOICES)
KIND_LABELS = dict(Invitation.Kind.choices)

# Cells with a button. Inline template code renders in the page's context; a template
# file would run the context processors again for every row (a query per row).
RETRY_BUTTON = """{% if perms.followup.change_invitation %}
<form method="post" action="{% url 'invitation_retry' record.pk %}" class="d-inline">
{% csrf_token %}<button type="submit" class="btn btn-outline-primary btn-sm">Retry</button>
</form>{% endif %}"""
HANDLED_CELL = """{% if record.handled_at %}
{{ record.handled_by.get_full_name|default:record.handled_by.username|default:"—" }},
{{ record.handled_at|date:"Y-m-d H:i" }}
{% elif perms.followup.change_reschedulerequest %}
<form method="post" action="{% url 'reschedule_request_handled' record.pk %}" class="d-inline">
{% csrf_token %}<button type="submit" class="btn btn-outline-primary btn-sm">Mark handled</button>
</form>{% else %}Open{% endif %}"""
ACKNOWLEDGE_CELL = """{% if record.acknowledged_at %}
{{ record.acknowledged_by.get_full_name|default:record.acknowledged_by.username|default:"—" }},
{{ record.acknowledged_at|date:"Y-m-d H:i" }}: {{ record.acknowledgement_note|truncatechars:80 }}
{% elif perms.followup.change_alert %}
<a class="btn btn-warning btn-sm" href="{% url 'alert_acknowledge' record.pk %}">Acknowledge</a>
{% else %}Open{% endif %}"""
WORK_CELL = """{% if record.worklist_closed_at %}Closed {{ record.worklist_closed_at|date:"Y-m-d" }}
{% elif perms.followup.add_worklistaction %}
<a class="btn btn-outline-primary btn-sm" href="{% url 'nonresponder_work' record.pk %}">
Log call, snooze, close<span class="visually-hidden"> for {{ record.patient.full_name }}</span></a>
{% else %}Open{% endif %}{% if record.worklist_snoozed_until and not record.worklist_closed_at %}
<div class="small">Again from {{ record.worklist_snoozed_until|date:"Y-m-d" }}</div>{% endif %}"""
OUTCOME_LABELS = dict(WorklistAction.Outcome.choices)


def site_time(value, site) -> str:
    if value is None:
        return "—"
    zone = site.zone if site is not None else None
    return f"{timezone.localtime(value, zone):%Y-%m-%d %H:%M}"


def zone_time(value, time_zone: str) -> str:
    """`value` in the zone named `time_zone`, as site_time shows it."""
    return f"{timezone.localtime(value, zoneinfo.ZoneInfo(time_zone)):%Y-%m-%d %H:%M}"


def one_decimal(value) -> str:
    if value is None:
        return "—"
    return str(Decimal(value).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


class SiteTimeColumn(tables.Column):
    """A time in the zone of the site found at `site_accessor` on the row."""

    def __init__(self, *args, site_accessor="appointment__site", **kwargs):
        self.site_accessor = tables.A(site_accessor)
        super().__init__(*args, **kwargs)

    def render(self, value, record):
        return site_time(value, self.site_accessor.resolve(record, quiet=True))

    def value(self, value, record):
        return value.isoformat() if value else ""


class ZoneTimeColumn(tables.Column):
    """A time in the zone of the row's site, named by its `site_time_zone` annotation
    (selectors_worklists.INVITATION_LABELS)."""

    def render(self, value, record):
        return zone_time(value, record.site_time_zone)

    def value(self, value, record):
        return value.isoformat() if value else ""


class LocalTimeColumn(tables.Column):
    """A time in the user's zone; the CSV has it as stored. What DateTimeColumn shows and
    exports, without rendering a template per cell."""

    def render(self, value):
        return f"{timezone.localtime(value):%Y-%m-%d %H:%M}"

    def value(self, value):
        return value.isoformat(sep=" ")


class PatientColumn(tables.Column):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("linkify", lambda record: key_url("patient_detail", record.patient_id))
        kwargs.setdefault("order_by", ("patient__last_name", "patient__first_name"))
        super().__init__(*args, accessor="patient", **kwargs)


class FlagColumn(tables.BooleanColumn):
    """A BooleanColumn of an annotation (no field, no choices to look up per row): its two
    cells are made once."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.cells = {
            flag: format_html(
                "<span {}>{}</span>",
                AttributeDict({"class": str(flag).lower(), **self.attrs.get("span", {})}).as_html(),
                self.yesno[int(not flag)],
            )
            for flag in (True, False)
        }

    def render(self, value):
        return self.cells[bool(value)]


class LabelledSurveyColumn(tables.Column):
    """The survey's care-plan step, or its kind (a baseline has no step), of a row
    annotated by survey_labels; `accessor` names the kind."""

    def __init__(self, *, accessor="kind"):
        super().__init__(accessor=accessor, verbose_name="Survey", orderable=False)

    def render(self, value, record):
        return record.step_name or KIND_LABELS.get(value, value)


class SurveyWorklistTable(tables.Table):
    """Rows: selectors_worklists.surveys_due."""

    patient = PatientColumn()
    mrn = tables.Column(accessor="patient__mrn", verbose_name="MRN")
    procedure = tables.Column(accessor="procedure_name", verbose_name="Procedure", orderable=False)
    survey = LabelledSurveyColumn()
    # Surveys fall due at the same minute: the id settles their order, so a row never
    # moves between pages (invitation_open_survey_idx covers both).
    due_at = ZoneTimeColumn(verbose_name="Due", order_by=("due_at", "id"))
    status = tables.Column()
    sent_at = ZoneTimeColumn(verbose_name="Sent")
    opened_at = ZoneTimeColumn(verbose_name="Opened")
    reminders_sent = tables.Column(verbose_name="Reminders")
    overdue = FlagColumn(verbose_name="Overdue", yesno="Overdue,—")

    class Meta:
        model = Invitation
        fields = []
        sequence = [
            "patient",
            "mrn",
            "procedure",
            "survey",
            "due_at",
            "status",
            "sent_at",
            "opened_at",
            "reminders_sent",
            "overdue",
        ]
        order_by = ["due_at"]


class NonresponderTable(tables.Table):
    """Rows: selectors_worklists.nonresponder_rows (names and zone by key, the patient joined)."""

    patient = PatientColumn()
    phone = tables.Column(accessor="patient__phone", verbose_name="Phone", orderable=False)
    email = tables.Column(accessor="patient__email", verbose_name="Email", orderable=False)
    survey = LabelledSurveyColumn()
    procedure = tables.Column(accessor="procedure_name", verbose_name="Procedure", orderable=False)
    # Surveys go out at the same minute: the id settles their order, so a row never moves
    # between pages (invitation_nonresponder_idx covers both).
    sent_at = ZoneTimeColumn(verbose_name="Sent", order_by=("sent_at", "id"))
    reminders_sent = tables.Column(verbose_name="Reminders")
    expires_at = ZoneTimeColumn(verbose_name="Expires")
    status = tables.Column()
    last_call = tables.Column(
        accessor="last_call_outcome", verbose_name="Last call", orderable=False
    )
    work = tables.TemplateColumn(
        template_code=WORK_CELL,
        verbose_name="Work",
        accessor="worklist_closed_at",
        orderable=False,
    )

    class Meta:
        model = Invitation
        fields = []
        sequence = [
            "patient",
            "phone",
            "email",
            "survey",
            "procedure",
            "sent_at",
            "reminders_sent",
            "expires_at",
            "status",
            "last_call",
            "work",
        ]
        order_by = ["sent_at"]

    def render_last_call(self, value, record):
        when = zone_time(record.last_call_at, record.site_time_zone)
        return f"{OUTCOME_LABELS.get(value, value)} ({when})"

    def value_work(self, value, record):
        if record.worklist_closed_at:
            return "closed"
        return (
            f"snoozed until {record.worklist_snoozed_until}"
            if record.worklist_snoozed_until
            else "open"
        )


class FailedSendTable(tables.Table):
    patient = PatientColumn()
    email = tables.Column(accessor="patient__email", verbose_name="Email", orderable=False)
    phone = tables.Column(accessor="patient__phone", verbose_name="Phone", orderable=False)
    kind = tables.Column(verbose_name="What")
    due_at = SiteTimeColumn(verbose_name="Due")
    last_error = tables.Column(verbose_name="Error", orderable=False)
    retry = tables.TemplateColumn(
        template_code=RETRY_BUTTON,
        verbose_name="",
        orderable=False,
        exclude_from_export=True,
    )

    class Meta:
        model = Invitation
        fields = []
        sequence = ["patient", "email", "phone", "kind", "due_at", "last_error", "retry"]
        order_by = ["-due_at"]


class RescheduleRequestTable(tables.Table):
    requested_at = SiteTimeColumn(verbose_name="Asked", site_accessor="appointment__site")
    patient = tables.Column(
        accessor="appointment__patient",
        linkify=lambda record: record.appointment.patient.get_absolute_url(),
        order_by=("appointment__patient__last_name", "appointment__patient__first_name"),
    )
    phone = tables.Column(accessor="appointment__patient__phone", verbose_name="Phone")
    appointment = SiteTimeColumn(
        accessor="appointment__starts_at",
        verbose_name="Appointment",
        order_by=("appointment__starts_at",),
    )
    procedure = tables.Column(
        accessor="appointment__procedure_type__name", verbose_name="Procedure", orderable=False
    )
    appointment_status = tables.Column(
        accessor="appointment__get_status_display", verbose_name="Status", orderable=False
    )
    message = tables.Column(orderable=False)
    handled = tables.TemplateColumn(
        template_code=HANDLED_CELL,
        verbose_name="Handled",
        orderable=False,
        exclude_from_export=True,
    )
    handled_by = tables.Column(verbose_name="Handled by", visible=False)
    handled_at = SiteTimeColumn(verbose_name="Handled at", visible=False)

    class Meta:
        model = RescheduleRequest
        fields = []
        sequence = [
            "requested_at",
            "patient",
            "phone",
            "appointment",
            "procedure",
            "appointment_status",
            "message",
            "handled",
            "handled_by",
            "handled_at",
        ]
        order_by = ["requested_at"]

    def value_handled_by(self, value):
        return (value.get_full_name() or value.get_username()) if value else ""


def red_flag_text(codes, labels) -> str:
    return ", ".join(labels.get(code, code) for code in codes or ())


class ResponseTable(tables.Table):
    """Rows: selectors_worklists.responses_with_scores."""

    # As due_at above; response_submitted_idx covers both.
    submitted_at = LocalTimeColumn(
        verbose_name="Answered",
        order_by=("submitted_at", "id"),
        linkify=lambda record: key_url("response_detail", record.pk),
    )
    patient = PatientColumn()
    procedure = tables.Column(accessor="procedure_name", verbose_name="Procedure", orderable=False)
    survey = LabelledSurveyColumn(accessor="survey_kind")
    nrs_current = tables.Column(verbose_name="Pain now")
    nrs_average = tables.Column(verbose_name="Pain avg")
    nrs_worst = tables.Column(verbose_name="Pain worst")
    percent_relief = tables.Column(verbose_name="Relief % (NRS)")
    patient_rated_relief = tables.Column(verbose_name="Relief % (patient)")
    pgic = tables.Column(verbose_name="PGIC")
    odi_percent = tables.Column(verbose_name="ODI %")
    ndi_percent = tables.Column(verbose_name="NDI %")
    red_flags = tables.Column(verbose_name="Red flags", orderable=False)
    open_alert_count = tables.Column(verbose_name="Open alerts")

    class Meta:
        model = Response
        fields = []
        sequence = [
            "submitted_at",
            "patient",
            "procedure",
            "survey",
            *RESPONSE_SCORES,
            "red_flags",
            "open_alert_count",
        ]
        order_by = ["-submitted_at"]

    def render_pgic(self, value):
        return f"{value} – {PGIC_LABELS.get(value, '')}"

    def render_percent_relief(self, value):
        return one_decimal(value)

    def render_odi_percent(self, value):
        return one_decimal(value)

    def render_ndi_percent(self, value):
        return one_decimal(value)

    @cached_property
    def red_flag_labels(self) -> dict[str, str]:
        # One query per table: the questions are protocol data, not per-row data.
        return red_flag_labels()

    # The wording is read only for a page that shows a red flag: most pages show none.
    def render_red_flags(self, value):
        return red_flag_text(value, self.red_flag_labels) if value else "None"

    def value_red_flags(self, value):
        return red_flag_text(value, self.red_flag_labels) if value else ""


class AlertTable(tables.Table):
    created_at = tables.DateTimeColumn(verbose_name="Raised", format="Y-m-d H:i")
    patient = PatientColumn()
    phone = tables.Column(accessor="patient__phone", verbose_name="Phone", orderable=False)
    kind = tables.Column()
    detail = tables.Column(orderable=False)
    response = tables.Column(
        accessor="response__submitted_at",
        verbose_name="Response",
        linkify=("response_detail", {"pk": tables.A("response_id")}),
        orderable=False,
    )
    acknowledgement = tables.TemplateColumn(
        template_code=ACKNOWLEDGE_CELL,
        verbose_name="Acknowledged",
        orderable=False,
        exclude_from_export=True,
    )
    acknowledged_by = tables.Column(visible=False)
    acknowledged_at = tables.DateTimeColumn(visible=False)
    acknowledgement_note = tables.Column(visible=False)

    class Meta:
        model = Alert
        fields = []
        sequence = [
            "created_at",
            "patient",
            "phone",
            "kind",
            "detail",
            "response",
            "acknowledgement",
            "acknowledged_by",
            "acknowledged_at",
            "acknowledgement_note",
        ]
        order_by = ["-created_at"]

    def render_response(self, value):
        return f"{timezone.localtime(value):%Y-%m-%d %H:%M}"

    def value_acknowledged_by(self, value):
        return (value.get_full_name() or value.get_username()) if value else ""


class RecallTable(tables.Table):
    """Patients due for review or a repeat; each row opens the slot finder filled in. The
    evidence (relief, block result) is clinical: shown to clinical roles only."""

    due = tables.Column(
        verbose_name="Due since", order_by=("due", "patient__last_name", "rule__name")
    )
    patient = PatientColumn()
    rule = tables.Column(verbose_name="Why", order_by=("rule__name",))
    evidence = tables.Column(verbose_name="Evidence", orderable=False)
    procedure_type = tables.Column(verbose_name="Offer", orderable=False)
    book = tables.Column(
        accessor="slot_url", verbose_name="", orderable=False, exclude_from_export=True
    )

    class Meta:
        fields = ["due", "patient", "rule", "evidence", "procedure_type", "book"]
        order_by = ["due"]
        attrs = {"class": "table table-hover align-middle", "id": "recall"}

    def __init__(self, *args, request, **kwargs):
        self.clinical = request.user.has_perm("clinic.view_clinical_record")
        self.books = request.user.has_perm("scheduling.add_appointment")
        super().__init__(*args, request=request, **kwargs)

    def render_due(self, value):
        return f"{value:%a %Y-%m-%d}"

    def value_due(self, value):
        return value.isoformat()

    def render_patient(self, record):
        return f"{record.patient.full_name} ({record.patient.mrn})"

    def value_patient(self, record):
        return f"{record.patient.full_name} ({record.patient.mrn})"

    def render_rule(self, value):
        return value.name

    def value_rule(self, value):
        return value.name

    def render_evidence(self, value):
        return value if self.clinical else "—"

    def value_evidence(self, value):
        return value if self.clinical else ""

    def render_procedure_type(self, value):
        return value.name

    def value_procedure_type(self, value):
        return value.name

    def render_book(self, record):
        if not self.books:
            return ""
        return format_html(
            '<a class="btn btn-outline-primary" href="{}">Find a slot'
            '<span class="visually-hidden"> for {}: {}</span></a>',
            record.slot_url,
            record.patient.full_name,
            record.procedure_type.name,
        )


INSTRUMENT_LABELS = dict(Instrument.choices)
EDIT_PLAN_CELL = """{% if perms.followup.change_careplan %}
<a class="btn btn-outline-primary btn-sm" href="{% url 'care_plan_edit' record.pk %}">Edit<span
 class="visually-hidden"> the plan for {{ record.procedure_type.name }}</span></a>{% endif %}"""


class CarePlanTable(tables.Table):
    procedure = tables.Column(
        accessor="procedure_type__name",
        verbose_name="Procedure",
        linkify=("care_plan_history", {"pk": tables.A("pk")}),
    )
    active = tables.BooleanColumn()
    baseline = tables.Column(
        accessor="baseline_instruments", verbose_name="Baseline asks", orderable=False
    )
    steps = tables.Column(accessor="pk", verbose_name="Surveys after discharge", orderable=False)
    edit = tables.TemplateColumn(
        template_code=EDIT_PLAN_CELL,
        verbose_name="",
        orderable=False,
        exclude_from_export=True,
    )

    class Meta:
        model = CarePlan
        fields = []
        sequence = ["procedure", "active", "baseline", "steps", "edit"]
        order_by = ["procedure"]

    def render_baseline(self, value):
        return ", ".join(INSTRUMENT_LABELS.get(i, i) for i in value) or "No baseline"

    def render_steps(self, record):
        return "; ".join(step.name for step in record.steps.all()) or "—"

    def value_steps(self, record):
        return self.render_steps(record)
