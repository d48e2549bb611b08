from dataclasses import replace
from decimal import Decimal

import pytest

from clinic.nursing.news2 import (
    Consciousness,
    News2Result,
    Observations,
    Risk,
    news2,
    score_air_or_oxygen,
    score_consciousness,
    score_pulse,
    score_respiration,
    score_spo2_scale1,
    score_spo2_scale2,
    score_systolic_bp,
    score_temperature,
)

# A patient who scores 0 on every parameter; tests change one field at a time.
NORMAL = Observations(
    respiration_rate=16,
    spo2=97,
    on_oxygen=False,
    spo2_scale=1,
    systolic_bp=125,
    pulse=72,
    consciousness="A",
    temperature=Decimal("37.0"),
)


@pytest.mark.parametrize(
    ("rr", "expected"),
    [(0, 3), (8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3), (60, 3)],
)
def test_it_scores_respiration_rate_band_edges(rr, expected):
    assert score_respiration(rr) == expected


@pytest.mark.parametrize(
    ("spo2", "expected"),
    [(70, 3), (91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)],
)
def test_it_scores_spo2_scale1_band_edges(spo2, expected):
    assert score_spo2_scale1(spo2) == expected


@pytest.mark.parametrize(
    ("spo2", "expected"),
    [
        (70, 3),
        (83, 3),
        (84, 2),
        (85, 2),
        (86, 1),
        (87, 1),
        (88, 0),
        (92, 0),
        (93, 0),
        (97, 0),
        (100, 0),
    ],
)
def test_it_scores_spo2_scale2_on_air_band_edges(spo2, expected):
    assert score_spo2_scale2(spo2, on_oxygen=False) == expected


@pytest.mark.parametrize(
    ("spo2", "expected"),
    [
        (70, 3),
        (83, 3),
        (84, 2),
        (85, 2),
        (86, 1),
        (87, 1),
        (88, 0),
        (92, 0),
        (93, 1),
        (94, 1),
        (95, 2),
        (96, 2),
        (97, 3),
        (100, 3),
    ],
)
def test_it_scores_spo2_scale2_on_oxygen_band_edges(spo2, expected):
    assert score_spo2_scale2(spo2, on_oxygen=True) == expected


@pytest.mark.parametrize(("on_oxygen", "expected"), [(False, 0), (True, 2)])
def test_it_scores_air_or_oxygen(on_oxygen, expected):
    assert score_air_or_oxygen(on_oxygen) == expected


@pytest.mark.parametrize(
    ("sbp", "expected"),
    [
        (60, 3),
        (90, 3),
        (91, 2),
        (100, 2),
        (101, 1),
        (110, 1),
        (111, 0),
        (219, 0),
        (220, 3),
        (250, 3),
    ],
)
def test_it_scores_systolic_bp_band_edges(sbp, expected):
    assert score_systolic_bp(sbp) == expected


@pytest.mark.parametrize(
    ("pulse", "expected"),
    [
        (30, 3),
        (40, 3),
        (41, 1),
        (50, 1),
        (51, 0),
        (90, 0),
        (91, 1),
        (110, 1),
        (111, 2),
        (130, 2),
        (131, 3),
        (180, 3),
    ],
)
def test_it_scores_pulse_band_edges(pulse, expected):
    assert score_pulse(pulse) == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("A", 0),
        ("C", 3),
        ("V", 3),
        ("P", 3),
        ("U", 3),
        (Consciousness.ALERT, 0),
        (Consciousness.NEW_CONFUSION, 3),
    ],
)
def test_it_scores_consciousness(code, expected):
    assert score_consciousness(code) == expected


@pytest.mark.parametrize("code", ["", "a", "X", "alert", "CV"])
def test_it_rejects_unknown_consciousness_codes(code):
    with pytest.raises(ValueError, match="consciousness code"):
        score_consciousness(code)


