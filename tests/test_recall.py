"""Recall (issue 14, item 5): patients due for review or a repeat by the clinic's rules (data):
relief fading below 50% in surveys, a diary-positive MBB with no RFA booked within N weeks,
an SCS trial ended; each row one click from the slot finder with the procedure prefilled."""

import datetime
import io
import json
import threading
import uuid
import zoneinfo

import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from clinic.celery import app as celery_app
from clinic.models import AuditEvent, ProcedureType
from followup.models import Invitation, RecallEntry, RecallRule, Response
from followup.recall import recall_rows, recall_worklist
from followup.services import response_record
from followup.services_recall import RECALL_LOCK, recall_entries_rebuild
from followup.tasks import recall_rebuild
from scheduling.models import CancelReason, Status
from scheduling.services import appointment_cancel, appointment_transition
from tests.factories import (
    AppointmentFactory,
    InvitationFactory,
    PatientFactory,
    TodaysAppointmentFactory,
)

DONE = Status.COMPLETED


def ago(days):
    return timezone.now() - datetime.timedelta(days=days)


def done(calendar, patient, code, days_ago, **extra):
    return AppointmentFactory(
        calendar=calendar,
        patient=patient,
        code=code,
        starts_at=ago(days_ago),
        status=DONE,
        **extra,
    )


def survey(appointment, relief, days_ago):
    """A follow-up survey answered `days_ago` with this % relief against the baseline."""
    invitation = InvitationFactory(appointment=appointment, status=Invitation.Status.ANSWERED)
    return Response.objects.create(
        invitation=invitation,
        patient=appointment.patient,
        submitted_at=ago(days_ago),
        percent_relief=relief,
    )


def positive_mbb(calendar, patient, days_ago):
    appointment = done(calendar, patient, "medial-branch-block", days_ago)
    response_record(
        invitation=InvitationFactory(
            appointment=appointment, kind=Invitation.Kind.BASELINE, instruments=["nrs"]
        ),
        answers={"nrs_current": 8, "nrs_average": 6, "nrs_worst": 9},
    )
    response_record(
        invitation=InvitationFactory(appointment=appointment, instruments=["diary"]),
        answers={"diary": {"30": 2, "60": 1, "480": 5}},
    )
    return appointment


def rules_of(rows):
    return [(row.patient.pk, row.rule.code) for row in rows]


def test_it_seeds_the_rules_as_data_with_their_source(db):
    codes = set(RecallRule.objects.values_list("code", flat=True))
    assert {"relief-fading", "mbb-positive-no-rfa", "scs-trial-ended"} <= codes
    fading = RecallRule.objects.get(code="relief-fading")
    assert fading.threshold_percent == 50 and "verify" in fading.note.lower() and fading.source
    mbb = RecallRule.objects.get(code="mbb-positive-no-rfa")
    assert mbb.recall_procedure.code == "rfa" and mbb.weeks == 4


# --- Relief fading -------------------------------------------------------------------------


def test_it_recalls_when_relief_fades_below_50_percent(calendar, patient):
    esi = done(calendar, patient, "esi-interlaminar", 120)
    survey(esi, 70, 100)
    survey(esi, 30, 10)
    rows = recall_rows()
    assert rules_of(rows) == [(patient.pk, "relief-fading")]
    row = rows[0]
    assert row.procedure_type.code == "esi-interlaminar"  # the same procedure again
    assert "relief 70% at best, 30%" in row.evidence and "below 50%" in row.evidence
    assert row.due == timezone.localdate() - datetime.timedelta(days=10)


@pytest.mark.parametrize(
    ("reliefs", "due"),
    [
        ((70, 50), False),  # exactly 50% is not below it
        ((70, 49), True),
        ((40, 20), False),  # never reached 50%: not fading, it did not work
        ((70,), False),  # one survey: nothing fades yet
    ],
)
def test_it_reads_fading_at_the_threshold(calendar, patient, reliefs, due):
    esi = done(calendar, patient, "esi-transforaminal", 120)
    for index, relief in enumerate(reliefs):
        survey(esi, relief, 100 - index * 30)
    assert bool(recall_rows()) is due


def test_it_drops_the_row_once_the_repeat_is_booked(calendar, patient):
    esi = done(calendar, patient, "esi-interlaminar", 120)
    survey(esi, 70, 100)
    survey(esi, 30, 10)
    AppointmentFactory(
        calendar=calendar,
        patient=patient,
        code="esi-interlaminar",
        starts_at=timezone.now() + datetime.timedelta(days=9),
    )
    assert recall_rows() == []


