"""Keeps an appointment's reminders and surveys in step with the appointment, and turns
clinical warnings into alerts for the physician.

Runs inside the transaction of the change (scheduling.signals), so the rows and the
change commit or roll back together.
"""

from django.utils import timezone

from followup import services
from followup.models import Alert, EmailLog, Invitation, OutcomeEpisode, RecallEntry, Response
from followup.recall import DONE
from followup.services_outcomes import TREATED, outcome_episode_refresh_after_commit
from followup.services_recall import recall_rebuild_after_commit, recall_refresh_after_commit
from scheduling.models import Status

# What can start, end or move a recall (followup.recall): a follow-on booked, moved or freed,
# or a procedure done. A check-in or a start on the day cannot: the nurse's tap skips it.
RECALL_CHANGES = ("booked", "rescheduled", "cancelled", "no_show")


def on_appointment_changed(sender, *, appointment, change, **kwargs):
    if change in RECALL_CHANGES or appointment.status in DONE:
        recall_refresh_after_commit(patient_id=appointment.patient_id)
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
        if appointment.status in TREATED:
            # Treated: the appointment has an outcome row from now on (after the commit).
            outcome_episode_refresh_after_commit(appointment_id=appointment.pk)


def on_clinical_warning(sender, *, appointment, kind, severity, summary, source_id=None, **kw):
    services.clinical_alert_raise(
        appointment=appointment,
        kind=kind,
        severity=severity,
        summary=summary,
        source_id=source_id,
    )


def on_patient_merged(sender, *, keep, remove, **kwargs):
    """A merge (clinic.signals): the duplicate's follow-up moves to the kept record."""
    for model in (Invitation, Response, Alert, EmailLog, OutcomeEpisode):
        model.objects.filter(patient=remove).update(patient=keep)
    # Now, not after the commit: the merge refuses while the duplicate still has rows.
    RecallEntry.objects.filter(patient=remove).delete()
    recall_refresh_after_commit(patient_id=keep.pk)


def on_recall_rule_changed(sender, action="post_save", **kwargs):
    """A rule saved or deleted, or its watched procedures changed: every row is recomputed."""
    if action.startswith("post_"):
        recall_rebuild_after_commit()
