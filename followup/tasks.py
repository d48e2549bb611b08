"""Celery tasks of the follow-up engine: thin wrappers that take ids (followup.dispatch)."""

from celery import shared_task
from django.conf import settings

from followup import dispatch


@shared_task(name="followup.dispatch")
def dispatch_due() -> dict:
    """Beat, every minute: expire, recover, queue due sends and survey reminders, alerts."""
    return dispatch.dispatch_tick()


# The hard time limit ends a hung send well before the recovery sweep would repeat it.
@shared_task(
    name="followup.send_invitation",
    time_limit=settings.FOLLOWUP_SEND_TIME_LIMIT,
    soft_time_limit=settings.FOLLOWUP_SEND_TIME_LIMIT - 5,
)
def send_invitation(invitation_id: int) -> str:
    return dispatch.invitation_send(invitation_id=invitation_id)


@shared_task(name="followup.notify_oncall", time_limit=settings.FOLLOWUP_SEND_TIME_LIMIT)
def notify_oncall() -> int:
    return dispatch.oncall_notify()
