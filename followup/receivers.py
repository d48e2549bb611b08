"""Keeps an appointment's reminders and surveys in step with the appointment.

Runs inside the transaction of the scheduling change (scheduling.signals), so the rows
and the appointment change commit or roll back together.
"""

from django.utils import timezone

from followup import services
from scheduling.models import Status


def on_appointment_changed(sender, *, appointment, change, **kwargs):
    if change == "booked":
        if appointment.status in (Status.BOOKED, Status.CONFIRMED):
            services.reminder_schedule(appointment=appointment)
    elif change == "rescheduled":
        services.reminder_move(appointment=appointment)
    elif change in ("cancelled", "no_show"):
        services.invitations_cancel(appointment=appointment)
    elif change == "status":
        if appointment.status == Status.BOOKED:
            services.reminder_schedule(appointment=appointment)
        elif appointment.status == Status.CHECKED_IN:
            services.baseline_open_at_check_in(appointment=appointment)
        elif appointment.status == Status.DISCHARGED:
            services.plan_instantiate(appointment=appointment, discharged_at=timezone.now())