def test_it_follows_the_managers_threshold(calendar, patient):
    esi = done(calendar, patient, "esi-interlaminar", 120)
    survey(esi, 70, 100)
    survey(esi, 55, 10)
    assert recall_rows() == []
    RecallRule.objects.filter(code="relief-fading").update(threshold_percent=60)
    assert rules_of(recall_rows()) == [(patient.pk, "relief-fading")]
    RecallRule.objects.filter(code="relief-fading").update(active=False)
    assert recall_rows() == []


# --- Diary-positive MBB without RFA ------------------------------------------------------------


def test_it_recalls_a_positive_mbb_with_no_rfa_after_n_weeks(calendar, patient):
    positive_mbb(calendar, patient, 29)
    rows = recall_rows()
    assert rules_of(rows) == [(patient.pk, "mbb-positive-no-rfa")]
    assert rows[0].procedure_type.code == "rfa"
    assert "Positive block: peak relief 88%" in rows[0].evidence
    assert "no Radiofrequency ablation booked after 4 weeks" in rows[0].evidence


def test_it_waits_n_weeks_and_ignores_negative_blocks(calendar, patient):
    positive_mbb(calendar, patient, 20)  # 20 days: within the 4 weeks
    assert recall_rows() == []
    other = PatientFactory()
    negative = done(calendar, other, "medial-branch-block", 40)
    response_record(
        invitation=InvitationFactory(
            appointment=negative, kind=Invitation.Kind.BASELINE, instruments=["nrs"]
        ),
        answers={"nrs_current": 5, "nrs_average": 6, "nrs_worst": 9},
    )
    response_record(
        invitation=InvitationFactory(appointment=negative, instruments=["diary"]),
        answers={"diary": {"30": 2}},
    )
    assert recall_rows() == []


def test_it_drops_the_mbb_row_once_an_rfa_is_booked(calendar, patient):
    positive_mbb(calendar, patient, 40)
    AppointmentFactory(
        calendar=calendar,
        patient=patient,
        code="rfa",
        starts_at=timezone.now() + datetime.timedelta(days=5),
    )
    assert recall_rows() == []


def test_it_still_recalls_when_the_rfa_was_cancelled(calendar, patient):
    positive_mbb(calendar, patient, 40)
    AppointmentFactory(
        calendar=calendar,
        patient=patient,
        code="rfa",
        starts_at=timezone.now() + datetime.timedelta(days=5),
        status=Status.CANCELLED,
        cancel_reason="other",
    )
    assert rules_of(recall_rows()) == [(patient.pk, "mbb-positive-no-rfa")]


# --- SCS trial ended ---------------------------------------------------------------------


def test_it_recalls_an_ended_scs_trial_without_an_implant(calendar, patient):
    done(calendar, patient, "scs-trial", 3)
    assert recall_rows() == []  # the trial lasts a week
    Other = PatientFactory()
    done(calendar, Other, "scs-trial", 8)
    rows = recall_rows()
    assert rules_of(rows) == [(Other.pk, "scs-trial-ended")]
    assert rows[0].procedure_type == ProcedureType.objects.get(code="scs-implant")


# --- The page ----------------------------------------------------------------------------------


@pytest.fixture
def due(calendar, patient):
    """A positive block 40 days ago, in the worklist's rows (the factories write around the
    services, which would have refreshed them)."""
    appointment = positive_mbb(calendar, patient, 40)
    recall_entries_rebuild()
    return appointment


@pytest.mark.parametrize(
    ("persona", "allowed", "evidence"),
    [
        ("front_desk", True, False),
        ("nurse", True, True),
        ("physician", True, True),
        ("manager", True, True),
        ("outsider", False, False),
    ],
)
def test_it_shows_the_worklist_by_role(client, personas, due, persona, allowed, evidence):
    client.force_login(personas[persona])
    response = client.get(reverse("recall_list"))
    assert response.status_code == (200 if allowed else 403)
    if allowed:
        body = response.content.decode()
        assert "Karen Jensen" in body
        assert ("peak relief 88%" in body) is evidence


def test_it_opens_the_slot_finder_with_the_procedure_and_patient(client, front_desk, due, patient):
    client.force_login(front_desk)
    body = client.get(reverse("recall_list")).content.decode()
    rfa = ProcedureType.objects.get(code="rfa")
    url = f"{reverse('slot_finder')}?procedure_type={rfa.pk}&amp;patient={patient.pk}"
    assert url in body
    page = client.get(url.replace("&amp;", "&"))
    assert page.status_code == 200
    assert f'<option value="{rfa.pk}" selected>' in page.content.decode()


