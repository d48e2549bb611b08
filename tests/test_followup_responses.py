"""Recording survey answers: validation, scoring against the baseline, one per invitation."""

import datetime
import io
from decimal import Decimal

import pytest
from django.utils import timezone

from followup.models import Invitation, Response
from followup.scoring import NDI_SECTIONS, ODI_SECTIONS
from followup.services import (
    SurveyAlreadyAnswered,
    SurveyClosed,
    SurveyInvalid,
    response_record,
)
from tests.factories import AppointmentFactory, InvitationFactory, red_flag_codes

K, S = Invitation.Kind, Invitation.Status
ODI_ALL_2 = {section: 2 for section, _title in ODI_SECTIONS}


def no_flags() -> dict:
    """No to every red-flag question of the lumbar L4-L5 appointment."""
    return dict.fromkeys(red_flag_codes(), False)


@pytest.fixture
def appointment(calendar, patient):
    return AppointmentFactory(
        calendar=calendar, patient=patient, starts_at=timezone.now() - datetime.timedelta(days=20)
    )


@pytest.fixture
def baseline(appointment):
    invitation = InvitationFactory(
        appointment=appointment, kind=K.BASELINE, instruments=["nrs", "odi"]
    )
    odi = {**ODI_ALL_2, "lifting": 4, "walking": 3}
    return response_record(
        invitation=invitation,
        answers={"nrs_current": 7, "nrs_average": 6, "nrs_worst": 9, "odi": odi},
    )


def survey(appointment, instruments=("nrs", "pgic", "relief", "disability", "red_flags")):
    return InvitationFactory(appointment=appointment, instruments=list(instruments))


def answers(**overrides):
    return {
        "nrs_current": 3,
        "nrs_average": 4,
        "nrs_worst": 6,
        "pgic": 2,
        "relief": 50,
        "odi": ODI_ALL_2,
        "red_flags": no_flags(),
        **overrides,
    }


def test_it_scores_a_follow_up_survey_against_the_baseline(appointment, baseline):
    invitation = survey(appointment)
    response = response_record(invitation=invitation, answers=answers())
    response.refresh_from_db()
    assert (response.nrs_current, response.nrs_average, response.nrs_worst) == (3, 4, 6)
    assert (response.pgic, response.patient_rated_relief) == (2, 50)
    # Relief on the average pain: (6 - 4) / 6, stored unrounded.
    assert response.percent_relief.quantize(Decimal("1e-12")) == Decimal("33.333333333333")
    assert response.odi_percent == Decimal(40)
    assert response.red_flags == [] and not response.alerts.exists()
    assert baseline.odi_percent == Decimal(46)  # (8 x 2 + 4 + 3) / 50
    invitation.refresh_from_db()
    assert invitation.status == S.ANSWERED and invitation.answered_at is not None
    assert invitation.next_reminder_at is None


def test_it_stores_unrounded_disability_scores(appointment):
    invitation = survey(appointment, ["odi"])
    odi = {**{section: 1 for section, _ in ODI_SECTIONS}, "sex_life": None, "lifting": 3}
    response = response_record(invitation=invitation, answers={"odi": odi})
    response.refresh_from_db()
    # 11 points of 9 answered sections: 11 / 45 x 100 = 24.444...
    assert str(response.odi_percent).startswith("24.4444444444")
    assert response.answers["odi"]["sex_life"] is None


def test_it_uses_the_neck_index_for_cervical_treatment(calendar, patient):
    appointment = AppointmentFactory(calendar=calendar, patient=patient, levels="C5-C6")
    invitation = survey(appointment, ["disability"])
    ndi = {section: 1 for section, _title in NDI_SECTIONS}
    response = response_record(invitation=invitation, answers={"ndi": ndi})
    assert response.ndi_percent == Decimal(20) and response.odi_percent is None
    with pytest.raises(SurveyInvalid) as refused:
        response_record(invitation=survey(appointment, ["disability"]), answers={"odi": ndi})
    assert set(refused.value.errors) == {"odi", "ndi"}


def test_it_gives_no_disability_score_with_too_many_sections_missing(appointment, settings):
    odi = {**ODI_ALL_2, "sex_life": None, "travelling": None}
    response = response_record(invitation=survey(appointment, ["odi"]), answers={"odi": odi})
    assert response.odi_percent is None
    settings.FOLLOWUP_ODI_MAX_MISSING = 2
    response = response_record(invitation=survey(appointment, ["odi"]), answers={"odi": odi})
    assert response.odi_percent == Decimal(40)


def test_it_names_every_bad_answer(appointment):
    invitation = survey(appointment)
    bad = answers(
        nrs_current=11,
        nrs_average=True,
        pgic=0,
        relief=101,
        odi={**ODI_ALL_2, "lifting": 6},
        red_flags={"fever": "maybe"},
        favourite_colour="blue",
    )
    del bad["nrs_worst"]
    with pytest.raises(SurveyInvalid) as refused:
        response_record(invitation=invitation, answers=bad)
    errors = refused.value.errors
    assert {
        "nrs_current",
        "nrs_average",
        "nrs_worst",
        "pgic",
        "relief",
        "odi.lifting",
        "red_flags.fever",
        "red_flags.bladder_bowel",
        "favourite_colour",
    } <= set(errors)
    assert errors["nrs_current"] == "Please choose a number from 0 to 10."
    assert not Response.objects.exists()
    invitation.refresh_from_db()
    assert invitation.status == S.SCHEDULED


