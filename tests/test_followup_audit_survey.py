"""Audit of the patient survey pages: tampered form input and surveys open in two tabs."""

import pytest
from django.urls import reverse

from followup.models import Invitation, Response
from tests.factories import SentSurveyFactory, answers_post, link


@pytest.fixture
def appointment(book):
    """Karen's transforaminal ESI, booked for next Monday at 09:00."""
    return book(9, 0)


@pytest.fixture
def invitation(appointment):
    return SentSurveyFactory(appointment=appointment)


@pytest.mark.parametrize("url_name", ["survey", "survey_draft"])
def test_it_keeps_a_draft_without_a_tampered_value_instead_of_failing(client, invitation, url_name):
    client.get(link(invitation))
    # PostgreSQL's jsonb refuses a NUL character; the draft must not try to store one.
    data = {"nrs_current": "7", "nrs_average": "4\x00", "pgic": "99", "relief": "30"}
    response = client.post(reverse(url_name), data)
    assert response.status_code == 200
    invitation.refresh_from_db()
    assert invitation.draft == {"nrs_current": "7", "relief": "30"}
    assert not Response.objects.exists()


def test_it_records_answers_against_the_survey_the_page_was_shown_for(client, appointment):
    first = SentSurveyFactory(appointment=appointment)
    second = SentSurveyFactory(appointment=appointment)
    # The patient opens the first email's link, then the second one in another tab ...
    client.get(link(first))
    first_page = client.get(reverse("survey")).content.decode()
    assert f'name="invitation" value="{first.pk}"' in first_page
    client.get(link(second))
    # ... and sends the first tab's answers: they belong to the first survey.
    response = client.post(
        reverse("survey"), answers_post(invitation=str(first.pk), nrs_current="8")
    )
    assert response.status_code == 302
    assert Response.objects.get().invitation_id == first.pk
    second.refresh_from_db()
    assert second.status == Invitation.Status.SENT and second.draft == {}
    thanks = client.get(response.url)
    assert thanks.status_code == 200 and "Tak for dine svar" in thanks.content.decode()
    # The second tab still works (also after a reload), and saves to the second survey.
    reloaded = client.get(reverse("survey")).content.decode()
    assert f'name="invitation" value="{second.pk}"' in reloaded
    saved = client.post(reverse("survey_draft"), {"invitation": str(second.pk), "pgic": "3"})
    assert saved.status_code == 200
    second.refresh_from_db()
    assert second.draft == {"pgic": "3"}
    answered = client.post(reverse("survey"), answers_post(invitation=str(second.pk)))
    assert answered.status_code == 302
    assert Response.objects.filter(invitation=second).exists()


def test_it_refuses_a_post_naming_a_survey_this_browser_did_not_open(client, appointment):
    mine = SentSurveyFactory(appointment=appointment)
    someone_elses = SentSurveyFactory(appointment=appointment)
    client.get(link(mine))
    for posted in (str(someone_elses.pk), "x", "²"):
        response = client.post(reverse("survey"), answers_post(invitation=posted))
        assert response.status_code == 400
        draft = client.post(reverse("survey_draft"), {"invitation": posted, "pgic": "3"})
        assert draft.status_code == 409
    assert not Response.objects.exists()
    someone_elses.refresh_from_db()
    assert someone_elses.draft == {}
