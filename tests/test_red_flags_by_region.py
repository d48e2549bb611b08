"""Red-flag screens by the treated region: cervical, thoracic, lumbar/sacral, in English and
Danish, edited by managers as protocol data, and raising alerts that name the question."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.fhir.resources import questionnaire_resource
from followup.models import Alert, RedFlagQuestion, Response
from followup.red_flags import level_regions, red_flag_questions
from followup.services import response_record
from tests.factories import (
    AppointmentFactory,
    ProcedureTypeFactory,
    ResponseFactory,
    SentSurveyFactory,
    link,
)

ARM = "New weakness, numbness or clumsiness in an arm or a hand"
NECK_FEVER = "A stiff neck together with fever"
BREATHING = "Difficulty breathing or swallowing"
SADDLE = "Numbness in the saddle area"
BLADDER = "New problems controlling your bladder or bowel"
LEG = "New weakness or numbness in a leg or a foot"
CHEST = "Shortness of breath or chest pain"


def survey_page(client, appointment, language):
    appointment.patient.preferred_language = language
    appointment.patient.save(update_fields=["preferred_language"])
    invitation = SentSurveyFactory(appointment=appointment, instruments=["red_flags"])
    assert client.get(link(invitation)).status_code == 302
    return invitation, client.get(reverse("survey")).content.decode()


@pytest.fixture
def at_level(calendar, patient):
    made = []

    def at_level(levels, **fields):
        # A day apart: one room cannot hold two appointments at once.
        made.append(levels)
        starts_at = timezone.now() + datetime.timedelta(days=7 + len(made))
        return AppointmentFactory(
            calendar=calendar, patient=patient, levels=levels, starts_at=starts_at, **fields
        )

    return at_level


def test_it_maps_levels_to_regions():
    assert level_regions("C5-C6") == ["cervical"]
    assert level_regions("T7-T8") == ["thoracic"]
    assert level_regions("L4-L5, L5-S1") == ["lumbar_sacral"]
    assert level_regions("S1") == ["lumbar_sacral"]
    assert level_regions("Co1") == ["lumbar_sacral"]
    assert level_regions("C7-T1") == ["cervical", "thoracic"]
    assert level_regions("") == []


def test_it_asks_a_cervical_level_the_cervical_questions_in_english(client, at_level):
    _invitation, body = survey_page(client, at_level("C5-C6"), "en")
    for wording in (ARM, NECK_FEVER, BREATHING, "slurred speech", "Fever of 38"):
        assert wording in body
    for lumbar in (SADDLE, BLADDER, LEG):
        assert lumbar not in body


def test_it_asks_a_cervical_level_the_cervical_questions_in_danish(client, at_level):
    _invitation, body = survey_page(client, at_level("C5-C6"), "da")
    for wording in (
        "Ny svaghed, følelsesløshed eller klodsethed i en arm eller en hånd",
        "Stiv nakke sammen med feber",
        "Besvær med at trække vejret eller synke",
        "Feber på 38 °C eller mere",
    ):
        assert wording in body
    assert "ridebukseområdet" not in body
    assert ARM not in body


def test_it_asks_a_lumbar_level_the_lumbar_questions(client, at_level):
    _invitation, body = survey_page(client, at_level("L4-L5, L5-S1"), "en")
    for wording in (LEG, SADDLE, BLADDER, "Severe back pain together with fever"):
        assert wording in body
    for other in (ARM, NECK_FEVER, BREATHING, CHEST):
        assert other not in body
    _invitation, body = survey_page(client, at_level("L5-S1"), "da")
    assert "ridebukseområdet" in body and "lade vandet" in body


def test_it_asks_a_thoracic_level_its_own_questions(client, at_level):
    _invitation, body = survey_page(client, at_level("T8"), "en")
    for wording in (CHEST, "tight band around your chest", "New weakness in your legs"):
        assert wording in body
    for other in (ARM, SADDLE, BLADDER):
        assert other not in body


def test_it_asks_both_regions_when_the_levels_span_them(at_level):
    codes = [question.code for question in red_flag_questions(at_level("C7-T1"))]
    assert {"arm_weakness", "breathless_chest_pain", "fever"} <= set(codes)
    assert len(codes) == len(set(codes))


def test_it_asks_every_region_when_nothing_says_which(at_level):
    appointment = at_level("", procedure_type=ProcedureTypeFactory(regions=[]))
    codes = {question.code for question in red_flag_questions(appointment)}
    assert {"arm_weakness", "breathless_chest_pain", "saddle_numbness", "fever"} <= codes


def test_it_goes_by_the_procedure_type_without_levels(at_level):
    neck = at_level("", procedure_type=ProcedureTypeFactory(regions=["cervical"]))
    assert "arm_weakness" in {question.code for question in red_flag_questions(neck)}
    knee = at_level("", procedure_type=ProcedureTypeFactory(regions=["peripheral"]))
    codes = {question.code for question in red_flag_questions(knee)}
    assert codes == set(
        RedFlagQuestion.objects.filter(region="any", active=True).values_list("code", flat=True)
    )


def test_it_shows_a_managers_edit_of_the_wording(client, manager, at_level):
    question = RedFlagQuestion.objects.get(region="cervical", code="breathing_swallowing")
    client.force_login(manager)
    change = reverse("admin:followup_redflagquestion_change", args=[question.pk])
    posted = client.post(
        change,
        {
            "region": "cervical",
            "code": "breathing_swallowing",
            "text_en": "Trouble breathing, or food or drink going down the wrong way",
            "text_da": "Besvær med at trække vejret, eller mad og drikke der går galt i halsen",
            "order": question.order,
            "active": "on",
        },
    )
    assert posted.status_code == 302, posted.content.decode()[:2000]
    client.logout()
    _invitation, body = survey_page(client, at_level("C5-C6"), "da")
    assert "mad og drikke der går galt i halsen" in body
    # A question the manager switches off is no longer asked.
    RedFlagQuestion.objects.filter(code="stroke_signs").update(active=False)
    _invitation, body = survey_page(client, at_level("C5-C6"), "en")
    assert "slurred speech" not in body


def test_it_raises_an_alert_naming_the_cervical_question(client, nurse, at_level):
    invitation, body = survey_page(client, at_level("C5-C6"), "da")
    codes = [question.code for question in red_flag_questions(invitation.appointment)]
    post = {f"red_flags__{code}": "no" for code in codes}
    post["red_flags__breathing_swallowing"] = "yes"
    response = client.post(reverse("survey"), post)
    assert response.status_code == 302, response.content.decode()[:3000]
    alert = Alert.objects.get(kind=Alert.Kind.RED_FLAG)
    assert alert.detail == BREATHING
    answered = Response.objects.get(invitation=invitation)
    assert answered.red_flags == ["breathing_swallowing"]
    # The patient reads back the sign they reported, and advice for their region.
    thanks = client.get(reverse("survey_thanks")).content.decode()
    assert "Besvær med at trække vejret eller synke" in thanks
    assert "tegnene er voldsomme eller hurtigt bliver værre" in thanks
    assert "krafttab i benene" not in thanks
    # The nurse reads the question asked, in English, on the response.
    client.force_login(nurse)
    page = client.get(reverse("response_detail", args=[answered.pk])).content.decode()
    assert BREATHING in page and ARM in page


def test_it_refuses_lumbar_answers_to_a_cervical_survey(at_level):
    from followup.services import SurveyInvalid

    invitation = SentSurveyFactory(appointment=at_level("C5-C6"), instruments=["red_flags"])
    with pytest.raises(SurveyInvalid) as refused:
        response_record(invitation=invitation, answers={"red_flags": {"saddle_numbness": True}})
    assert "red_flags" in refused.value.errors
    assert "red_flags.arm_weakness" in refused.value.errors


def test_it_still_shows_a_survey_answered_before_regions(client, nurse, at_level):
    """Answers stored with the old lumbar-only screen keep their questions on display."""
    old = ResponseFactory(
        invitation=SentSurveyFactory(appointment=at_level("C5-C6"), instruments=["red_flags"]),
        answers={"red_flags": {"sudden_severe_pain": True, "saddle_numbness": False}},
        red_flags=["sudden_severe_pain"],
    )
    client.force_login(nurse)
    page = client.get(reverse("response_detail", args=[old.pk])).content.decode()
    assert "Sudden, severe new pain" in page and "Numbness in the saddle area" in page
    listing = client.get(reverse("response_list")).content.decode()
    assert "Sudden, severe new pain" in listing


def test_it_lists_every_regions_questions_in_the_fhir_questionnaire(db):
    questionnaire = questionnaire_resource("red_flags").model_dump(mode="json")
    texts = {item["linkId"]: item["text"] for item in questionnaire["item"]}
    assert texts["breathing_swallowing"] == BREATHING
    assert texts["breathless_chest_pain"] == CHEST
    assert texts["saddle_numbness"].startswith(SADDLE)
    # Codes of answers stored before regions can still be exported.
    assert "sudden_severe_pain" in texts
    assert all(item["type"] == "boolean" for item in questionnaire["item"])
