"""The patient's survey pages: tokenized link, GET/POST rule, drafts, validation, languages."""

import datetime
import time
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from followup.models import Alert, InstrumentWording, Invitation, Response
from followup.scoring import NDI_SECTIONS
from followup.tokens import make_token
from followup.views_public import SESSION_KEY
from tests.factories import SentSurveyFactory, answers_post, link

CLINIC_PHONE = "+45 70 00 00 00"


@pytest.fixture
def appointment(book):
    """Karen's transforaminal ESI, booked for next Monday at 09:00."""
    return book(9, 0)


@pytest.fixture
def invitation(appointment):
    return SentSurveyFactory(appointment=appointment)


def open_survey(client, invitation):
    response = client.get(link(invitation))
    assert response.status_code == 302
    assert response.url == reverse("survey")
    return response


def test_it_moves_the_token_into_the_session_and_drops_it_from_the_address(client, invitation):
    token = make_token(purpose="survey", invitation_id=invitation.pk)
    response = client.get(reverse("survey_start", args=[token]))
    assert response.status_code == 302
    assert response.url == reverse("survey")
    assert client.session[SESSION_KEY] == invitation.pk
    page = client.get(response.url)
    assert page.status_code == 200
    assert token not in page.content.decode()
    invitation.refresh_from_db()
    assert invitation.opened_at is not None


def test_it_keeps_the_first_opening_time(client, invitation):
    open_survey(client, invitation)
    invitation.refresh_from_db()
    first = invitation.opened_at
    open_survey(client, invitation)
    invitation.refresh_from_db()
    assert invitation.opened_at == first


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: token.replace(":", ":x", 1),
        lambda token: "not-a-token",
        lambda token: token[: len(token) // 2],
    ],
)
def test_it_refuses_a_tampered_link_with_a_friendly_page(client, invitation, tamper):
    token = tamper(make_token(purpose="survey", invitation_id=invitation.pk))
    response = client.get(reverse("survey_start", args=[token]))
    assert response.status_code == 400
    assert "This link does not work" in response.content.decode()
    assert CLINIC_PHONE in response.content.decode()
    assert SESSION_KEY not in client.session
    invitation.refresh_from_db()
    assert invitation.opened_at is None


def test_it_refuses_a_link_made_for_another_purpose(client, invitation):
    token = make_token(purpose="unsubscribe", invitation_id=invitation.pk)
    response = client.get(reverse("survey_start", args=[token]))
    assert response.status_code == 400
    assert SESSION_KEY not in client.session


def test_it_refuses_a_link_to_an_invitation_that_is_gone(client, invitation):
    token = make_token(purpose="survey", invitation_id=invitation.pk + 1000)
    response = client.get(reverse("survey_start", args=[token]))
    assert response.status_code == 400
    assert CLINIC_PHONE in response.content.decode()


def test_it_explains_an_expired_link(client, invitation, settings):
    long_ago = time.time() - (settings.FOLLOWUP_LINK_MAX_AGE_DAYS + 1) * 24 * 3600
    with mock.patch("django.core.signing.time.time", return_value=long_ago):
        token = make_token(purpose="survey", invitation_id=invitation.pk)
    response = client.get(reverse("survey_start", args=[token]))
    assert response.status_code == 410
    body = response.content.decode()
    assert "This link has expired" in body
    assert CLINIC_PHONE in body


def test_it_explains_a_closed_survey_in_the_patients_language(client, appointment):
    invitation = SentSurveyFactory(
        appointment=appointment, expires_at=timezone.now() - datetime.timedelta(minutes=1)
    )
    response = client.get(link(invitation))
    assert response.status_code == 410
    assert response["Content-Language"] == "da"
    assert "Linket er udløbet" in response.content.decode()


def test_it_explains_a_cancelled_survey(client, appointment):
    invitation = SentSurveyFactory(appointment=appointment, status=Invitation.Status.CANCELLED)
    response = client.get(link(invitation))
    assert response.status_code == 410
    assert "ikke længere aktivt" in response.content.decode()


def test_it_asks_for_the_email_link_when_the_session_has_none(client, db):
    for name in ("survey", "survey_thanks"):
        response = client.get(reverse(name))
        assert response.status_code == 400
        assert CLINIC_PHONE in response.content.decode()


def test_a_get_never_records_answers(client, invitation):
    open_survey(client, invitation)
    response = client.get(reverse("survey"), answers_post())
    assert response.status_code == 200
    assert not Response.objects.exists()
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.SENT
    assert invitation.draft == {}


