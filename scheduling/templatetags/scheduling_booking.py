"""Template helpers of the booking pages and the status card partial."""

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from clinic.widgets import escaped
from scheduling import selectors
from scheduling.models import Status

register = template.Library()

BADGE_CLASSES = {
    Status.REQUESTED: "text-bg-light border",
    Status.BOOKED: "text-bg-primary",
    Status.CONFIRMED: "text-bg-info",
    Status.CHECKED_IN: "text-bg-warning",
    Status.IN_PROCEDURE: "text-bg-danger",
    Status.IN_RECOVERY: "text-bg-warning",
    Status.DISCHARGED: "text-bg-success",
    Status.COMPLETED: "text-bg-success",
    Status.CANCELLED: "text-bg-secondary",
    Status.NO_SHOW: "text-bg-dark",
}
# The words on the buttons that move an appointment to each status. Confirming (the patient
# said they will come) and checking in (the patient is here) must not be mistaken for
# each other: they read and look different, and sit in different rows of the card.
ACTION_LABELS = {
    Status.BOOKED: "Book",
    Status.CONFIRMED: "Confirm attendance (phone)",
    Status.CHECKED_IN: "Check in — patient has arrived",
    Status.IN_PROCEDURE: "Start procedure",
    Status.IN_RECOVERY: "To recovery",
    Status.DISCHARGED: "Discharge",
    Status.COMPLETED: "Complete",
    Status.NO_SHOW: "Mark no-show",
    Status.CANCELLED: "Cancel",
}


# Moves made before the day (or instead of it) go in the card's second row, outlined.
SECONDARY_MOVES = {Status.CONFIRMED: "btn-outline-secondary", Status.NO_SHOW: "btn-outline-dark"}
PRIMARY_STYLES = {Status.CHECKED_IN: "btn-success"}


@register.simple_tag
def status_badge(appointment):
    """The status as a coloured badge, escaped as format_html would (a list has one a row)."""
    badge = escaped(BADGE_CLASSES.get(appointment.status, "text-bg-light"))
    return mark_safe(
        f'<span class="badge fs-6 {badge}">{escaped(appointment.get_status_display())}</span>'
    )


@register.simple_tag
def check_in_time(appointment, zone=None):
    """When the patient was checked in, in the site's time (or `zone`), and "late" when more
    than an hour after the booked start; nothing while not checked in."""
    if not appointment.checked_in_at:
        return ""
    zone = zone or appointment.site.zone
    late = (
        format_html(
            ' <span class="badge text-bg-danger check-in-late" title="Checked in more than an'
            ' hour after the booked start {}">late</span>',
            f"{timezone.localtime(appointment.starts_at, zone):%H:%M}",
        )
        if appointment.checked_in_late
        else ""
    )
    return format_html(
        '<span class="check-in-time">Checked in {}</span>{}',
        f"{timezone.localtime(appointment.checked_in_at, zone):%H:%M}",
        late,
    )


@register.simple_tag(takes_context=True)
def status_moves(context, appointment) -> dict[str, list[tuple[str, str, str]]]:
    """(status, button label, button class) for each move the current user may make now:
    "primary" the day's next step, "secondary" confirming and marking a no-show."""
    user = context["request"].user
    moves = {"primary": [], "secondary": []}
    for status in selectors.status_moves_for(user=user, appointment=appointment):
        if status in SECONDARY_MOVES:
            moves["secondary"].append((status, ACTION_LABELS[status], SECONDARY_MOVES[status]))
        else:
            style = PRIMARY_STYLES.get(status, "btn-primary")
            moves["primary"].append((status, ACTION_LABELS[status], style))
    return moves


@register.simple_tag(takes_context=True)
def may_undo_check_in(context, appointment) -> bool:
    return selectors.may_undo_check_in(user=context["request"].user, appointment=appointment)


@register.simple_tag(takes_context=True)
def check_in_waits(context, appointment) -> bool:
    """True when the user could check this appointment in once its day comes."""
    return selectors.check_in_waits_for_the_day(
        user=context["request"].user, appointment=appointment
    )


@register.simple_tag(takes_context=True)
def may_reschedule(context, appointment) -> bool:
    return selectors.may_reschedule(user=context["request"].user, appointment=appointment)


@register.simple_tag(takes_context=True)
def may_cancel(context, appointment) -> bool:
    return selectors.may_cancel(user=context["request"].user, appointment=appointment)


@register.simple_tag
def patient_appointments(patient):
    return selectors.patient_appointments(patient=patient)


@register.simple_tag
def offer_url(entry, appointment=None) -> str:
    """The booking page prefilled for a waiting patient, and with a freed slot if given."""
    params = {"patient": entry.patient_id, "procedure_type": entry.procedure_type_id}
    if entry.physician_id:
        params["physician"] = entry.physician_id
    if appointment is not None:
        params |= {
            "physician": appointment.physician_id,
            "room": appointment.room_id,
            "starts_at": appointment.starts_at.isoformat(),
        }
    params["waitlist"] = entry.pk
    return f"{reverse('appointment_book')}?{urlencode(params)}"


@register.filter
def person(user) -> str:
    if user is None:
        return "system"
    return user.get_full_name() or user.get_username()
