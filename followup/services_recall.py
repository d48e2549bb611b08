"""Writes of the recall rows (followup.RecallEntry): who is due for review or a repeat.

The rows are derived from the rules (followup.recall), never edited. A patient's rows are
recomputed after the commit of what can change them: an appointment booked, moved,
cancelled or done (followup.receivers), a survey answered (followup.services), a merge.
An edited rule recomputes every row (followup.tasks.recall_rebuild, after the commit), and
so does the beat each night, which also repairs a refresh that failed or never ran (a
process killed between the commit and the refresh). Both are idempotent: the same facts
give the same rows.
"""

import threading

from django.db import connection, transaction
from django.utils import timezone

from followup.models import RecallEntry
from followup.recall import recall_rows

EVIDENCE_LENGTH = RecallEntry._meta.get_field("evidence").max_length
# The recall rows' writers' advisory lock; no other lock of the clinic's uses this number.
RECALL_LOCK = 52_617


def recall_entries_rebuild(*, patient_ids=None, today=None) -> int:
    """Recompute the recall rows of these patients (everyone when None); returns how many.

    Rows whose look-back has ended are dropped; rows not due yet are kept with their day.
    A constant number of queries per rule (followup.recall), a delete and an insert.

    Writers take turns (`_take_turn`) and compute inside their turn, so each reads what the
    one before it committed: a refresh that read the patient before a booking can never
    commit after the refresh that read them after it, nor the nightly rebuild after either.
    """
    today = today or timezone.localdate()
    ids = None if patient_ids is None else sorted(set(patient_ids))
    with transaction.atomic():
        _take_turn(ids)
        rows = recall_rows(patient_ids=ids, today=today, pending=True)
        stale = RecallEntry.objects.all()
        if ids is not None:
            stale = stale.filter(patient_id__in=ids)
        stale.delete()
        RecallEntry.objects.bulk_create(
            [
                RecallEntry(
                    rule=row.rule,
                    patient_id=row.patient.pk,
                    appointment_id=row.appointment.pk,
                    site_id=row.appointment.site_id,
                    procedure_type=row.procedure_type,
                    due=row.due,
                    counts_until=row.counts_until,
                    evidence=row.evidence[:EVIDENCE_LENGTH],
                )
                for row in rows
            ],
            batch_size=2000,
        )
    return len(rows)


def _take_turn(patient_ids) -> None:
    """Wait for the writers these rows conflict with, until the transaction ends.

    PostgreSQL advisory locks: a rebuild of everyone takes the recall lock alone; a
    refresh shares it and takes one lock per patient, in id order (no deadlock between
    two refreshes). SQLite (`make run`) lets one transaction write at a time anyway.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        if patient_ids is None:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RECALL_LOCK])
            return
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [RECALL_LOCK])
        for patient_id in patient_ids:
            # The two-key space is apart from the one-key space; ids past 2^31 share a lock.
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [RECALL_LOCK, patient_id % 2**31]
            )


def recall_refresh_after_commit(*, patient_id: int) -> None:
    """Recompute the patient's recall rows once the change that called this has committed.

    The patients named in one transaction are recomputed together by its first commit
    callback, as outcome rows are (followup.services_outcomes); an id named in a
    rolled-back transaction is recomputed at the next commit, which is harmless. `robust`:
    a failure is logged and left for the nightly rebuild; it must never fail the booking
    or the answer that triggered it.
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
