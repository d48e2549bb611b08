"""Writes of the recall rows (followup.RecallEntry): who is due for review or a repeat.

The rows are derived from the rules (followup.recall), never edited. A patient's rows are
recomputed after the commit of what can change them: an appointment booked, moved,
cancelled or done (followup.receivers), a survey answered (followup.services), a merge.
An edited rule recomputes every row (followup.tasks.recall_rebuild, after the commit), and
so does the beat each night, which also repairs a refresh that failed. Both are idempotent:
the same facts give the same rows.
"""

import threading

from django.db import transaction
from django.utils import timezone

from followup.models import RecallEntry
from followup.recall import recall_rows

ENTRY_FIELDS = ("appointment", "site", "procedure_type", "due", "counts_until", "evidence")


def recall_entries_rebuild(*, patient_ids=None, today=None) -> int:
    """Recompute the recall rows of these patients (everyone when None); returns how many.

    Rows whose look-back has ended are dropped; rows not due yet are kept with their day.
    A constant number of queries per rule (followup.recall), a delete and an insert.

    The insert updates a row another refresh wrote meanwhile (two refreshes of one patient,
    or one during the nightly rebuild), so neither fails; the later commit wins.
    """
    today = today or timezone.localdate()
    ids = None if patient_ids is None else sorted(set(patient_ids))
    rows = recall_rows(patient_ids=ids, today=today, pending=True)
    entries = [
        RecallEntry(
            rule=row.rule,
            patient_id=row.patient.pk,
            appointment_id=row.appointment.pk,
            site_id=row.appointment.site_id,
            procedure_type=row.procedure_type,
            due=row.due,
            counts_until=row.counts_until,
            evidence=row.evidence[: RecallEntry._meta.get_field("evidence").max_length],
        )
        for row in rows
    ]
    stale = RecallEntry.objects.all()
    if ids is not None:
        stale = stale.filter(patient_id__in=ids)
    with transaction.atomic():
        stale.delete()
        RecallEntry.objects.bulk_create(
            entries,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=("rule", "patient"),
            update_fields=ENTRY_FIELDS,
        )
    return len(entries)


def recall_refresh_after_commit(*, patient_id: int) -> None:
    """Recompute the patient's recall rows once the change that called this has committed.

    The patients named in one transaction are recomputed together by its first commit
    callback, as outcome rows are (followup.services_outcomes). `robust`: a failure is
    logged and left for the nightly rebuild; it must never fail the booking or the answer
    that triggered it.
    """
    _pending.__dict__.setdefault("ids", set()).add(patient_id)
    transaction.on_commit(_refresh_pending, robust=True)


def recall_rebuild_after_commit() -> None:
    """Recompute every row on the worker once the change that called this has committed
    (a rule edited: a busy clinic's rows take seconds). Sent once however many times one
    transaction asks (an admin save changes the rule, then its watched procedures)."""
    _pending.__dict__["rebuild"] = True
    transaction.on_commit(_send_rebuild, robust=True)


# Per thread, as database connections are.
_pending = threading.local()


def _refresh_pending() -> None:
    ids = _pending.__dict__.pop("ids", None)
    if ids:
        recall_entries_rebuild(patient_ids=ids)


def _send_rebuild() -> None:
    if _pending.__dict__.pop("rebuild", False):
        from followup.tasks import recall_rebuild

        recall_rebuild.delay()