def test_it_filters_by_rule_and_audits_and_exports(client, nurse, due, patient):
    client.force_login(nurse)
    fading = RecallRule.objects.get(code="relief-fading")
    body = client.get(reverse("recall_list"), {"rule": fading.pk}).content.decode()
    assert "Karen Jensen" not in body
    assert not AuditEvent.objects.filter(patient=patient, detail="recall worklist").exists()
    assert "Karen Jensen" in client.get(reverse("recall_list")).content.decode()
    assert AuditEvent.objects.filter(patient=patient, detail="recall worklist").exists()
    export = client.get(reverse("recall_list"), {"_export": "csv"})
    assert export["Content-Type"].startswith("text/csv")
    assert "Positive medial branch block, no RFA booked" in export.content.decode()


def test_it_builds_the_worklist_in_as_many_queries_for_many_rows(
    client, nurse, calendar, assert_query_count_flat
):
    def add_rows(n):
        for _ in range(n):
            patient = PatientFactory()
            esi = AppointmentFactory(
                patient=patient, code="esi-caudal", starts_at=ago(120), status=DONE
            )
            survey(esi, 70, 100)
            survey(esi, 20, 10)
            AppointmentFactory(patient=patient, code="scs-trial", starts_at=ago(30), status=DONE)
        recall_entries_rebuild()

    client.force_login(nurse)
    assert_query_count_flat(client, reverse("recall_list"), add_rows)


# --- The kept rows -------------------------------------------------------------------------


def kept(today=None):
    return [(entry.patient_id, entry.rule.code) for entry in recall_worklist(today=today)]


def fading_esi(calendar, patient):
    esi = done(calendar, patient, "esi-transforaminal", 120)
    survey(esi, 70, 100)
    survey(esi, 20, 10)
    return esi


def test_it_keeps_the_rows_the_rules_give(calendar, patient, other_patient):
    fading_esi(calendar, patient)
    positive_mbb(calendar, other_patient, 40)
    done(calendar, PatientFactory(), "scs-trial", 3)  # due in four days
    assert recall_entries_rebuild() == 3
    live = [(row.patient.pk, row.rule.code, row.due) for row in recall_rows()]
    shown = [(entry.patient_id, entry.rule.code, entry.due) for entry in recall_worklist()]
    assert shown == live and len(shown) == 2


def test_it_shows_a_kept_row_from_its_due_day_to_the_end_of_its_look_back(calendar, patient):
    trial = done(calendar, patient, "scs-trial", 3)
    recall_entries_rebuild()
    entry = RecallEntry.objects.get(patient=patient)
    done_on = trial.local_start.date()
    assert entry.due == done_on + datetime.timedelta(weeks=1)
    assert entry.counts_until == done_on + datetime.timedelta(weeks=entry.rule.lookback_weeks)
    assert kept(today=entry.due - datetime.timedelta(days=1)) == []
    assert kept(today=entry.due) == [(patient.pk, "scs-trial-ended")]
    assert kept(today=entry.counts_until) == [(patient.pk, "scs-trial-ended")]
    assert kept(today=entry.counts_until + datetime.timedelta(days=1)) == []


def test_it_refreshes_the_patients_rows_as_bookings_change(
    calendar, patient, book, front_desk, django_capture_on_commit_callbacks
):
    fading_esi(calendar, patient)
    recall_entries_rebuild()
    assert kept() == [(patient.pk, "relief-fading")]
    with django_capture_on_commit_callbacks(execute=True):
        repeat = book()
    assert kept() == []
    with django_capture_on_commit_callbacks(execute=True):
        appointment_cancel(
            actor=front_desk, appointment=repeat, reason=CancelReason.PATIENT_REQUEST
        )
    assert kept() == [(patient.pk, "relief-fading")]


def test_it_leaves_the_rows_alone_when_a_nurse_checks_a_patient_in(
    calendar, patient, front_desk, django_capture_on_commit_callbacks
):
    """A check-in cannot start, end or move a recall: the tap does not pay to recompute."""
    fading_esi(calendar, patient)
    recall_entries_rebuild()
    RecallEntry.objects.update(evidence="as it was")
    today = TodaysAppointmentFactory(calendar=calendar, patient=patient, status=Status.BOOKED)
    with django_capture_on_commit_callbacks(execute=True):
        appointment_transition(actor=front_desk, appointment=today, to=Status.CHECKED_IN)
    assert RecallEntry.objects.get().evidence == "as it was"


