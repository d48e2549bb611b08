"""Issue 13, item 3: a diagnostic block counts. Its pain diary's peak relief within the local
anaesthetic's expected duration, against the pain before the block, is positive at >=80%
(protocol data). Worked by hand from shared/reference/clinical.md ("Diagnostic block")."""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError
from django.utils import timezone

from followup.blocks import (
    INCOMPLETE,
    NEGATIVE,
    POSITIVE,
    block_result,
    peak_relief_by_appointment,
)
from followup.models import DiagnosticBlockProtocol, Invitation
from followup.services import response_record
from tests.factories import AppointmentFactory, InvitationFactory, seeded

SIX_HOURS = 360
TWO_HOURS = 120


def test_it_seeds_the_block_protocols_as_clinic_data(db):
    mbb = DiagnosticBlockProtocol.objects.get(procedure_type__code="medial-branch-block")
    assert (mbb.expected_duration_hours, mbb.positive_threshold) == (Decimal("6.0"), 80)
    assert mbb.window_minutes == 360
    assert "bupivacaine" in mbb.local_anaesthetic.lower() and mbb.source
    assert DiagnosticBlockProtocol.objects.filter(procedure_type__code="nerve-root-block").exists()
    assert not DiagnosticBlockProtocol.objects.filter(procedure_type__code="rfa").exists()


def test_it_refuses_a_protocol_without_a_duration_or_with_a_threshold_over_100(db):
    mbb = DiagnosticBlockProtocol.objects.get(procedure_type__code="medial-branch-block")
    mbb.positive_threshold = 101
    with pytest.raises(IntegrityError):
        mbb.save()


def test_it_reads_a_positive_block_from_the_best_time_within_the_window():
    # Pain before 8. 30 min: 2 -> 75%; 60 min: 1 -> 87.5%; 240 min: 3 -> 62.5%.
    result = block_result(
        baseline_nrs=8,
        diary={"30": 2, "60": 1, "120": None, "240": 3, "360": None, "480": 5},
        window_minutes=SIX_HOURS,
        threshold=80,
    )
    assert (result.result, result.peak_relief) == (POSITIVE, Decimal("87.5"))
    assert result.is_positive
    assert [(p.minutes, p.counted) for p in result.points] == [
        (30, True),
        (60, True),
        (240, True),
        (480, False),
    ]
    assert result.summary() == "Positive block: peak relief 88% (≥80% within 6 h)"


def test_it_ignores_relief_after_the_anaesthetic_has_worn_off():
    # Pain before 5. 30 min: 2 -> 60%; 120 min: 2 -> 60%; 480 min: 0 -> 100%, but a
    # bupivacaine block (6 h) no longer acts at 8 h: the peak is 60%, negative.
    diary = {"30": 2, "120": 2, "480": 0}
    result = block_result(baseline_nrs=5, diary=diary, window_minutes=SIX_HOURS, threshold=80)
    assert (result.result, result.peak_relief) == (NEGATIVE, Decimal(60))
    # A lidocaine block (2 h) reads the same diary by its own window: 30 and 120 minutes.
    short = block_result(baseline_nrs=5, diary=diary, window_minutes=TWO_HOURS, threshold=80)
    assert [p.minutes for p in short.points if p.counted] == [30, 120]


def test_it_counts_exactly_the_threshold_as_positive():
    # Pain before 5, then 1: (5 - 1) / 5 = 80% exactly.
    at = block_result(baseline_nrs=5, diary={"60": 1}, window_minutes=SIX_HOURS, threshold=80)
    assert (at.result, at.peak_relief) == (POSITIVE, Decimal(80))
    # Pain before 10, then 3: 70%, under 80% but over a clinic's 70% threshold.
    below = block_result(baseline_nrs=10, diary={"60": 3}, window_minutes=SIX_HOURS, threshold=80)
    assert below.result == NEGATIVE
    lower = block_result(baseline_nrs=10, diary={"60": 3}, window_minutes=SIX_HOURS, threshold=70)
    assert lower.result == POSITIVE


