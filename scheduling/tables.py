"""Tables of the appointments list and the waitlist (django-tables2, with CSV export)."""

import django_tables2 as tables
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from scheduling.advice import day_text
from scheduling.models import Appointment, WaitlistEntry
from scheduling.templatetags.scheduling_booking import offer_url, status_badge


class AppointmentTable(tables.Table):
    # Appointments in different rooms start at the same minute: the id settles their order,
    # so a row never moves between pages (and appointment_start_idx covers both).
    starts_at = tables.Column(
        verbose_name="Start (site time)", linkify=True, order_by=("starts_at", "id")
    )
    patient = tables.Column(
        linkify=lambda record: record.patient.get_absolute_url(),
        order_by=("patient__last_name", "patient__first_name"),
    )
    mrn = tables.Column(accessor="patient__mrn", verbose_name="MRN")
    # The names of procedure and room come with each row (selectors.appointment_list_rows).
    procedure_type = tables.Column(
        accessor="procedure_type_name", verbose_name="Procedure", order_by="procedure_type__name"
    )
    side_and_level = tables.Column(
        verbose_name="Side / level", accessor="side_and_level", orderable=False
    )
    physician = tables.Column(order_by=("physician__last_name", "physician__first_name"))
    site = tables.Column(order_by="site__name")
    room = tables.Column(accessor="room_name", verbose_name="Room", order_by="room__name")
    status = tables.Column()

    class Meta:
        empty_text = (
            "No appointments on these days. The list starts today: choose an earlier From "
            "date to see the past."
        )
        model = Appointment
        fields = [
            "starts_at",
            "patient",
            "mrn",
            "procedure_type",
            "side_and_level",
            "physician",
            "site",
            "room",
            "status",
        ]
        order_by = ["starts_at"]
        attrs = {"class": "table table-hover align-middle"}

    def render_starts_at(self, record):
        return f"{record.local_start:%a %Y-%m-%d %H:%M}–{record.local_end:%H:%M}"

    def value_starts_at(self, record):
        return record.local_start.isoformat()

    def render_patient(self, record):
        return record.patient.full_name

    def render_physician(self, value):
        return value.get_full_name() or value.get_username()

    def render_status(self, record):
        return status_badge(record)

    def value_status(self, record):
        return record.get_status_display()


class WaitlistTable(tables.Table):
    patient = tables.Column(
        linkify=lambda record: record.patient.get_absolute_url(),
        order_by=("patient__last_name", "patient__first_name"),
    )
    procedure_type = tables.Column(verbose_name="Procedure", order_by="procedure_type__name")
    physician = tables.Column(
        verbose_name="Preferred physician",
        order_by=("physician__last_name", "physician__first_name"),
        default="Any",
    )
    site = tables.Column(verbose_name="Preferred site", order_by="site__name", default="Any")
    window = tables.Column(accessor="earliest", verbose_name="Window")
    part_of_day = tables.Column(verbose_name="Time of day")
    state = tables.Column()
    created_at = tables.Column(verbose_name="Added")
    actions = tables.Column(
        accessor="pk", verbose_name="", orderable=False, exclude_from_export=True
    )

    class Meta:
        empty_text = (
            "Nobody is waiting. Add a patient who wants an earlier or any slot, and they "
            "are offered the next cancellation."
        )
        model = WaitlistEntry
        fields = [
            "patient",
            "procedure_type",
            "physician",
            "site",
            "window",
            "part_of_day",
            "notes",
            "state",
            "created_at",
        ]
        order_by = ["created_at"]
        attrs = {"class": "table table-hover align-middle"}

    def render_patient(self, record):
        return f"{record.patient.full_name} ({record.patient.mrn})"

    def render_physician(self, value):
        return value.get_full_name() or value.get_username()

    def render_window(self, record):
        return f"{record.earliest:%Y-%m-%d} – {record.latest:%Y-%m-%d}"

    def render_created_at(self, value):
        return f"{timezone.localtime(value):%Y-%m-%d}"

    def render_actions(self, record):
        # Rendered here, not by a template column: a template per row re-runs the context
        # processors (a query each).
        if record.state != WaitlistEntry.State.WAITING:
            if record.appointment_id:
                return format_html(
                    '<a href="{}">Appointment</a>', record.appointment.get_absolute_url()
                )
            return ""
        user = self.request.user
        buttons = []
        if user.has_perms(["scheduling.add_appointment", "scheduling.change_appointment"]):
            buttons.append(
                format_html(
                    '<a class="btn btn-outline-primary" href="{}">Book</a>', offer_url(record)
                )
            )
        if user.has_perm("scheduling.change_waitlistentry"):
            buttons.append(
                format_html(
                    '<form method="post" action="{}"><input type="hidden" '
                    'name="csrfmiddlewaretoken" value="{}"><button class="btn '
                    'btn-outline-secondary" type="submit">Remove</button></form>',
                    reverse("waitlist_remove", args=[record.pk]),
                    get_token(self.request),
                )
            )
        return format_html(
            '<div class="d-flex gap-2">{}</div>',
            format_html_join("", "{}", ((b,) for b in buttons)),
        )