def test_it_refreshes_the_patients_rows_as_surveys_are_answered(
    calendar, patient, django_capture_on_commit_callbacks
):
    esi = done(calendar, patient, "esi-transforaminal", 120)
    survey(esi, 70, 100)
    recall_entries_rebuild()
    assert kept() == []
    with django_capture_on_commit_callbacks(execute=True):
        response_record(
            invitation=InvitationFactory(appointment=esi, instruments=["relief"]),
            answers={"relief": 20},
        )
    assert kept() == [(patient.pk, "relief-fading")]


def test_it_moves_the_rows_to_the_kept_record_on_a_merge(
    calendar, patient, front_desk, django_capture_on_commit_callbacks
):
    from clinic.services import patient_merge

    twin = PatientFactory(first_name="Karen", last_name="Jensen")
    fading_esi(calendar, twin)
    recall_entries_rebuild()
    assert kept() == [(twin.pk, "relief-fading")]
    with django_capture_on_commit_callbacks(execute=True):
        patient_merge(keep=patient, remove=twin, by=front_desk, reason="Registered twice")
    assert kept() == [(patient.pk, "relief-fading")]


def test_it_recomputes_every_row_when_a_rule_is_edited(
    calendar, patient, django_capture_on_commit_callbacks, request
):
    queue = f"test-recall-{uuid.uuid4().hex[:12]}"  # of this test's own on the test broker
    before, celery_app.conf.task_default_queue = celery_app.conf.task_default_queue, queue
    broker = redis.Redis.from_url(settings.REDIS_URL)
    request.addfinalizer(lambda: broker.delete(queue))
    request.addfinalizer(lambda: setattr(celery_app.conf, "task_default_queue", before))
    fading_esi(calendar, patient)
    recall_entries_rebuild()
    fading = RecallRule.objects.get(code="relief-fading")
    fading.threshold_percent = 80
    with django_capture_on_commit_callbacks(execute=True):
        fading.save()
        fading.watched.remove(ProcedureType.objects.get(code="esi-caudal"))
        fading.watched.add(ProcedureType.objects.get(code="esi-caudal"))
    # To the worker, once for the transaction.
    assert [json.loads(message)["headers"]["task"] for message in broker.lrange(queue, 0, -1)] == [
        recall_rebuild.name
    ]
    assert kept() == [(patient.pk, "relief-fading")]  # until the worker has run it
    recall_rebuild()
    assert kept() == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_lets_one_writer_at_a_time_compute_the_rows(calendar, patient):
    """A refresh computed while the nightly rebuild holds its turn would read the patient
    as they were; it waits, then reads what the rebuild's transaction left."""
    fading_esi(calendar, patient)

    def refresh():
        try:
            recall_entries_rebuild(patient_ids=[patient.pk])
        finally:
            connection.close()  # this thread's own

    waiting = threading.Thread(target=refresh)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RECALL_LOCK])  # the rebuild's
        waiting.start()
        waiting.join(timeout=0.5)
        assert waiting.is_alive()
    waiting.join(timeout=10)
    assert not waiting.is_alive()
    assert kept() == [(patient.pk, "relief-fading")]


def test_it_fills_the_rows_once_after_an_upgrade(calendar, patient):
    fading_esi(calendar, patient)
    call_command("rebuild_recall", "--if-empty", stdout=io.StringIO())
    assert kept() == [(patient.pk, "relief-fading")]
    RecallEntry.objects.update(evidence="as it was")
    said = io.StringIO()
    call_command("rebuild_recall", "--if-empty", stdout=said)
    assert "nothing to do" in said.getvalue()
    assert RecallEntry.objects.get().evidence == "as it was"
    call_command("rebuild_recall", stdout=io.StringIO())
    assert "relief 70% at best" in RecallEntry.objects.get().evidence


def test_it_rebuilds_every_row_each_night():
    from django.conf import settings

    nightly = settings.CELERY_BEAT_SCHEDULE["followup-recall-rebuild"]
    assert nightly["task"] == recall_rebuild.name
    assert nightly["schedule"].hour == {2}


# --- Scale ---------------------------------------------------------------------------------


def rows_read(function):
    """How many rows the database hands back while `function` runs."""
    total = 0

    def count(execute, sql, params, many, context):
        nonlocal total
        result = execute(sql, params, many, context)
        total += max(context["cursor"].rowcount, 0)
        return result

    with connection.execute_wrapper(count):
        function()
    return total