@pytest.mark.parametrize(
    ("temperature", "expected"),
    [
        ("34.0", 3),
        ("35.0", 3),
        ("35.1", 1),
        ("36.0", 1),
        ("36.1", 0),
        ("38.0", 0),
        ("38.1", 1),
        ("39.0", 1),
        ("39.1", 2),
        ("41.0", 2),
    ],
)
def test_it_scores_temperature_band_edges(temperature, expected):
    assert score_temperature(Decimal(temperature)) == expected
    assert score_temperature(float(temperature)) == expected


@pytest.mark.parametrize(
    ("temperature", "expected"),
    [
        # Rounded half-up to one decimal before banding.
        ("35.04", 3),
        ("35.05", 1),
        ("36.04", 1),
        ("36.05", 0),
        ("38.04", 0),
        ("38.05", 1),
        ("39.04", 1),
        ("39.05", 2),
    ],
)
def test_it_rounds_temperature_half_up_before_banding(temperature, expected):
    assert score_temperature(Decimal(temperature)) == expected
    # 35.05 as a float is 35.0499...; it must still round as written.
    assert score_temperature(float(temperature)) == expected


def test_it_accepts_a_whole_number_temperature():
    assert score_temperature(37) == 0


@pytest.mark.parametrize("temperature", [Decimal("NaN"), float("inf")])
def test_it_rejects_a_non_finite_temperature(temperature):
    with pytest.raises(ValueError, match="temperature"):
        score_temperature(temperature)


@pytest.mark.parametrize("scale", [0, 3, -1])
def test_it_rejects_an_unknown_spo2_scale(scale):
    with pytest.raises(ValueError, match="spo2_scale must be 1 or 2"):
        replace(NORMAL, spo2_scale=scale)


def test_it_rejects_an_unknown_consciousness_code_in_observations():
    with pytest.raises(ValueError, match="consciousness code 'Z'"):
        replace(NORMAL, consciousness="Z")


def test_it_scores_a_normal_patient_zero_and_low():
    result = news2(NORMAL)
    assert result == News2Result(
        total=0,
        parameter_scores={
            "respiration_rate": 0,
            "spo2": 0,
            "air_or_oxygen": 0,
            "systolic_bp": 0,
            "pulse": 0,
            "consciousness": 0,
            "temperature": 0,
        },
        any_single_three=False,
        risk="low",
    )
    assert not result.needs_escalation


def test_it_uses_scale_2_only_when_asked():
    # SpO2 90% on air: scale 1 scores 3, scale 2 (target 88-92%) scores 0.
    assert news2(replace(NORMAL, spo2=90)).parameter_scores["spo2"] == 3
    assert news2(replace(NORMAL, spo2=90, spo2_scale=2)).parameter_scores["spo2"] == 0


def test_it_scores_oxygen_separately_from_saturation_on_scale_1():
    result = news2(replace(NORMAL, on_oxygen=True))
    assert result.parameter_scores["spo2"] == 0
    assert result.parameter_scores["air_or_oxygen"] == 2
    assert result.total == 2