def test_it_records_the_answers_on_post_and_thanks_the_patient(client, invitation):
    open_survey(client, invitation)
    response = client.post(reverse("survey"), answers_post())
    assert response.status_code == 302
    assert response.url == reverse("survey_thanks")
    recorded = Response.objects.get(invitation=invitation)
    assert (recorded.nrs_current, recorded.nrs_average, recorded.nrs_worst) == (3, 4, 6)
    assert recorded.pgic == 2
    assert recorded.patient_rated_relief == 50
    assert recorded.odi_percent == 20
    assert recorded.red_flags == []
    thanks = client.get(response.url)
    assert thanks.status_code == 200
    body = thanks.content.decode()
    assert "Tak for dine svar" in body
    assert "112" not in body


def test_it_refuses_a_second_submission_politely(client, invitation):
    open_survey(client, invitation)
    client.post(reverse("survey"), answers_post())
    again = client.post(reverse("survey"), answers_post(nrs_current="9"))
    assert again.status_code == 409
    assert "Vi har allerede dine svar" in again.content.decode()
    assert Response.objects.get(invitation=invitation).nrs_current == 3


def test_it_refuses_a_replayed_link_after_answering_politely(client, invitation):
    open_survey(client, invitation)
    client.post(reverse("survey"), answers_post())
    other_phone = Client()
    open_survey(other_phone, invitation)
    page = other_phone.get(reverse("survey"))
    assert page.status_code == 200
    assert "Vi har allerede dine svar" in page.content.decode()
    refused = other_phone.post(reverse("survey"), answers_post(nrs_current="9"))
    assert refused.status_code == 409
    assert Response.objects.count() == 1


def test_it_shows_clear_errors_and_keeps_every_answer(client, invitation):
    open_survey(client, invitation)
    data = answers_post(nrs_current=None, pgic=None, relief="55")
    response = client.post(reverse("survey"), data)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="error-summary"' in body
    assert body.count("Vælg venligst et svar.") >= 3
    assert 'href="#q-nrs_current"' in body
    # What was answered is still ticked, and kept as a draft for later.
    assert 'name="nrs_average" id="id_nrs_average_4" value="4" checked' in body
    assert not Response.objects.exists()
    invitation.refresh_from_db()
    assert invitation.draft["nrs_average"] == "4"
    assert "nrs_current" not in invitation.draft


def test_it_shows_the_services_errors_next_to_the_question(client, invitation, settings):
    settings.FOLLOWUP_ODI_MAX_MISSING = 0
    open_survey(client, invitation)
    response = client.post(reverse("survey"), answers_post(odi__lifting="9"))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="error-odi__lifting"' in body
    assert not Response.objects.exists()


def test_it_saves_a_draft_on_change_and_shows_it_again(client, invitation):
    open_survey(client, invitation)
    saved = client.post(reverse("survey_draft"), {"nrs_current": "7", "pgic": "3", "unknown": "x"})
    assert saved.status_code == 200
    invitation.refresh_from_db()
    assert invitation.draft == {"nrs_current": "7", "pgic": "3"}
    page = client.get(reverse("survey")).content.decode()
    assert 'value="7" checked' in page
    assert 'id="answered-count">2<' in page


def test_it_saves_and_finishes_later_without_javascript(client, invitation):
    open_survey(client, invitation)
    response = client.post(reverse("survey"), {"nrs_worst": "8", "save_draft": "1"})
    assert response.status_code == 200
    assert "Dine svar er gemt" in response.content.decode()
    assert not Response.objects.exists()
    invitation.refresh_from_db()
    assert invitation.draft == {"nrs_worst": "8"}


def test_it_refuses_a_draft_without_the_link_or_after_answering(client, invitation):
    assert client.post(reverse("survey_draft"), {"nrs_current": "7"}).status_code == 409
    open_survey(client, invitation)
    client.post(reverse("survey"), answers_post())
    assert client.post(reverse("survey_draft"), {"nrs_current": "7"}).status_code == 409


def test_it_speaks_danish_to_a_danish_patient(client, invitation):
    open_survey(client, invitation)
    response = client.get(reverse("survey"))
    body = response.content.decode()
    assert response["Content-Language"] == "da"
    assert '<html lang="da">' in body
    assert "Spørgsmål efter din behandling" in body
    assert "Hvor ondt har du lige nu?" in body
    assert "Send mine svar" in body
    assert "Feber på 38 °C eller mere, eller kulderystelser" in body


