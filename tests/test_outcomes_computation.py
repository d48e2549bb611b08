"""Outcome measures, worked by hand: relief per point, categories, responders, MCID,
durability with censoring, Kaplan-Meier step by step, Wilson intervals against published
values, the "fewer than 5" rule, and the nurse's baseline when no survey gave one."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from clinic.models import Diagnosis, Indication
from followup import outcomes
from followup.models import Invitation, OutcomeEpisode
from followup.outcomes import (
    Baseline,
    FollowUp,
    Rate,
    choose_baseline,
    episode_measures,
    kaplan_meier,
    km_median,
    km_survival_at,
    point_for,
    wilson_interval,
)
from followup.services import response_record
from followup.services_outcomes import outcome_episode_refresh, outcome_episodes_rebuild
from scheduling.models import Appointment
from tests.factories import InvitationFactory, to_recovery

SURVEY_BASELINE = Baseline(source="survey", nrs_current=7, nrs_average=8, odi_percent=Decimal(40))


def test_it_puts_each_survey_at_its_care_plan_point():
    assert [point_for(days) for days in (0, 1, 14, 30, 42, 91, 182, 365)] == [
        "d1",
        "d1",
        "w2",
        "m1",
        "w6",
        "m3",
        "m6",
        "m12",
    ]
    # Nearest on a log scale: 8 days is nearer 2 weeks (x1.75) than day 1 (x8).
    assert point_for(8) == "w2"


def test_it_works_out_an_episode_by_hand():
    """Average pain 8 before; 4 at 2 weeks (50%), 5 at 6 weeks (37.5%), 2 at 3 months (75%)."""
    measures = episode_measures(
        SURVEY_BASELINE,
        [
            FollowUp(days=91, nrs_current=2, nrs_average=2, pgic=1, odi_percent=Decimal(28)),
            FollowUp(days=14, nrs_current=3, nrs_average=4, pgic=2, odi_percent=Decimal(36)),
            FollowUp(days=42, nrs_current=4, nrs_average=5, pgic=3),
        ],
        "odi",
    )
    assert measures.baseline_source == "survey"
    assert measures.baseline_nrs == 8
    assert measures.relief["w2"] == Decimal(50)
    assert measures.relief["w6"] == Decimal("37.5")
    assert measures.relief["m3"] == Decimal(75)
    assert measures.relief["m6"] is None
    assert (measures.responder30["w6"], measures.responder50["w6"]) == (True, False)
    assert (measures.responder30["w2"], measures.responder50["w2"]) == (True, True)
    assert measures.responder50["m6"] is None
    # The episode's category and flags are its last answer's: 75% at 3 months.
    assert measures.last_point == "m3"
    assert measures.immpact_category == "substantial"
    assert (measures.responder_30, measures.responder_50) == (True, True)
    # Relief first fell below 50% at 6 weeks: an event on day 42, whatever came later.
    assert (measures.durable_days, measures.durable_event) == (42, True)
    # ODI 40 -> 28: 12 points better, past the 10-point MCID.
    assert measures.disability_change == Decimal(12)
    assert measures.disability_mcid is True
    assert (measures.pgic_last, measures.pgic_improved) == (1, True)


def test_it_censors_durability_at_the_last_answer():
    measures = episode_measures(
        SURVEY_BASELINE,
        [FollowUp(days=14, nrs_average=3), FollowUp(days=91, nrs_average=4)],
        "odi",
    )
    # 62.5% then 50%: never below 50%, followed until day 91.
    assert (measures.durable_days, measures.durable_event) == (91, False)


def test_it_counts_a_first_answer_below_half_as_an_early_event():
    measures = episode_measures(SURVEY_BASELINE, [FollowUp(days=14, nrs_average=6)], "odi")
    assert measures.relief["w2"] == Decimal(25)
    assert measures.immpact_category == "minimally important"
    assert (measures.responder_30, measures.responder_50) == (False, False)
    assert (measures.durable_days, measures.durable_event) == (14, True)


def test_it_has_no_relief_without_a_baseline():
    measures = episode_measures(None, [FollowUp(days=14, nrs_average=3, pgic=4)], "odi")
    assert measures.has_followup is True
    assert measures.baseline_source == ""
    assert measures.relief["w2"] is None
    assert measures.durable_days is None and measures.durable_event is None
    assert measures.pgic_improved is False


@pytest.mark.parametrize(
    ("after", "category"),
    [
        (9, "worse"),  # 8 -> 9: -12.5%
        (8, "no meaningful change"),
        (7, "minimally important"),  # 12.5%
        (6, "minimally important"),  # 25%
        (5, "moderately important"),  # 37.5%
        (4, "substantial"),  # 50%
    ],
)
def test_it_gives_the_immpact_category(after, category):
    measures = episode_measures(SURVEY_BASELINE, [FollowUp(days=14, nrs_average=after)], "odi")
    assert measures.immpact_category == category


@pytest.mark.parametrize(
    ("before", "after", "reached"),
    [
        (Decimal(40), Decimal(30), True),  # 10 points
        (Decimal(40), Decimal(31), False),  # 9 points, 22.5%
        (Decimal(20), Decimal(14), True),  # 6 points is 30% of 20
    ],
)
def test_it_judges_the_odi_change_against_its_mcid(before, after, reached):
    measures = episode_measures(
        Baseline("survey", nrs_average=8, odi_percent=before),
        [FollowUp(days=42, nrs_average=4, odi_percent=after)],
        "odi",
    )
    assert measures.disability_change == before - after
    assert measures.disability_mcid is reached


@pytest.mark.parametrize(
    ("after_percent", "change", "reached"), [(26, "7", False), (25, "7.5", True)]
)
def test_it_judges_the_ndi_change_in_raw_points(after_percent, change, reached):
    # NDI 40% is 20 raw points; the MCID is 7.5 raw points.
    measures = episode_measures(
        Baseline("survey", nrs_average=8, ndi_percent=Decimal(40)),
        [FollowUp(days=42, nrs_average=4, ndi_percent=Decimal(after_percent))],
        "ndi",
    )
    assert measures.disability_instrument == "ndi"
    assert measures.disability_baseline == Decimal(20)
    assert measures.disability_change == Decimal(change)
    assert measures.disability_mcid is reached


def test_it_falls_back_to_the_nurses_pain_score_and_says_so():
    assert choose_baseline(SURVEY_BASELINE, 5) is SURVEY_BASELINE
    baseline = choose_baseline(None, 6)
    assert baseline.source == "nurse"
    # The nurse scores pain now: relief on pain now, 6 -> 3.
    measures = episode_measures(baseline, [FollowUp(days=14, nrs_current=3, nrs_average=5)], "odi")
    assert measures.baseline_source == "nurse"
    assert measures.baseline_nrs == 6
    assert measures.relief["w2"] == Decimal(50)
    # A baseline survey with no pain score (disability only) still gives the ODI.
    only_odi = Baseline("survey", odi_percent=Decimal(30))
    assert choose_baseline(only_odi, 6) == Baseline("nurse", nrs_current=6, odi_percent=Decimal(30))


def test_it_steps_kaplan_meier_by_hand():
    """Six episodes: fell below 50% on days 10, 30 and 40; censored on 20, 30 and 50.

    S(10) = 5/6; S(20) unchanged (a censoring); S(30) = 5/6 x 3/4 = 0.625 (four at risk:
    the one censored on day 30 still counts); S(40) = 0.625 x 1/2 = 0.3125; S(50) unchanged.
    """
    steps = kaplan_meier([(30, 1, 1), (10, 1, 0), (20, 0, 1), (40, 1, 0), (50, 0, 1)])
    assert [(s.days, s.at_risk, s.events, s.censored) for s in steps] == [
        (10, 6, 1, 0),
        (20, 5, 0, 1),
        (30, 4, 1, 1),
        (40, 2, 1, 0),
        (50, 1, 0, 1),
    ]
    assert [s.survival for s in steps] == pytest.approx([5 / 6, 5 / 6, 0.625, 0.3125, 0.3125])
    assert km_survival_at(steps, 35) == pytest.approx(0.625)
    assert km_survival_at(steps, 5) == 1.0
    assert km_survival_at(steps, 51) is None
    assert km_median(steps) == 40
    assert kaplan_meier([]) == []


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        # Newcombe RG. Stat Med 1998;17:857-72, Table I, method 3 (Wilson score).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
        (29, 29, 0.8830, 1.0000),
    ],
)
def test_it_matches_published_wilson_intervals(k, n, low, high):
    assert [round(x, 4) for x in wilson_interval(k, n)] == [low, high]


def test_it_shows_no_rate_for_fewer_than_five():
    assert Rate(3, 4).suppressed and Rate(3, 4).value is None and Rate(3, 4).interval is None
    assert Rate(3, 4).display() == "fewer than 5 answers (4)"
    assert Rate(0, 0).display() == "no answers"
    assert Rate(4, 5).value == 0.8
    assert Rate(4, 5).display() == "80% (95% CI 38–96%, 4 of 5)"
    with pytest.raises(ValueError):
        wilson_interval(1, 0)


# --- The stored rows ---------------------------------------------------------------------


def test_it_refreshes_the_row_when_a_survey_is_answered_with_the_nurses_baseline(
    appointment, nurse, physician, django_capture_on_commit_callbacks
):
    """Karen has no email consent for a baseline survey; the nurse scored her pain 6."""
    with django_capture_on_commit_callbacks(execute=True):
        to_recovery(appointment, nurse, physician)
    episode = OutcomeEpisode.objects.get(appointment=appointment)
    assert (episode.baseline_nrs, episode.baseline_source) == (6, "nurse")
    assert episode.has_followup is False
    survey = InvitationFactory(
        appointment=appointment,
        instruments=["nrs", "pgic"],
        due_at=appointment.starts_at + datetime.timedelta(days=14),
        expires_at=timezone.now() + datetime.timedelta(days=20),
    )
    with django_capture_on_commit_callbacks(execute=True):
        response_record(
            invitation=survey,
            answers={"nrs_current": 3, "nrs_average": 4, "nrs_worst": 5, "pgic": 2},
        )
    episode.refresh_from_db()
    assert episode.has_followup is True
    assert episode.baseline_source == "nurse"
    assert episode.relief_w2 == Decimal(50)  # pain now 6 -> 3
    assert (episode.responder30_w2, episode.responder50_w2) == (True, True)
    assert (episode.durable_days, episode.durable_event) == (14, False)
    assert episode.pgic_improved is True
    assert episode.region == "lumbar" and episode.laterality == "left"


def test_it_prefers_the_baseline_survey_and_rebuilds_idempotently(appointment, nurse, physician):
    to_recovery(appointment, nurse, physician)
    baseline = InvitationFactory(appointment=appointment, kind=Invitation.Kind.BASELINE)
    response_record(
        invitation=baseline,
        answers={"nrs_current": 8, "nrs_average": 8, "nrs_worst": 9, "pgic": 4},
    )
    first = outcome_episode_refresh(appointment_id=appointment.pk)
    second = outcome_episode_refresh(appointment_id=appointment.pk)
    assert OutcomeEpisode.objects.filter(appointment=appointment).count() == 1
    assert (second.baseline_nrs, second.baseline_source) == (8, "survey")
    assert first.pk == second.pk == appointment.pk


def test_it_keeps_no_row_for_an_appointment_not_treated(appointment):
    assert outcome_episode_refresh(appointment_id=appointment.pk) is None
    assert outcome_episodes_rebuild() == 0
    assert not OutcomeEpisode.objects.exists()


def test_it_names_every_point_in_the_model():
    names = {field.name for field in OutcomeEpisode._meta.get_fields()}
    for code in outcomes.POINT_CODES:
        assert {f"relief_{code}", f"responder30_{code}", f"responder50_{code}"} <= names


def test_it_takes_the_diagnosis_from_the_bookings_indication(appointment, nurse, physician):
    diagnosis = Diagnosis.objects.first()
    indication = Indication.objects.create(patient=appointment.patient, diagnosis=diagnosis)
    Appointment.objects.filter(pk=appointment.pk).update(indication=indication)
    to_recovery(appointment, nurse, physician)
    assert outcome_episode_refresh(appointment_id=appointment.pk).diagnosis == diagnosis


def test_it_gives_the_demo_clinics_treated_appointments_their_outcome_rows(
    appointment, nurse, physician
):
    from clinic.management.commands.seed_demo import MRN_PREFIX
    from followup.demo import seed_late

    to_recovery(appointment, nurse, physician)
    appointment.patient.mrn = f"{MRN_PREFIX}0001"
    appointment.patient.save()
    assert seed_late()["outcome rows"].updated == 1
    assert OutcomeEpisode.objects.get(appointment=appointment).baseline_source == "nurse"


def test_it_reports_the_levels_and_side_the_signed_note_says_were_treated(
    appointment, nurse, physician
):
    """Booked for the left L4-L5; the physician's signed note says right C5-C6."""
    from clinic.nursing import services as nursing_services

    to_recovery(appointment, nurse, physician)
    booked = outcome_episode_refresh(appointment_id=appointment.pk)
    assert (booked.levels, booked.laterality) == (appointment.levels, appointment.laterality)
    nursing_services.note_save(
        actor=physician,
        appointment=appointment,
        values={
            "levels": "C5-C6",
            "laterality": "right",
            "fluoroscopy_seconds": 30,
            "dap_mgy_cm2": "120",
            "contrast_agent": "",
        },
        sign=True,
    )
    treated = outcome_episode_refresh(appointment_id=appointment.pk)
    assert (treated.levels, treated.laterality, treated.region) == ("C5-C6", "right", "cervical")
