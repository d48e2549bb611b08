"""Writes behind the patient links (survey, confirm, reschedule) and the staff worklists.

The survey answers themselves are recorded by `followup.services.response_record`; this
module holds the small writes around it. Every state change is a conditional update so a
double click, a second tab or two clerks at once change a row only once.
"""

import enum

from django.db import IntegrityError, transaction
from django.utils import timezone

from followup.models import Invitation, RescheduleRequest
from scheduling.models import MOVABLE_STATUSES, Appointment, Status
from scheduling.services import TransitionRefused, appointment_transition


def invitation_mark_opened(*, invitation: Invitation, now=None) -> bool:
    """Record the first opening of the survey link; later openings change nothing."""
    now = now or timezone.now()
    opened = Invitation.objects.filter(pk=invitation.pk, opened_at__isnull=True).update(
        opened_at=now
    )
    if opened:
        invitation.opened_at = now
    return opened == 1


def survey_draft_save(*, invitation: Invitation, draft: dict, now=None) -> bool:
    """Keep the patient's partial answers; refused once the survey is answered or closed."""
    now = now or timezone.now()
    saved = Invitation.objects.filter(pk=invitation.pk).answerable(now).update(draft=draft)
    if saved:
        invitation.draft = draft
    return saved == 1


class ConfirmOutcome(enum.Enum):
    CONFIRMED = "confirmed"
    ALREADY_CONFIRMED = "already_confirmed"
    NOT_CONFIRMABLE = "not_confirmable"


def appointment_can_be_confirmed(appointment: Appointment, now=None) -> bool:
    """A patient may confirm a booked appointment that is still ahead."""
    return appointment.status == Status.BOOKED and appointment.starts_at > (now or timezone.now())


def appointment_patient_confirm(*, appointment: Appointment, now=None) -> ConfirmOutcome:
    """The patient confirms from the reminder email: booked -> confirmed, by no staff user.

    Confirming twice is not an error for the patient, so an appointment that is already
    confirmed (or was confirmed by a double click a moment ago) says so.
    """
    if appointment.status == Status.CONFIRMED:
        return ConfirmOutcome.ALREADY_CONFIRMED
    if not appointment_can_be_confirmed(appointment, now):
        return ConfirmOutcome.NOT_CONFIRMABLE
    try:
        appointment_transition(
            actor=None,
            appointment=appointment,
            to=Status.CONFIRMED,
            detail="Confirmed by the patient from the reminder email.",
        )
    except TransitionRefused:
        appointment.refresh_from_db()
        if appointment.status == Status.CONFIRMED:
            return ConfirmOutcome.ALREADY_CONFIRMED
        return ConfirmOutcome.NOT_CONFIRMABLE
    return ConfirmOutcome.CONFIRMED


def appointment_can_be_moved_by_request(appointment: Appointment, now=None) -> bool:
    """A patient may ask to move an appointment that is still ahead and still movable."""
    return appointment.status in MOVABLE_STATUSES and appointment.starts_at > (
        now or timezone.now()
    )


def reschedule_request_create(*, appointment: Appointment, message: str = "") -> RescheduleRequest:
    """Record the patient's wish to move the appointment; the front desk calls them back.

    A second request while one is still open adds its message to the open one instead of
    putting the same patient on the worklist twice.
    """
    message = message.strip()
    still_open = RescheduleRequest.objects.select_for_update().filter(
        appointment=appointment, handled_at__isnull=True
    )
    with transaction.atomic():
        open_request = still_open.first()
        if open_request is None:
            try:
                with transaction.atomic():
                    return RescheduleRequest.objects.create(
                        appointment=appointment, message=message[:500]
                    )
            except IntegrityError:  # the same request, sent twice at once, opened it first
                open_request = still_open.get()
        if message:
            joined = f"{open_request.message}\n{message}".strip()
            open_request.message = joined[:500]
            open_request.save(update_fields=["message"])
    return open_request


def reschedule_request_mark_handled(*, reschedule_request: RescheduleRequest, user) -> bool:
    """Take the request off the worklist, naming who handled it; only the first click counts."""
    now = timezone.now()
    handled = RescheduleRequest.objects.filter(
        pk=reschedule_request.pk, handled_at__isnull=True
    ).update(handled_at=now, handled_by=user)
    return handled == 1


def invitation_retry(*, invitation: Invitation, now=None) -> bool:
    """Put a failed send back in the dispatcher's queue, due now.

    Only a failed invitation moves, so a retry clicked twice queues one send.
    """
    now = now or timezone.now()
    retried = (
        Invitation.objects.filter(pk=invitation.pk, status=Invitation.Status.FAILED)
        .unexpired(now)
        .update(status=Invitation.Status.SCHEDULED, due_at=now, last_error="")
    )
    return retried == 1
