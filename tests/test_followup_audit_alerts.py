"""Audit of the on-call alert emails: a late first email is not chased by its escalation."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from followup.dispatch import dispatch_tick, oncall_notify
from followup.models import Alert, Invitation
from followup.scoring import RED_FLAGS
from followup.services import response_record
from tests.factories import AppointmentFactory, InvitationFactory

NO_FLAGS = {code: False for code, _label in RED_FLAGS}


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
            "red_flags": {**NO_FLAGS, "fever": True},
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
