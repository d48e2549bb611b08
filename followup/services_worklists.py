"""Writes behind the non-responder worklist: log a call, snooze a row, close it.

Each changes the invitation's worklist state by a conditional update (only while the row
is still open), so two clerks working the same list change a row once; the action row is
the history of who did what.
"""

import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from followup.models import Invitation, WorklistAction

# How far ahead a row can be snoozed: past this, close it instead.
MAX_SNOOZE_DAYS = 90


class WorklistRefused(Exception):
    """The action cannot be taken; `detail` says why, for the user."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


def _open_row(invitation: Invitation):
    return Invitation.objects.filter(pk=invitation.pk, worklist_closed_at__isnull=True)


def _closed_already() -> WorklistRefused:
    return WorklistRefused("Someone else closed this row a moment ago; nothing was changed.")


def worklist_call_log(
    *, invitation: Invitation, user, outcome: str, note: str = "", now=None
) -> WorklistAction:
    """Record a call and take the row off the open list until it is due again, or close
    it when the patient declines (WorklistAction.after_call)."""
    now = now or timezone.now()
    snooze, reason = WorklistAction.after_call(outcome, timezone.localdate(now))
    with transaction.atomic():
        changes = {"worklist_closed_at": now} if reason else {"worklist_snoozed_until": snooze}
        if not _open_row(invitation).update(**changes):
            raise _closed_already()
        action = WorklistAction.objects.create(
            invitation=invitation,
            kind=WorklistAction.Kind.CALL,
            outcome=outcome,
            note=note,
            by=user,
            at=now,
            snoozed_until=snooze,
        )
        if reason:
            WorklistAction.objects.create(
                invitation=invitation,
                kind=WorklistAction.Kind.CLOSE,
                reason=reason,
                note=note,
                by=user,
                at=now,
            )
    for field, value in changes.items():
        setattr(invitation, field, value)
    return action


def worklist_snooze(
    *, invitation: Invitation, user, until: datetime.date, note: str = "", now=None
) -> WorklistAction:
    """Take the row off the open list until `until` (a day after today)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    if not today < until <= today + datetime.timedelta(days=MAX_SNOOZE_DAYS):
        raise WorklistRefused(
            f"Choose a day after today and at most {MAX_SNOOZE_DAYS} days ahead; "
            "to stop calling, close the row."
        )
    with transaction.atomic():
        if not _open_row(invitation).update(worklist_snoozed_until=until):
            raise _closed_already()
        action = WorklistAction.objects.create(
            invitation=invitation,
            kind=WorklistAction.Kind.SNOOZE,
            snoozed_until=until,
            note=note,
            by=user,
            at=now,
        )
    invitation.worklist_snoozed_until = until
    return action


def worklist_close(
    *, invitation: Invitation, user, reason: str, note: str = "", now=None
) -> WorklistAction:
    """Close the row for good with a reason ("other" needs a note)."""
    now = now or timezone.now()
    if reason == WorklistAction.Reason.OTHER and not note.strip():
        raise WorklistRefused("Say in the note why the row is closed.")
    try:
        with transaction.atomic():
            if not _open_row(invitation).update(worklist_closed_at=now):
                raise _closed_already()
            action = WorklistAction.objects.create(
                invitation=invitation,
                kind=WorklistAction.Kind.CLOSE,
                reason=reason,
                note=note,
                by=user,
                at=now,
            )
    except IntegrityError as error:
        # worklist_action_one_close: a second close that slipped past the update.
        raise _closed_already() from error
    invitation.worklist_closed_at = now
    return action