def test_it_leaves_patients_who_are_not_due_in_the_database(calendar, patient):
    """A busy clinic has tens of thousands of done watched procedures and hundreds of
    thousands of survey answers; the page read them all into Python (~10 s at 118k
    appointments). Only rows that may be due come back."""
    positive_mbb(calendar, patient, 40)

    added = 0

    def add_quiet_patients(n):
        nonlocal added
        for _ in range(n):
            added += 1
            hour = added / 12  # one room: a new time for each patient's procedures
            other = PatientFactory()
            esi = done(calendar, other, "esi-interlaminar", 120 + hour)
            survey(esi, 70, 100)
            survey(esi, 65, 10)  # still working: not fading
            done(calendar, other, "scs-trial", 3 + hour)  # the trial still runs
            positive_mbb(calendar, other, 60 + hour)
            AppointmentFactory(
                calendar=calendar, patient=other, code="rfa", starts_at=ago(30 + hour)
            )

    add_quiet_patients(2)
    few = rows_read(recall_rows)
    add_quiet_patients(10)
    assert rows_read(recall_rows) == few
    assert rules_of(recall_rows()) == [(patient.pk, "mbb-positive-no-rfa")]


def test_it_reads_the_latest_watched_procedure_only(calendar, patient):
    faded = done(calendar, patient, "esi-interlaminar", 200)
    survey(faded, 70, 180)
    survey(faded, 20, 150)
    assert rules_of(recall_rows()) == [(patient.pk, "relief-fading")]
    again = done(calendar, patient, "esi-transforaminal", 100)  # watched too, and working
    survey(again, 80, 90)
    survey(again, 75, 10)
    assert recall_rows() == []


def test_it_counts_procedures_within_the_rules_look_back_only(calendar, patient):
    esi = done(calendar, patient, "esi-interlaminar", 120)
    survey(esi, 70, 100)
    survey(esi, 30, 10)
    RecallRule.objects.filter(code="relief-fading").update(lookback_weeks=16)  # 112 days
    assert recall_rows() == []
    RecallRule.objects.filter(code="relief-fading").update(lookback_weeks=18)
    assert rules_of(recall_rows()) == [(patient.pk, "relief-fading")]


def trial_at(calendar, zone, day, hour):
    """An SCS trial done at `hour` on 2026-11-`day` by the clock of a site in `zone`."""
    Site = type(calendar["site"])
    Site.objects.filter(pk=calendar["site"].pk).update(time_zone=zone)
    starts = datetime.datetime(2026, 11, day, hour, tzinfo=zoneinfo.ZoneInfo(zone))
    return AppointmentFactory(
        calendar=calendar,
        patient=PatientFactory(),
        code="scs-trial",
        starts_at=starts,
        status=DONE,
    )


def due_on(today):
    return {row.appointment.pk: row.due for row in recall_rows(today=today)}


@pytest.mark.parametrize(
    ("zone", "hour"),
    [
        ("Pacific/Kiritimati", 1),  # 14 hours ahead of UTC: the day before in Copenhagen
        ("Pacific/Honolulu", 20),  # 10 hours behind: the day after in Copenhagen
    ],
)
def test_it_counts_weeks_by_the_sites_own_calendar(calendar, zone, hour):
    """A trial on 24 November by the site's clock ended on 1 December, whatever day it was
    by the clinic's (Copenhagen) clock; the database narrows with days to spare."""
    ended = trial_at(calendar, zone, 24, hour)
    running = trial_at(calendar, zone, 25, hour)
    today = datetime.date(2026, 12, 1)
    assert due_on(today) == {ended.pk: today}
    assert running.pk not in due_on(today)


def test_it_reads_the_look_back_by_the_sites_own_calendar(calendar):
    """A year of look-back from 1 December 2026 starts on 2 December 2025 (52 weeks) by the
    site's clock: a trial early that morning on a site 14 hours ahead still counts."""
    trial = trial_at(calendar, "Pacific/Kiritimati", 1, 5)
    type(trial).objects.filter(pk=trial.pk).update(
        starts_at=datetime.datetime(2025, 12, 2, 5, tzinfo=zoneinfo.ZoneInfo("Pacific/Kiritimati"))
    )
    assert trial.pk in due_on(datetime.date(2026, 12, 1))
    assert trial.pk not in due_on(datetime.date(2026, 12, 2))
