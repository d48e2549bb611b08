"""The pathway rules from worked histories (scheduling.pathway; seeded rules, migration
scheduling 0005). Karen Jensen is the patient; the front desk books."""

import datetime

import pytest
from django.utils import timezone

from clinic.models import ConservativeCare, Diagnosis, Indication
from followup.models import Invitation
from followup.services import response_record
from scheduling.models import PathwayRule
from scheduling.pathway import pathway_warnings
from tests.factories import (
    AppointmentFactory,
    InvitationFactory,
    ResponseFactory,
    SentSurveyFactory,
    seeded,
)

pytestmark = [pytest.mark.django_db, pytest.mark.pathway_rules]

# Far enough ahead that every day of a worked history is in the future or the past alike.
DAY0 = timezone.now().replace(hour=9, minute=0, second=0, microsecond=0) + datetime.timedelta(
    days=30
)


def day(n: int) -> datetime.datetime:
    return DAY0 + datetime.timedelta(days=n)


def session(patient, n, code="esi-interlaminar", levels="L4-L5", laterality="na", **kw):
    return AppointmentFactory(
        patient=patient, code=code, starts_at=day(n), levels=levels, laterality=laterality, **kw
    )


def relief(appointment, percent, after_days, field="patient_rated_relief"):
    values = {"patient_rated_relief": None, "percent_relief": None, field: percent}
    return ResponseFactory(
        invitation=SentSurveyFactory(appointment=appointment),
        submitted_at=appointment.starts_at + datetime.timedelta(days=after_days),
        **values,
    )


def codes(patient, n, code="esi-interlaminar", levels="L4-L5", laterality="na", **kw):
    return {
        w.code
        for w in pathway_warnings(
            patient=patient,
            procedure_type=seeded(code),
            starts_at=day(n),
            levels=levels,
            laterality=laterality,
            **kw,
        )
    }


def warnings_of(patient, n, code, **kw):
    return {
        w.code: w
        for w in pathway_warnings(
            patient=patient, procedure_type=seeded(code), starts_at=day(n), **kw
        )
    }


@pytest.fixture
def referred(patient):
    """Karen's referral: low back pain with sciatica for ten weeks, physiotherapy tried, and
    a baseline answered: the ESI rules about the road to the procedure are met."""
    indication = Indication.objects.create(
        patient=patient,
        referrer="Dr Lund, general practice",
        diagnosis=Diagnosis.objects.get(code="M54.4"),
        symptoms_since=(DAY0 - datetime.timedelta(days=70)).date(),
    )
    ConservativeCare.objects.create(
        indication=indication,
        kind=ConservativeCare.Kind.PHYSIOTHERAPY,
        started=(DAY0 - datetime.timedelta(days=60)).date(),
    )
    baseline = AppointmentFactory(patient=patient, code="nerve-root-block", starts_at=day(-40))
    relief(baseline, 0, 1)  # its NRS and ODI are the baseline pain and function
    return patient


ROAD = {"esi-baseline", "esi-conservative-care"}


def test_it_warns_about_the_fifth_of_six_esis_three_weeks_apart(referred):
    """The issue's example: six L4-L5 interlaminar ESIs three weeks apart, no relief asked."""
    seen = []
    for n in range(6):
        seen.append(codes(referred, 21 * n) - ROAD)
        session(referred, 21 * n)
    assert seen[0] == set()
    assert seen[1:4] == [{"esi-repeat-relief"}] * 3
    assert seen[4] == seen[5] == {"esi-repeat-relief", "esi-max-sessions"}


def test_it_names_the_sessions_and_the_missing_relief_as_evidence(referred):
    for n in range(4):
        session(referred, 21 * n)
    found = warnings_of(referred, 84, "esi-interlaminar", levels="L4-L5")
    limit = found["esi-max-sessions"]
    assert "session 5 of at most 4 in the lumbar region" in limit.reason
    assert [e.date for e in limit.evidence] == [day(21 * n).date().isoformat() for n in range(4)]
    assert "CMS LCD L39240" in limit.source and "verify locally" in limit.verify_note
    repeat = found["esi-repeat-relief"]
    assert f"last session on {day(63).date().isoformat()}; no relief reported" in repeat.reason