def test_it_gives_its_messages_in_danish(appointment):
    from django.utils import translation

    with translation.override("da"), pytest.raises(SurveyInvalid) as refused:
        response_record(invitation=survey(appointment, ["nrs"]), answers={"nrs_current": 12})
    assert refused.value.errors["nrs_current"] == "Vælg et tal fra 0 til 10."


def test_it_accepts_numbers_written_as_digits(appointment):
    response = response_record(
        invitation=survey(appointment, ["nrs", "pgic"]),
        answers={"nrs_current": "3", "nrs_average": "4", "nrs_worst": " 5 ", "pgic": "4"},
    )
    assert (response.nrs_worst, response.pgic) == (5, 4)


def test_it_refuses_a_second_response(appointment):
    invitation = survey(appointment, ["pgic"])
    response_record(invitation=invitation, answers={"pgic": 3})
    with pytest.raises(SurveyAlreadyAnswered):
        response_record(invitation=invitation, answers={"pgic": 4})
    assert Response.objects.get(invitation=invitation).pgic == 3


def test_it_lets_the_database_refuse_a_second_response_in_a_race(appointment):
    invitation = survey(appointment, ["pgic"])
    # The other request's response is in, its status change not yet: the constraint wins.
    Response.objects.create(invitation=invitation, patient=invitation.patient, pgic=3)
    with pytest.raises(SurveyAlreadyAnswered):
        response_record(invitation=invitation, answers={"pgic": 4})


@pytest.mark.parametrize("status", [S.CANCELLED, S.EXPIRED])
def test_it_refuses_answers_to_a_closed_survey(appointment, status):
    invitation = InvitationFactory(appointment=appointment, instruments=["pgic"], status=status)
    with pytest.raises(SurveyClosed) as refused:
        response_record(invitation=invitation, answers={"pgic": 3})
    assert isinstance(refused.value, SurveyInvalid) and "__all__" in refused.value.errors


def test_it_refuses_answers_after_the_survey_closed(appointment):
    invitation = InvitationFactory(
        appointment=appointment,
        instruments=["pgic"],
        status=S.SENT,
        expires_at=timezone.now() - datetime.timedelta(minutes=1),
    )
    with pytest.raises(SurveyClosed):
        response_record(invitation=invitation, answers={"pgic": 3})


def test_it_has_no_survey_behind_an_appointment_reminder(appointment):
    invitation = InvitationFactory(
        appointment=appointment, kind=K.APPOINTMENT_REMINDER, instruments=[]
    )
    with pytest.raises(SurveyInvalid):
        response_record(invitation=invitation, answers={})


def test_it_scores_the_pain_diary_against_the_pain_before_the_block(appointment, baseline):
    invitation = survey(appointment, ["diary"])
    diary = {"30": 2, "60": 1, "120": None, "240": 3, "360": None, "480": 5}
    response = response_record(invitation=invitation, answers={"diary": diary})
    # Baseline pain now 7; best 1: (7 - 1) / 7.
    assert response.diary_peak_relief.quantize(Decimal("0.0001")) == Decimal("85.7143")
    assert response.answers["diary"]["120"] is None


def test_it_needs_one_diary_time_and_only_the_configured_ones(appointment, settings):
    with pytest.raises(SurveyInvalid) as refused:
        response_record(invitation=survey(appointment, ["diary"]), answers={"diary": {}})
    assert "diary" in refused.value.errors
    settings.FOLLOWUP_DIARY_OFFSETS_MINUTES = [15, 45]
    with pytest.raises(SurveyInvalid) as refused:
        response_record(invitation=survey(appointment, ["diary"]), answers={"diary": {"30": 2}})
    assert "diary" in refused.value.errors
    response = response_record(
        invitation=survey(appointment, ["diary"]), answers={"diary": {"45": 2}}
    )
    assert response.answers["diary"] == {"15": None, "45": 2}


def test_it_records_the_baseline_without_comparing_it(appointment, baseline):
    assert baseline.percent_relief is None and not baseline.alerts.exists()
    assert baseline.invitation.kind == K.BASELINE


def seed_demo_counts():
    from django.apps import apps

    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_app_config("followup").get_models()
    }


def test_it_seeds_demo_follow_up_with_plausible_trajectories(db, settings, enqueued):
    from django.core.management import call_command

    from followup.dispatch import dispatch_tick
    from followup.models import Alert

    settings.DEMO_LOGINS_ALLOWED = True
    call_command("seed_demo", "--patients", "40", stdout=io.StringIO())
    follow_ups = Response.objects.filter(invitation__kind=K.SURVEY, nrs_average__isnull=False)
    assert follow_ups.count() > 50
    reliefs = [r.percent_relief for r in follow_ups if r.percent_relief is not None]
    improved = sum(relief >= 30 for relief in reliefs)
    assert improved > len(reliefs) / 2  # most improve
    assert any(relief <= 0 for relief in reliefs)  # some do not
    assert Alert.objects.exists()
    assert Alert.objects.filter(acknowledged_at__isnull=False).exists()
    # Survey alerts of the past were emailed; a NEWS2 alert of today waits for its physician.
    survey_alerts = Alert.objects.exclude(kind__in=Alert.CLINICAL_KINDS)
    assert not survey_alerts.filter(oncall_emailed_at__isnull=True).exists()
    # Nothing from the past is left for the dispatcher to email.
    report = dispatch_tick()
    assert enqueued == [] and report["alerts"] == 0, report

    before = seed_demo_counts()
    call_command("seed_demo", "--patients", "40", stdout=io.StringIO())
    assert seed_demo_counts() == before
