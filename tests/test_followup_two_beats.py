"""Two beats at once: every due row is claimed by exactly one dispatcher tick.

Running a second beat (a second node, a failover that overlaps) is safe because a tick
claims rows with SELECT ... FOR UPDATE SKIP LOCKED and a conditional status update. Here
two ticks start together (a barrier), each in its own thread with its own PostgreSQL
connection, over the same due rows, round after round until nothing is due.
"""

import datetime
import threading
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone

from followup import dispatch
from followup.dispatch import dispatch_tick
from followup.models import EmailLog, Invitation
from tests.factories import AppointmentFactory, InvitationFactory, PatientFactory

S = Invitation.Status
DAY = datetime.timedelta(days=1)
BEATS = 2


def two_beats_at_once(now) -> list[Exception]:
    """Run BEATS ticks at the same moment, each on its own connection; their errors."""
    errors: list[Exception] = []
    start = threading.Barrier(BEATS)

    def beat():
        try:
            start.wait()
            dispatch_tick(now=now)
        except Exception as exc:  # reported by the test; a thread cannot fail it
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=beat, name=f"beat-{n}") for n in range(BEATS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_claims_each_due_row_exactly_once_with_two_beats(
    calendar, patient, settings, monkeypatch
):
    # Small batches, so the two ticks take many turns each and meet on the same rows.
    settings.FOLLOWUP_DISPATCH_BATCH_SIZE = 9
    appointment = AppointmentFactory(
        calendar=calendar, patient=patient, starts_at=timezone.now() - 3 * DAY
    )
    wanted = InvitationFactory.create_batch(120, appointment=appointment)
    # Rows the claim refuses (no email address): each refused, and logged, once too.
    no_email = PatientFactory()
    refused_appointment = AppointmentFactory(
        calendar=calendar, patient=no_email, starts_at=timezone.now() - 4 * DAY
    )
    refused = InvitationFactory.create_batch(30, appointment=refused_appointment)

    handed_by: dict[int, list[str]] = {}
    lock = threading.Lock()

    def enqueue(ids):
        with lock:
            for pk in ids:
                handed_by.setdefault(pk, []).append(threading.current_thread().name)

    monkeypatch.setattr(dispatch, "_enqueue", enqueue)

    now = timezone.now()
    for _round in range(10):
        assert two_beats_at_once(now) == []
        if not Invitation.objects.filter(status=S.SCHEDULED).exists():
            break
    # A tick that finds its batch short (the other holds the rest) stops until the next
    # minute; the rounds above are those minutes.
    assert not Invitation.objects.filter(status=S.SCHEDULED).exists()

    assert sorted(handed_by) == sorted(row.pk for row in wanted)
    assert {pk: len(beats) for pk, beats in handed_by.items()} == {row.pk: 1 for row in wanted}
    assert Counter(
        Invitation.objects.filter(pk__in=[r.pk for r in wanted]).values_list("status", flat=True)
    ) == {S.QUEUED: len(wanted)}
    skipped = Counter(
        EmailLog.objects.filter(status=EmailLog.Status.SKIPPED).values_list("invitation", flat=True)
    )
    assert skipped == {row.pk: 1 for row in refused}
    assert set(
        Invitation.objects.filter(pk__in=[r.pk for r in refused]).values_list("status", flat=True)
    ) == {S.SKIPPED}