def test_it_warns_about_three_rfas_five_weeks_apart_with_no_medial_branch_block(referred):
    seen = []
    for n in range(3):
        found = warnings_of(referred, 35 * n, "rfa", levels="L4-L5", laterality="right")
        seen.append(set(found))
        session(referred, 35 * n, "rfa", laterality="right")
    assert seen == [
        {"facet-diagnostic-blocks"},
        {"facet-diagnostic-blocks", "rfa-repeat-relief"},
        {"facet-diagnostic-blocks", "rfa-repeat-relief", "rfa-max-sessions"},
    ]
    assert found["facet-diagnostic-blocks"].evidence[0].text == (
        "No diagnostic block on record in this region."
    )
    assert "session 3 of at most 2" in found["rfa-max-sessions"].reason


def test_it_gives_no_warning_for_esis_with_relief_after_each(referred):
    for n in range(4):
        relief(session(referred, 90 * n), 60, 14)
    assert codes(referred, 366) == set()


def test_it_counts_esi_sessions_over_365_days_not_366(referred):
    for n in (0, 100, 200, 300):
        relief(session(referred, n), 60, 14)
    assert codes(referred, 365) == {"esi-max-sessions"}
    assert codes(referred, 366) == set()


def test_it_asks_relief_of_an_esi_365_days_back_but_not_366(referred):
    session(referred, 0)
    assert codes(referred, 365) - ROAD == {"esi-repeat-relief"}
    assert codes(referred, 366) - ROAD == set()


def test_it_wants_fifty_percent_relief_before_a_repeat_esi(referred):
    relief(session(referred, 0), 40, 14)
    found = warnings_of(referred, 28, "esi-interlaminar", levels="L4-L5")
    assert "best reported 40%" in found["esi-repeat-relief"].reason
    relief(session(referred, 28), 50, 14, field="percent_relief")
    assert codes(referred, 56) == set()


def test_it_wants_rfa_relief_lasting_six_months(referred):
    for n in (-60, -50):
        relief(session(referred, n, "medial-branch-block", laterality="right"), 85, 0)
    first = session(referred, 0, "rfa", laterality="right")
    relief(first, 70, 100)
    assert codes(referred, 200, "rfa", laterality="right") == {"rfa-repeat-relief"}
    relief(first, 60, 182)
    assert codes(referred, 200, "rfa", laterality="right") == set()


def test_it_counts_rfa_sessions_over_365_days_not_366(referred):
    for n in (-60, -50):
        relief(session(referred, n, "medial-branch-block", laterality="right"), 85, 0)
    for n in (0, 200):
        relief(session(referred, n, "rfa", laterality="right"), 60, 190)
    assert codes(referred, 365, "rfa", laterality="right") == {"rfa-max-sessions"}
    assert codes(referred, 366, "rfa", laterality="right") == set()


def test_it_wants_two_positive_blocks_on_the_same_side_before_rfa(referred):
    relief(session(referred, -60, "medial-branch-block", laterality="right"), 85, 0)
    relief(session(referred, -50, "medial-branch-block", laterality="left"), 90, 0)
    relief(session(referred, -44, "medial-branch-block", laterality="right"), 70, 0)
    found = warnings_of(referred, 0, "rfa", levels="L4-L5", laterality="right")
    assert "1 on record" in found["facet-diagnostic-blocks"].reason
    assert [e.text.split(": ")[-1] for e in found["facet-diagnostic-blocks"].evidence] == [
        "peak relief 85%",
        "peak relief 70%",
    ]
    relief(session(referred, -30, "medial-branch-block", laterality="right"), 80, 0)
    assert codes(referred, 0, "rfa", laterality="right") == set()


