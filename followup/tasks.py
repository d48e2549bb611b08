"""Celery tasks of the follow-up engine: thin wrappers that take ids (followup.dispatch)."""

from collections import Counter

from celery import shared_task
from celery.signals import worker_process_shutdown, worker_shutdown
from django.conf import settings

from followup import dispatch, emails, services_recall


@shared_task(name="followup.dispatch")
def dispatch_due() -> dict:
    """Beat, every minute: expire, recover, queue due sends and survey reminders, alerts."""
    return dispatch.dispatch_tick()


# The hard time limit ends a hung send well before the recovery sweep would repeat it; a
# batch stops taking rows at half of it and hands the rest back (dispatch.invitations_send).
@shared_task(
    name="followup.send_invitations",
    time_limit=settings.FOLLOWUP_SEND_TIME_LIMIT,
    soft_time_limit=settings.FOLLOWUP_SEND_TIME_LIMIT - 5,
)
def send_invitations(invitation_ids: list[int]) -> dict[str, int]:
    """Send a batch of queued invitations; a repeated message sends nothing twice."""
    return dict(Counter(dispatch.invitations_send(invitation_ids=invitation_ids).values()))


@shared_task(name="followup.notify_oncall", time_limit=settings.FOLLOWUP_SEND_TIME_LIMIT)
def notify_oncall() -> int:
    return dispatch.oncall_notify()


@shared_task(name="followup.recall_rebuild")
def recall_rebuild() -> int:
    """Beat, nightly, and after a recall rule is edited: recompute every recall row."""
    return services_recall.recall_entries_rebuild()


@worker_process_shutdown.connect  # a pool process ends
@worker_shutdown.connect  # the worker ends (a solo or threads pool sends from it)
def close_smtp_connection(**kwargs) -> None:
    """Say QUIT to the SMTP server this process kept a connection to."""
    emails.connection_close()