# Worked examples: the observations in the order RR, SpO2, on oxygen, SpO2 scale, systolic
# BP, pulse, ACVPU, temperature; then the total, whether one parameter scores 3 on its own,
# the risk, and parameter scores to check on the way.
WORKED_EXAMPLES = [
    # RR 22 -> 2, SpO2 95 scale 1 -> 1, air -> 0, SBP 115 -> 0, pulse 95 -> 1, alert -> 0,
    # 37.0 C -> 0. Total 2 + 1 + 0 + 0 + 1 + 0 + 0 = 4, no single 3: low.
    pytest.param(
        Observations(22, 95, False, 1, 115, 95, "A", Decimal("37.0")),
        (4, False, "low"),
        {},
        id="low_total_4_without_a_three",
    ),
    # RR 18 -> 0, SpO2 96 scale 1 -> 0, air -> 0, SBP 130 -> 0, pulse 72 -> 0,
    # new confusion -> 3, 37.2 C -> 0. Total 3 with a single 3: low-medium.
    pytest.param(
        Observations(18, 96, False, 1, 130, 72, "C", 37.2),
        (3, True, "low-medium"),
        {"consciousness": 3},
        id="low_medium_new_confusion_alone",
    ),
    # RR 8 -> 3, SpO2 95 scale 1 -> 1, air -> 0, SBP 120 -> 0, pulse 60 -> 0, alert -> 0,
    # 36.5 C -> 0. Total 3 + 1 = 4, the top of the low band, with a single 3: low-medium.
    pytest.param(
        Observations(8, 95, False, 1, 120, 60, "A", Decimal("36.5")),
        (4, True, "low-medium"),
        {},
        id="low_medium_at_total_4_with_a_three",
    ),
    # RR 22 -> 2, SpO2 94 scale 1 -> 1, oxygen -> 2, SBP 118 -> 0, pulse 88 -> 0, alert -> 0,
    # 37.5 C -> 0. Total 2 + 1 + 2 = 5: medium.
    pytest.param(
        Observations(22, 94, True, 1, 118, 88, "A", Decimal("37.5")),
        (5, False, "medium"),
        {},
        id="medium_total_5",
    ),
    # RR 7 -> 3, SpO2 96 scale 1 -> 0, air -> 0, SBP 105 -> 1, pulse 95 -> 1, alert -> 0,
    # 38.5 C -> 1. Total 3 + 1 + 1 + 1 = 6 with a single 3: medium, not low-medium.
    pytest.param(
        Observations(7, 96, False, 1, 105, 95, "A", Decimal("38.5")),
        (6, True, "medium"),
        {},
        id="medium_outranks_a_single_three",
    ),
    # Prescribed 88-92% target. RR 20 -> 0, SpO2 97 on O2 scale 2 -> 3, oxygen -> 2,
    # SBP 140 -> 0, pulse 85 -> 0, alert -> 0, 36.9 C -> 0. Total 3 + 2 = 5: medium.
    pytest.param(
        Observations(20, 97, True, 2, 140, 85, "A", Decimal("36.9")),
        (5, True, "medium"),
        {"spo2": 3},
        id="scale_2_over_oxygenated_is_medium",
    ),
    # RR 22 -> 2, SpO2 94 scale 1 -> 1, oxygen -> 2, SBP 108 -> 1, pulse 95 -> 1, alert -> 0,
    # 37.0 C -> 0. Total 2 + 1 + 2 + 1 + 1 = 7: high.
    pytest.param(
        Observations(22, 94, True, 1, 108, 95, "A", Decimal("37.0")),
        (7, False, "high"),
        {},
        id="high_total_7",
    ),
    # RR 26 -> 3, SpO2 90 scale 1 -> 3, oxygen -> 2, SBP 95 -> 2, pulse 115 -> 2, voice -> 3,
    # 39.3 C -> 2. Total 3 + 3 + 2 + 2 + 2 + 3 + 2 = 17: high.
    pytest.param(
        Observations(26, 90, True, 1, 95, 115, "V", 39.3),
        (17, True, Risk.HIGH),
        {
            "respiration_rate": 3,
            "spo2": 3,
            "air_or_oxygen": 2,
            "systolic_bp": 2,
            "pulse": 2,
            "consciousness": 3,
            "temperature": 2,
        },
        id="high_very_unwell",
    ),
]


@pytest.mark.parametrize(("observations", "expected", "scores"), WORKED_EXAMPLES)
def test_it_worked_example(observations, expected, scores):
    result = news2(observations)
    assert (result.total, result.any_single_three, result.risk) == expected
    assert result.needs_escalation is (result.risk != "low")
    assert {name: result.parameter_scores[name] for name in scores} == scores


@pytest.mark.parametrize(
    ("risk", "expected"),
    [("low", False), ("low-medium", True), ("medium", True), ("high", True)],
)
def test_it_needs_escalation_from_low_medium_up(risk, expected):
    result = News2Result(total=0, parameter_scores={}, any_single_three=False, risk=risk)
    assert result.needs_escalation is expected