def test_it_allows_two_levels_per_rfa_not_three(referred):
    for n in (-60, -50):
        relief(session(referred, n, "medial-branch-block", laterality="right"), 85, 0)
    assert codes(referred, 0, "rfa", levels="L3-L4, L4-L5", laterality="right") == set()
    assert codes(referred, 0, "rfa", levels="L3-L4, L4-L5, L5-S1", laterality="right") == {
        "rfa-max-levels"
    }


def test_it_wants_a_baseline_within_90_days_before_an_esi(patient, referred):
    # The referral's baseline was answered on day -39.
    assert "esi-baseline" not in codes(referred, 51)
    assert "esi-baseline" in codes(referred, 52)


def test_it_wants_four_weeks_of_symptoms_with_conservative_care(referred):
    indication = referred.indications.get()
    indication.symptoms_since = DAY0.date()
    indication.save()
    assert "esi-conservative-care" not in codes(referred, 28)
    found = warnings_of(referred, 27, "esi-interlaminar")
    assert "symptoms for 27 days by then, fewer than 28" in found["esi-conservative-care"].reason
    indication.conservative_care.all().delete()
    found = warnings_of(referred, 28, "esi-interlaminar")
    assert "no conservative care recorded" in found["esi-conservative-care"].reason


def test_it_warns_when_no_indication_is_on_record(patient):
    assert "esi-conservative-care" in codes(patient, 0)


def test_it_applies_a_rule_a_manager_changed(referred):
    for n in range(4):
        relief(session(referred, 21 * n), 60, 14)
    assert codes(referred, 84) == {"esi-max-sessions"}
    PathwayRule.objects.filter(code="esi-max-sessions").update(limit=5)
    assert codes(referred, 84) == set()
    PathwayRule.objects.filter(code="esi-max-sessions").update(limit=4, active=False)
    assert codes(referred, 84) == set()


def test_it_ignores_cancelled_sessions(referred):
    for n in range(4):
        relief(session(referred, 21 * n, status="cancelled"), 60, 14)
    assert codes(referred, 84) == set()


def _diary_block(patient, n, baseline_nrs, diary):
    """A right L4-L5 medial branch block with its baseline and same-day pain diary answered
    (followup.blocks reads the peak within the anaesthetic's duration)."""
    block = session(patient, n, "medial-branch-block", laterality="right")
    response_record(
        invitation=InvitationFactory(
            appointment=block, kind=Invitation.Kind.BASELINE, instruments=["nrs"]
        ),
        answers={"nrs_current": baseline_nrs, "nrs_average": 6, "nrs_worst": 9},
    )
    response_record(
        invitation=InvitationFactory(appointment=block, instruments=["diary"]),
        answers={"diary": diary},
    )
    return block


def test_it_reads_block_diaries_by_the_block_protocol(referred):
    # Pain 8 before: 60 min at 1 is 87.5% (positive); the second block is 100% only at 8 h,
    # after bupivacaine has worn off (6 h): its peak within the window is 50%.
    _diary_block(referred, -60, 8, {"30": 2, "60": 1})
    _diary_block(referred, -50, 8, {"60": 4, "480": 0})
    found = warnings_of(referred, 0, "rfa", levels="L4-L5", laterality="right")
    assert [e.text.split(": ")[-1] for e in found["facet-diagnostic-blocks"].evidence] == [
        "peak relief 88%",
        "peak relief 50%",
    ]
    _diary_block(referred, -39, 10, {"120": 2})
    assert codes(referred, 0, "rfa", laterality="right") == set()


def test_it_places_a_session_by_the_levels_its_signed_note_treated(referred, physician):
    from clinic.nursing.models import ProcedureNote

    for n in range(4):
        relief(session(referred, 21 * n), 60, 14)
    assert codes(referred, 84) == {"esi-max-sessions"}
    # The first was booked at L4-L5 but the signed note says C6-C7: not a lumbar session.
    first = referred.appointments.filter(starts_at=day(0)).get()
    ProcedureNote.objects.create(
        appointment=first,
        levels="C6-C7",
        written_by=physician,
        signed_by=physician,
        signed_at=timezone.now(),
    )
    assert codes(referred, 84) == set()