class MedicationCallTable(tables.Table):
    """Patients to phone about their medicines before an upcoming appointment."""

    call_by = tables.Column(accessor="plan__call_by", verbose_name="Phone by", orderable=False)
    starts_at = tables.Column(verbose_name="Appointment (site time)", linkify=True)
    patient = tables.Column(
        linkify=lambda record: record.patient.get_absolute_url(), orderable=False
    )
    phone = tables.Column(accessor="patient__phone", verbose_name="Phone", orderable=False)
    procedure_type = tables.Column(verbose_name="Procedure", orderable=False)
    plan = tables.Column(verbose_name="Plan (per clinic protocol)", orderable=False)
    done = tables.Column(accessor="pk", verbose_name="Phoned", orderable=False)

    class Meta:
        model = Appointment
        fields = ["call_by", "starts_at", "patient", "phone", "procedure_type", "plan", "done"]
        order_by = ["starts_at"]
        attrs = {"class": "table table-hover align-middle", "id": "medication-calls"}

    def render_call_by(self, value):
        return day_text(value)

    def value_call_by(self, value):
        return value.isoformat()

    def render_starts_at(self, record):
        return f"{record.local_start:%a %Y-%m-%d %H:%M}"

    def value_starts_at(self, record):
        return record.local_start.isoformat()

    def render_patient(self, record):
        return f"{record.patient.full_name} ({record.patient.mrn})"

    def render_plan(self, record):
        lines = [step.text for step in record.plan.steps]
        if record.plan.upgraded:
            lines.append(record.plan.upgrade_reason)
        return format_html_join("", "<div>{}</div>", ((line,) for line in lines))

    def value_plan(self, record):
        lines = [step.text for step in record.plan.steps]
        return " ".join(lines + ([record.plan.upgrade_reason] if record.plan.upgraded else []))

    def render_done(self, record):
        # Rendered here, not by a template column: a template per row re-runs the context
        # processors (a query each).
        call = record.call
        if call is not None:
            who = call.called_by.get_full_name() if call.called_by else "—"
            return format_html(
                "Done {} by {}{}",
                f"{timezone.localtime(call.called_at):%Y-%m-%d %H:%M}",
                who,
                f": {call.note}" if call.note else "",
            )
        if not self.request.user.has_perm("scheduling.add_medicationcall"):
            return "Not yet"
        return format_html(
            '<form method="post" action="{}" class="d-flex gap-2">'
            '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
            '<label class="visually-hidden" for="call-note-{}">Note</label>'
            '<input class="form-control" id="call-note-{}" name="note" maxlength="255" '
            'placeholder="Note (optional)">'
            '<button class="btn btn-outline-primary" type="submit">Mark phoned</button></form>',
            reverse("medication_call_mark", args=[record.pk]),
            get_token(self.request),
            record.pk,
            record.pk,
        )

    def value_done(self, record):
        call = record.call
        return f"{timezone.localtime(call.called_at):%Y-%m-%d %H:%M}" if call else ""
