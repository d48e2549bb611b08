"""The survey says which questions a score needs, and asks again (server-side, no script)
before answers that lose the ODI/NDI score are sent."""

import pytest
from django.urls import reverse

from followup.models import Response
from followup.scoring import ODI_SECTIONS
from tests.factories import SentSurveyFactory, answers_post, link

SKIPPED_THREE = {f"odi__{section_id}": None for section_id, _ in ODI_SECTIONS[:3]}


@pytest.fixture
def invitation(book):
    invitation = SentSurveyFactory(appointment=book(9, 0))
    assert invitation.patient.preferred_language == "da"
    return invitation


def opened(client, invitation):
    client.get(link(invitation))
    return client


def test_it_says_how_many_parts_the_score_needs_instead_of_optional(client, invitation):
    body = opened(client, invitation).get(reverse("survey")).content.decode()
    assert "Din score kræver svar på mindst 9 af de 10 emner." in body
    # The disability parts are no longer each marked optional.
    assert body.count("(valgfrit)") < len(ODI_SECTIONS)


def test_it_asks_again_before_a_gap_loses_the_score(client, invitation):
    opened(client, invitation)
    response = client.post(reverse("survey"), answers_post(**SKIPPED_THREE))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Nogle emner er ikke besvaret endnu" in body
    assert "du har besvaret 7 af 10 emner" in body
    assert not Response.objects.filter(invitation=invitation).exists()
    # What was answered is kept for the second try.
    invitation.refresh_from_db()
    assert invitation.draft.get("nrs_current") == "3"
    response = client.post(reverse("survey"), answers_post(**SKIPPED_THREE, send_anyway="1"))
    assert response.status_code == 302
    assert Response.objects.get(invitation=invitation).odi_percent is None


def test_it_sends_at_once_when_the_score_can_be_worked_out(client, invitation):
    opened(client, invitation)
    one_skipped = {f"odi__{ODI_SECTIONS[0][0]}": None}
    response = client.post(reverse("survey"), answers_post(**one_skipped))
    assert response.status_code == 302
    assert Response.objects.get(invitation=invitation).odi_percent is not None