def test_it_speaks_english_to_an_english_patient(client, book, other_patient):
    invitation = SentSurveyFactory(appointment=book(11, 0, who=other_patient))
    open_survey(client, invitation)
    response = client.get(reverse("survey"), HTTP_ACCEPT_LANGUAGE="da")
    body = response.content.decode()
    assert response["Content-Language"] == "en"
    assert '<html lang="en">' in body
    assert "Questions after your treatment" in body
    assert "How bad is your pain right now?" in body
    assert "Fever of 38 °C or more, or chills" in body


def test_it_shows_progress_and_parts(client, invitation):
    open_survey(client, invitation)
    body = client.get(reverse("survey")).content.decode()
    # 3 NRS + relief + PGIC + 10 ODI sections + 9 lumbar and general red flags.
    assert 'max="24"' in body
    assert "Del 1 af 5" in body
    assert "Del 5 af 5" in body


def test_it_asks_the_neck_questionnaire_after_cervical_treatment(client, book, calendar):
    appointment = book(13, 0, levels="C5-C6")
    invitation = SentSurveyFactory(appointment=appointment)
    open_survey(client, invitation)
    body = client.get(reverse("survey")).content.decode()
    assert f'name="ndi__{NDI_SECTIONS[3][0]}"' in body
    assert 'name="odi__walking"' not in body


def test_it_uses_the_licensed_wording_when_loaded(client, invitation):
    InstrumentWording.objects.create(
        instrument="odi",
        section="walking",
        language="da",
        title="Gang (licenseret tekst)",
        options=[f"Svar {score}" for score in range(6)],
    )
    open_survey(client, invitation)
    body = client.get(reverse("survey")).content.decode()
    assert "Gang (licenseret tekst)" in body
    assert "Svar 5" in body
    # Sections without licensed wording fall back to the generic scale.
    assert "intet problem" in body


def test_it_tells_the_patient_to_call_after_a_red_flag(client, invitation):
    open_survey(client, invitation)
    client.post(reverse("survey"), answers_post(red_flags__fever="yes"))
    assert Alert.objects.filter(kind=Alert.Kind.RED_FLAG).exists()
    body = client.get(reverse("survey_thanks")).content.decode()
    assert 'role="alert"' in body
    assert "Ring til klinikken nu på +45 70 00 00 00" in body
    assert 'href="tel:112"' in body


def test_it_tells_an_english_patient_to_call_when_much_worse(client, book, other_patient):
    invitation = SentSurveyFactory(appointment=book(11, 0, who=other_patient))
    open_survey(client, invitation)
    client.post(reverse("survey"), answers_post(pgic="7"))
    body = client.get(reverse("survey_thanks")).content.decode()
    assert "Important: please contact us" in body
    assert "Please call the clinic today on +45 70 00 00 00" in body


def test_it_uses_the_sites_phone_number_when_it_has_one(client, invitation, calendar):
    calendar["site"].phone = "+45 11 22 33 44"
    calendar["site"].save()
    open_survey(client, invitation)
    body = client.get(reverse("survey")).content.decode()
    assert 'href="tel:+4511223344"' in body


def test_it_sends_the_thanks_page_back_to_an_unanswered_survey(client, invitation):
    open_survey(client, invitation)
    response = client.get(reverse("survey_thanks"))
    assert response.status_code == 302
    assert response.url == reverse("survey")


def test_it_asks_about_the_time_before_treatment_in_a_baseline_survey(client, appointment):
    baseline = Invitation.objects.filter(
        appointment=appointment, kind=Invitation.Kind.BASELINE
    ).first() or SentSurveyFactory(appointment=appointment, kind=Invitation.Kind.BASELINE)
    Invitation.objects.filter(pk=baseline.pk).update(
        status=Invitation.Status.SENT, instruments=["nrs", "disability"], expires_at=None
    )
    open_survey(client, baseline)
    body = client.get(reverse("survey")).content.decode()
    assert "Spørgsmål før din behandling" in body
    assert "før din behandling mandag den" in body
    assert "Faresignaler" not in body


def test_it_refuses_a_survey_link_to_an_appointment_reminder(client, appointment):
    reminder = Invitation.objects.get(
        appointment=appointment, kind=Invitation.Kind.APPOINTMENT_REMINDER
    )
    response = client.get(link(reminder))
    assert response.status_code == 400
    assert SESSION_KEY not in client.session


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


