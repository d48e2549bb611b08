"""Whether a survey can still be answered: one rule, in Python and in SQL, kept by every caller.

The rule is `Invitation.is_answerable(now)` and its queryset twin `answerable(now)`. A survey
past its `expires_at` is closed even while its status still says "sent" (the dispatcher marks
it expired on its next tick), so every caller is tested with exactly that row.
"""

import datetime
import itertools

import pytest
from django.urls import reverse
from django.utils import timezone

from followup.models import Invitation, Response
from followup.patient_services import survey_draft_save
from followup.services import SurveyClosed, response_record
from tests.factories import SentSurveyFactory, answers_post, link


@pytest.fixture
def appointment(book):
    return book(9, 0)


@pytest.fixture
def invitation(appointment):
    return SentSurveyFactory(appointment=appointment)


K, S = Invitation.Kind, Invitation.Status
MINUTE = datetime.timedelta(minutes=1)


def close(invitation, at=None):
    """The survey's time runs out; the dispatcher has not marked it expired yet."""
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=at or timezone.now() - MINUTE)
    invitation.refresh_from_db()
    assert invitation.status == S.SENT


@pytest.fixture
def opened_then_closed(client, invitation):
    """The patient opened the link in time, and came back to the page after it closed."""
    assert client.get(link(invitation)).status_code == 302
    close(invitation)
    return invitation


def test_it_refuses_the_survey_page_once_the_survey_closed(client, opened_then_closed):
    page = client.get(reverse("survey"))
    assert page.status_code == 410
    assert "Linket er udløbet" in page.content.decode()


def test_it_refuses_a_link_opened_after_the_survey_closed(client, invitation):
    close(invitation)
    response = client.get(link(invitation))
    assert response.status_code == 410
    assert "Linket er udløbet" in response.content.decode()


def test_it_refuses_answers_posted_after_the_survey_closed(client, opened_then_closed):
    response = client.post(reverse("survey"), answers_post())
    assert response.status_code == 410
    assert not Response.objects.exists()
    opened_then_closed.refresh_from_db()
    assert (opened_then_closed.status, opened_then_closed.draft) == (S.SENT, {})


def test_it_refuses_to_save_for_later_after_the_survey_closed(client, opened_then_closed):
    response = client.post(reverse("survey"), {"nrs_worst": "8", "save_draft": "1"})
    assert response.status_code == 410
    opened_then_closed.refresh_from_db()
    assert opened_then_closed.draft == {}


def test_it_refuses_an_autosave_after_the_survey_closed(client, opened_then_closed):
    response = client.post(reverse("survey_draft"), {"nrs_current": "7"})
    assert response.status_code == 409
    opened_then_closed.refresh_from_db()
    assert opened_then_closed.draft == {}


def test_it_refuses_to_record_answers_after_the_survey_closed(invitation):
    close(invitation)
    with pytest.raises(SurveyClosed):
        response_record(invitation=invitation, answers={"pgic": 3})
    assert not Response.objects.exists()


def test_it_refuses_to_record_answers_submitted_at_the_closing_time(invitation):
    with pytest.raises(SurveyClosed):
        response_record(
            invitation=invitation, answers={"pgic": 3}, submitted_at=invitation.expires_at
        )
    invitation.refresh_from_db()
    assert invitation.status == S.SENT


def test_it_refuses_to_keep_a_draft_after_the_survey_closed(invitation):
    close(invitation)
    assert survey_draft_save(invitation=invitation, draft={"pgic": "3"}) is False
    invitation.refresh_from_db()
    assert invitation.draft == {}


def test_it_keeps_a_draft_while_the_survey_is_open(invitation):
    assert survey_draft_save(invitation=invitation, draft={"pgic": "3"}) is True
    invitation.refresh_from_db()
    assert invitation.draft == {"pgic": "3"}


def test_it_decides_answerable_alike_in_python_and_in_sql(appointment):
    Invitation.objects.filter(appointment=appointment).delete()  # the booking's own rows
    now = timezone.now()
    expiries = {"none": None, "past": now - MINUTE, "at now": now, "future": now + MINUTE}
    answered = {"unanswered": None, "answered": now - MINUTE}
    cases = {}
    for kind, status, expiry, answered_at in itertools.product(
        K.values, S.values, expiries, answered
    ):
        cases[(kind, status, expiry, answered_at)] = Invitation(
            patient=appointment.patient,
            appointment=appointment,
            kind=kind,
            status=status,
            due_at=now - 60 * MINUTE,
            expires_at=expiries[expiry],
            answered_at=answered[answered_at],
        )
    # The database allows one reminder and one baseline per appointment, so each case
    # is written and judged on its own.
    disagreements, answerable = [], []
    for case, row in cases.items():
        row.save()
        in_python = row.is_answerable(now)
        in_sql = Invitation.objects.filter(pk=row.pk).answerable(now).exists()
        if in_python != in_sql:
            disagreements.append(case)
        if in_python:
            answerable.append(case)
        row.delete()
    assert disagreements == []
    # And the rule itself: a survey, not answered, still open, and not yet past its time.
    open_statuses = {S.SCHEDULED, S.QUEUED, S.SENDING, S.SENT, S.SKIPPED, S.FAILED}
    assert set(answerable) == {
        (kind, status, expiry, "unanswered")
        for kind in (K.BASELINE, K.SURVEY)
        for status in open_statuses
        for expiry in ("none", "future")
    }


def test_it_answers_the_expired_case_alike_on_a_loaded_row(invitation):
    now = timezone.now()
    assert invitation.is_answerable(now)
    assert invitation.is_answerable(invitation.expires_at - MINUTE)
    assert not invitation.is_answerable(invitation.expires_at)
    later = Invitation.objects.filter(pk=invitation.pk)
    assert later.answerable(invitation.expires_at - MINUTE).exists()
    assert not later.answerable(invitation.expires_at).exists()