def test_it_calls_a_block_incomplete_when_it_cannot_be_read():
    cases = [
        (None, {"60": 1}, "no pain score before the block"),
        (0, {"60": 0}, "no pain before the block"),
        (7, None, "no diary answered"),
        (7, {"480": 0}, "no diary time answered within the window"),
        (7, {"30": None, "60": None}, "no diary time answered within the window"),
    ]
    for baseline, diary, reason in cases:
        result = block_result(
            baseline_nrs=baseline, diary=diary, window_minutes=SIX_HOURS, threshold=80
        )
        assert (result.result, result.peak_relief, result.reason) == (INCOMPLETE, None, reason)
    assert (
        "Incomplete diary: no diary answered"
        in block_result(
            baseline_nrs=7, diary=None, window_minutes=SIX_HOURS, threshold=80
        ).summary()
    )


def test_it_says_a_worse_block_is_negative():
    # Pain before 4, then 6: -50%.
    result = block_result(baseline_nrs=4, diary={"30": 6}, window_minutes=SIX_HOURS, threshold=80)
    assert (result.result, result.peak_relief) == (NEGATIVE, Decimal(-50))


def _block(calendar, patient, days_ago, baseline_nrs, diary):
    appointment = AppointmentFactory(
        calendar=calendar,
        patient=patient,
        code="medial-branch-block",
        starts_at=timezone.now() - datetime.timedelta(days=days_ago),
    )
    if baseline_nrs is not None:
        response_record(
            invitation=InvitationFactory(
                appointment=appointment, kind=Invitation.Kind.BASELINE, instruments=["nrs"]
            ),
            answers={"nrs_current": baseline_nrs, "nrs_average": 6, "nrs_worst": 9},
        )
    if diary is not None:
        response_record(
            invitation=InvitationFactory(appointment=appointment, instruments=["diary"]),
            answers={"diary": diary},
        )
    return appointment


def test_it_reads_the_blocks_of_many_appointments_from_their_surveys(
    calendar, patient, django_assert_num_queries
):
    positive = _block(calendar, patient, 40, 8, {"30": 2, "60": 1, "480": 5})
    negative = _block(calendar, patient, 30, 5, {"30": 2, "120": 2, "480": 0})
    unanswered = _block(calendar, patient, 20, 7, None)
    treated = AppointmentFactory(calendar=calendar, patient=patient, code="rfa")
    ids = [positive.pk, negative.pk, unanswered.pk, treated.pk]
    with django_assert_num_queries(2):
        results = peak_relief_by_appointment(ids)
    assert set(results) == {positive.pk, negative.pk, unanswered.pk}
    assert (results[positive.pk].result, results[positive.pk].peak_relief) == (
        POSITIVE,
        Decimal("87.5"),
    )
    assert results[negative.pk].result == NEGATIVE
    assert results[unanswered.pk].result == INCOMPLETE
    assert peak_relief_by_appointment([]) == {}


def test_it_reads_many_blocks_in_the_same_number_of_queries(
    calendar, patient, django_assert_num_queries
):
    ids = [_block(calendar, patient, 50 + n, 6, {"60": n % 4}).pk for n in range(8)]
    with django_assert_num_queries(2):
        results = peak_relief_by_appointment(ids)
    assert len(results) == 8


def test_it_reads_the_block_by_the_protocol_a_manager_changed(calendar, patient):
    appointment = _block(calendar, patient, 10, 10, {"60": 3})
    assert peak_relief_by_appointment([appointment.pk])[appointment.pk].result == NEGATIVE
    DiagnosticBlockProtocol.objects.filter(procedure_type=seeded("medial-branch-block")).update(
        positive_threshold=70
    )
    assert peak_relief_by_appointment([appointment.pk])[appointment.pk].result == POSITIVE


def test_it_shows_the_block_result_on_the_appointment_to_clinicians_only(
    client, calendar, patient, physician, front_desk
):
    block = _block(calendar, patient, 40, 8, {"30": 2, "60": 1, "480": 5})
    client.force_login(physician)
    content = client.get(block.get_absolute_url()).content.decode()
    assert 'id="diagnostic-block"' in content
    assert "Positive block" in content and "88%" in content
    assert "No (after 6 h)" in content
    client.force_login(front_desk)
    content = client.get(block.get_absolute_url()).content.decode()
    assert 'id="diagnostic-block"' not in content


def test_it_shows_no_block_card_for_a_treatment(client, calendar, patient, physician):
    treated = AppointmentFactory(calendar=calendar, patient=patient, code="rfa")
    client.force_login(physician)
    assert 'id="diagnostic-block"' not in client.get(treated.get_absolute_url()).content.decode()