def test_it_writes_the_answer_buttons_as_the_template_loop_did(db):
    """{% answer_choices %} (followup.templatetags.survey_tags) writes what the loop it
    replaced wrote, byte for byte: every instrument, answers chosen and not, in Danish and
    English, with text to escape."""
    from django.template import engines
    from django.utils import translation

    from followup.forms import SurveyForm

    loop = engines["django"].from_string(
        "{% for choice in field %}\n"
        '        <input type="radio" class="btn-check" name="{{ field.html_name }}" '
        'id="{{ choice.id_for_label }}" value="{{ choice.data.value }}"'
        "{% if choice.data.selected %} checked{% endif %} "
        'autocomplete="off">\n'
        '        <label class="btn btn-outline-primary" for="{{ choice.id_for_label }}">'
        "{{ choice.choice_label }}</label>\n        {% endfor %}"
    )
    tag = engines["django"].from_string("{% load survey_tags %}{% answer_choices field %}")
    instruments = ["nrs", "diary", "relief", "pgic", "odi", "ndi", "red_flags"]
    written = []
    for language in ("da", "en"):
        with translation.override(language):
            for data in ({}, {"nrs_current": "3", "pgic": "2", "relief": "50"}):
                form = SurveyForm(data or None, instruments=instruments)
                fields = [field for field in form if hasattr(field.field, "choices")]
                assert len(fields) > 10
                for field in fields:
                    field.field.choices = [*field.field.choices, ("<x>", 'A & "B" <i>')]
                    ours = tag.render({"field": field})
                    assert ours == loop.render({"field": field}), field.name
                    assert "&lt;i&gt;" in ours
                    written.append(ours)
    assert any(" checked " in ours for ours in written)  # a chosen answer


QUESTIONS_LOOP = (
    "{% load i18n survey_tags %}{% for part in form.bound_sections %}"
    "{% for field in part.fields %}\n"
    '    <fieldset class="question mb-4" id="q-{{ field.html_name }}"'
    '{% if field.help_text or field.errors %} aria-describedby="'
    "{% if field.help_text %}hint-{{ field.html_name }}{% endif %}"
    '{% if field.errors %} error-{{ field.html_name }}{% endif %}"{% endif %}>\n'
    '      <legend class="mb-2">{{ field.label }}'
    "{% if not field.field.required and not field.field.in_score %}"
    ' <span class="fw-normal">({% translate "optional" %})</span>{% endif %}</legend>\n'
    '      {% if field.help_text %}<p class="form-text mt-0" id="hint-{{ field.html_name }}">'
    "{{ field.help_text }}</p>{% endif %}\n"
    '      {% if field.errors %}<p class="question-error" id="error-{{ field.html_name }}">'
    '{% translate "Error:" %} {{ field.errors|join:" " }}</p>{% endif %}\n'
    '      <div class="answer-{{ field.field.layout }}">\n'
    "        {% answer_choices field %}\n"
    "      </div>\n"
    "    </fieldset>\n"
    "    {% endfor %}{% endfor %}"
)


def test_it_writes_the_questions_as_the_template_loop_did(db):
    """{% survey_questions %} writes each part's questions as the loop it replaced did, byte
    for byte: unanswered, answered, with errors and hints, optional or not, in both languages."""
    from django.template import engines
    from django.utils import translation

    from followup.forms import SurveyForm

    loop = engines["django"].from_string(QUESTIONS_LOOP)
    tag = engines["django"].from_string(
        "{% load survey_tags %}{% for part in form.bound_sections %}"
        "{% survey_questions part.fields %}{% endfor %}"
    )
    instruments = ["nrs", "diary", "relief", "pgic", "odi", "ndi", "red_flags"]
    seen = set()
    for language in ("da", "en"):
        with translation.override(language):
            for data in (None, {"nrs_current": "3", "pgic": "9"}):
                form = SurveyForm(data, instruments=instruments)
                form.is_valid()
                ours = tag.render({"form": form})
                assert ours == loop.render({"form": form}), (language, data)
                seen.update(
                    marker
                    for marker in ("aria-describedby", "question-error", "form-text", "fw-normal")
                    if marker in ours
                )
    assert seen == {"aria-describedby", "question-error", "form-text", "fw-normal"}
