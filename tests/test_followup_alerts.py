"""Red flags and worsening: alerts, on-call emails within a tick, acknowledgement, escalation."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from followup.dispatch import dispatch_tick, oncall_notify
from followup.models import Alert, EmailLog, Invitation
from followup.services import (
    AlertAlreadyAcknowledged,
    AlertNoteRequired,
    alert_acknowledge,
    response_record,
)
from tests.factories import AppointmentFactory, InvitationFactory, red_flag_codes

K = Invitation.Kind


def no_flags() -> dict:
    """No to every red-flag question of the lumbar L4-L5 appointment."""
    return dict.fromkeys(red_flag_codes(), False)


@pytest.fixture
def appointment(calendar, patient):
    appointment = AppointmentFactory(
        calendar=calendar, patient=patient, starts_at=timezone.now() - datetime.timedelta(days=15)
    )
    baseline = InvitationFactory(appointment=appointment, kind=K.BASELINE, instruments=["nrs"])
    response_record(
        invitation=baseline, answers={"nrs_current": 5, "nrs_average": 5, "nrs_worst": 7}
    )
    return appointment


def answer(appointment, **answers):
    instruments = ["nrs", "pgic", "red_flags"]
    values = {"nrs_current": 4, "nrs_average": 4, "nrs_worst": 6, "pgic": 3}
    values.update(answers)
    values.setdefault("red_flags", no_flags())
    invitation = InvitationFactory(appointment=appointment, instruments=instruments)
    return response_record(invitation=invitation, answers=values)


def kinds(response):
    return sorted(response.alerts.values_list("kind", flat=True))


def test_it_raises_no_alert_for_an_ordinary_answer(appointment):
    assert kinds(answer(appointment)) == []


def test_it_raises_a_red_flag_alert(appointment):
    response = answer(appointment, red_flags={**no_flags(), "bladder_bowel": True, "fever": True})
    (alert,) = response.alerts.all()
    assert alert.kind == Alert.Kind.RED_FLAG
    assert "bladder or bowel" in alert.detail and "Fever" in alert.detail
    assert response.red_flags == ["bladder_bowel", "fever"]


def test_it_raises_worse_pain_at_two_points_above_baseline(appointment):
    assert kinds(answer(appointment, nrs_average=6)) == []  # one point worse
    response = answer(appointment, nrs_average=7, nrs_worst=9)
    (alert,) = response.alerts.all()
    assert alert.kind == Alert.Kind.WORSE_PAIN
    assert alert.detail == "average pain 5 → 7; worst pain 7 → 9 (baseline → now)"


@pytest.mark.parametrize(("pgic", "alerts"), [(5, []), (6, ["pgic_worse"]), (7, ["pgic_worse"])])
def test_it_raises_an_alert_when_the_patient_feels_much_worse(appointment, pgic, alerts):
    assert kinds(answer(appointment, pgic=pgic)) == alerts


def test_it_emails_on_call_about_a_response_once_within_a_tick(appointment, enqueued):
    response = answer(
        appointment, pgic=7, nrs_current=9, red_flags={**no_flags(), "saddle_numbness": True}
    )
    assert dispatch_tick()["alerts"] == 3
    # The tick hands the emails to a task; run it as the worker would.
    assert oncall_notify() == 1
    (message,) = mail.outbox
    assert message.to == ["oncall@localhost"]
    numbers = {f"Follow-up alert #{alert.pk}" for alert in response.alerts.all()}
    assert message.subject in numbers
    assert "Red-flag symptom" in message.body and "Patient feels much worse" in message.body
    assert "/followup/alerts/?state=open" in message.body
    # Nothing that names the patient, or what they answered, leaves in the email.
    for value in ("Karen", "Jensen", "MRN-0001", response.patient.phone or "-", "saddle"):
        assert value.lower() not in (message.subject + message.body).lower()
    assert all(alert.oncall_emailed_at for alert in response.alerts.all())
    assert dispatch_tick()["alerts"] == 0 and oncall_notify() == 0
    assert EmailLog.objects.get(kind="oncall_alert").status == "sent"


def test_it_tries_the_on_call_email_again_after_a_failure(appointment, smtp_server):
    answer(appointment, red_flags={**no_flags(), "fever": True})
    smtp_server.reply = "451 Try again later"
    assert oncall_notify() == 0
    assert Alert.objects.get().oncall_emailed_at is None
    assert EmailLog.objects.get(kind="oncall_alert").status == "failed"
    smtp_server.reply = ""
    assert oncall_notify() == 1 and len(smtp_server.messages) == 1


def test_it_escalates_an_unacknowledged_alert_once(appointment, settings):
    settings.FOLLOWUP_ALERT_ESCALATE_MINUTES = 30
    answer(appointment, red_flags={**no_flags(), "fever": True})
    now = timezone.now()
    oncall_notify(now=now)
    assert oncall_notify(now=now + datetime.timedelta(minutes=29)) == 0
    later = now + datetime.timedelta(minutes=31)
    assert dispatch_tick(now=later)["alerts"] == 1
    assert oncall_notify(now=later) == 1
    alert = Alert.objects.get()
    assert alert.escalated_at == later
    assert mail.outbox[-1].subject.startswith("UNACKNOWLEDGED")
    assert oncall_notify(now=later + datetime.timedelta(hours=5)) == 0
    assert len(mail.outbox) == 2


def test_it_does_not_escalate_an_acknowledged_alert(appointment, nurse):
    answer(appointment, red_flags={**no_flags(), "fever": True})
    now = timezone.now()
    oncall_notify(now=now)
    alert_acknowledge(alert=Alert.objects.get(), user=nurse, note="Phoned: no fever now.")
    assert oncall_notify(now=now + datetime.timedelta(days=1)) == 0
    assert Alert.objects.get().escalated_at is None


def test_it_lets_one_named_nurse_acknowledge_with_a_note(appointment, nurse, physician):
    answer(appointment, pgic=7)
    alert = Alert.objects.get()
    with pytest.raises(AlertNoteRequired):
        alert_acknowledge(alert=alert, user=nurse, note="   ")
    alert_acknowledge(alert=alert, user=nurse, note="Called the patient; GP visit tomorrow.")
    assert (alert.acknowledged_by, alert.acknowledgement_note) == (
        nurse,
        "Called the patient; GP visit tomorrow.",
    )
    with pytest.raises(AlertAlreadyAcknowledged):
        alert_acknowledge(alert=Alert.objects.get(), user=physician, note="Also called.")
    alert.refresh_from_db()
    assert alert.acknowledged_by == nurse


@pytest.fixture
def alert(calendar, patient):
    appointment = AppointmentFactory(
        calendar=calendar, patient=patient, starts_at=timezone.now() - datetime.timedelta(days=15)
    )
    invitation = InvitationFactory(
        appointment=appointment,
        kind=Invitation.Kind.SURVEY,
        instruments=["nrs", "pgic", "red_flags"],
    )
    response_record(
        invitation=invitation,
        answers={
            "nrs_current": 4,
            "nrs_average": 4,
            "nrs_worst": 6,
            "pgic": 3,
            "red_flags": {**no_flags(), "fever": True},
        },
    )
    return Alert.objects.get()


def test_it_gives_on_call_the_full_time_after_a_late_first_email(alert, settings):
    settings.FOLLOWUP_ALERT_ESCALATE_MINUTES = 60
    # The first email could not go out for two hours (SMTP down, no worker).
    late = alert.created_at + datetime.timedelta(hours=2)
    assert oncall_notify(now=late) == 1
    assert len(mail.outbox) == 1
    assert not mail.outbox[0].subject.startswith("UNACKNOWLEDGED")
    assert dispatch_tick(now=late)["alerts"] == 0
    assert oncall_notify(now=late + datetime.timedelta(minutes=59)) == 0
    # Only an hour after on-call was told does the escalation go out, once.
    escalate = late + datetime.timedelta(minutes=61)
    assert oncall_notify(now=escalate) == 1
    assert mail.outbox[-1].subject.startswith("UNACKNOWLEDGED")
    assert oncall_notify(now=escalate + datetime.timedelta(hours=3)) == 0
    assert len(mail.outbox) == 2
    alert.refresh_from_db()
    assert alert.oncall_emailed_at == late and alert.escalated_at == escalate
