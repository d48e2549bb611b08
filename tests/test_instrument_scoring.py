"""Worked examples for followup.scoring, each computed by hand in the comments."""

import dataclasses
from decimal import Decimal

import pytest

from followup.scoring import (
    DEFAULT_DIARY_OFFSETS_MINUTES,
    NDI_SECTIONS,
    ODI_SECTIONS,
    PGIC_CHOICES,
    RED_FLAGS,
    DisabilityScore,
    diary_peak_relief,
    immpact_category,
    is_responder,
    ndi_band,
    ndi_mcid_reached,
    ndi_score,
    odi_band,
    odi_mcid_reached,
    odi_score,
    pain_worsened,
    percent_relief,
    pgic_is_worse_alert,
    red_flags_present,
    validate_nrs,
)

ODI_IDS = [section_id for section_id, _ in ODI_SECTIONS]
NDI_IDS = [section_id for section_id, _ in NDI_SECTIONS]


def spread(total, ids):
    """Answers for every id summing to total, filling sections with 5s from the first."""
    answers = {}
    for section_id in ids:
        answers[section_id] = min(5, total)
        total -= answers[section_id]
    return answers


# --- section lists ---------------------------------------------------------------------


def test_it_lists_the_ten_odi_sections_in_published_order():
    assert ODI_IDS == [
        "pain_intensity",
        "personal_care",
        "lifting",
        "walking",
        "sitting",
        "standing",
        "sleeping",
        "sex_life",
        "social_life",
        "travelling",
    ]
    assert dict(ODI_SECTIONS)["personal_care"] == "Personal care (washing, dressing etc.)"
    assert dict(ODI_SECTIONS)["sex_life"] == "Sex life (if applicable)"


def test_it_lists_the_ten_ndi_sections_in_published_order():
    assert NDI_IDS == [
        "pain_intensity",
        "personal_care",
        "lifting",
        "reading",
        "headaches",
        "concentration",
        "work",
        "driving",
        "sleeping",
        "recreation",
    ]
    assert all(title for _, title in NDI_SECTIONS)


# --- ODI -------------------------------------------------------------------------------


def test_it_scores_a_complete_odi():
    # 3+2+2+2+2+2+1+1+1+1 = 17; 17 / (5 x 10) x 100 = 34%; raw = 17 (nothing to scale).
    answers = dict(zip(ODI_IDS, [3, 2, 2, 2, 2, 2, 1, 1, 1, 1], strict=True))
    score = odi_score(answers)
    assert score == DisabilityScore(
        instrument="odi",
        percent=Decimal(34),
        raw=Decimal(17),
        answered=10,
        missing=(),
        band="moderate",
    )
    assert score.display() == "34.0%"


def test_it_scores_an_odi_with_one_section_missing_on_the_answered_sections():
    # Sex life left blank; 3+2+2+2+2+2+1+1+1 = 16 over 9 answered:
    # 16 / 45 x 100 = 35.555...%; raw scaled to 50 = 16 / 45 x 50 = 17.777...
    answers = dict(zip(ODI_IDS, [3, 2, 2, 2, 2, 2, 1, None, 1, 1], strict=True))
    score = odi_score(answers)
    assert score.percent == Decimal(1600) / Decimal(45)
    assert str(score.percent).startswith("35.5555555555")
    assert score.raw == Decimal(800) / Decimal(45)
    assert score.answered == 9
    assert score.missing == ("sex_life",)
    assert score.band == "moderate"
    assert score.display() == "35.6%"


def test_it_treats_an_absent_section_like_a_blank_one():
    # Same 16 over 9 as above, with sex_life left out of the mapping altogether.
    answers = dict(zip(ODI_IDS, [3, 2, 2, 2, 2, 2, 1, None, 1, 1], strict=True))
    absent = {key: value for key, value in answers.items() if value is not None}
    assert odi_score(absent) == odi_score(answers)


def test_it_gives_no_odi_score_when_more_sections_are_missing_than_allowed():
    # Two blank (sex_life, travelling); 3+2+2+2+2+2+1+1 = 15 over 8 answered.
    answers = dict(zip(ODI_IDS, [3, 2, 2, 2, 2, 2, 1, None, 1, None], strict=True))
    assert odi_score(answers) is None
    assert odi_score(answers, max_missing=1) is None
    # Allowed two missing: 15 / 40 x 100 = 37.5%.
    score = odi_score(answers, max_missing=2)
    assert score.percent == Decimal("37.5")
    assert score.missing == ("sex_life", "travelling")
    assert score.answered == 8


def test_it_requires_every_odi_section_when_none_may_be_missing():
    answers = dict(zip(ODI_IDS, [3, 2, 2, 2, 2, 2, 1, None, 1, 1], strict=True))
    assert odi_score(answers, max_missing=0) is None


def test_it_gives_no_odi_score_for_a_blank_form_even_if_all_may_be_missing():
    assert odi_score({}, max_missing=10) is None


def test_it_scores_the_highest_box_when_several_are_ticked():
    # pain_intensity ticked 1 and 4 -> 4; all else 0: 4 / 50 x 100 = 8%.
    answers = spread(0, ODI_IDS) | {"pain_intensity": [1, 4]}
    assert odi_score(answers).percent == Decimal(8)
    assert odi_score(answers | {"pain_intensity": (4, 1)}).percent == Decimal(8)


def test_it_treats_a_section_with_no_box_ticked_as_missing():
    # walking [] -> missing; all else 1: 9 / 45 x 100 = 20%.
    answers = dict.fromkeys(ODI_IDS, 1) | {"walking": []}
    score = odi_score(answers)
    assert score.missing == ("walking",)
    assert score.percent == Decimal(20)


@pytest.mark.parametrize(
    ("total", "percent", "band"),
    [
        # percent = total / 50 x 100 = total x 2
        (0, 0, "minimal"),
        (10, 20, "minimal"),
        (11, 22, "moderate"),
        (20, 40, "moderate"),
        (21, 42, "severe"),
        (30, 60, "severe"),
        (31, 62, "crippled"),
        (40, 80, "crippled"),
        (41, 82, "bed-bound or exaggerating"),
        (50, 100, "bed-bound or exaggerating"),
    ],
)
def test_it_bands_odi_scores_at_each_edge(total, percent, band):
    score = odi_score(spread(total, ODI_IDS))
    assert score.percent == percent
    assert score.band == band


@pytest.mark.parametrize(
    ("percent", "band"),
    [
        ("20", "minimal"),
        ("20.1", "moderate"),
        ("40", "moderate"),
        ("40.1", "severe"),
        ("60", "severe"),
        ("60.1", "crippled"),
        ("80", "crippled"),
        ("80.1", "bed-bound or exaggerating"),
    ],
)
def test_it_puts_the_upper_edge_in_the_lower_odi_band(percent, band):
    assert odi_band(Decimal(percent)) == band


def test_it_bands_a_fractional_odi_just_over_an_edge():
    # 9 answered, sum 10: 10 / 45 x 100 = 22.2% -> moderate; sum 9: 9 / 45 x 100 = 20% -> minimal.
    assert odi_score(spread(10, ODI_IDS[:9])).band == "moderate"
    assert odi_score(spread(9, ODI_IDS[:9])).band == "minimal"


@pytest.mark.parametrize("bad", [6, -1, True, "3", 2.0, [2, 6]])
def test_it_rejects_an_odi_answer_outside_0_to_5_naming_the_section(bad):
    answers = spread(10, ODI_IDS) | {"walking": bad}
    with pytest.raises(ValueError, match="walking"):
        odi_score(answers)


def test_it_rejects_an_unknown_odi_section_naming_it():
    # "reading" is an NDI item, not an ODI section.
    with pytest.raises(ValueError, match="reading"):
        odi_score(spread(10, ODI_IDS) | {"reading": 2})


def test_it_keeps_scores_immutable():
    score = odi_score(spread(10, ODI_IDS))
    with pytest.raises(dataclasses.FrozenInstanceError):
        score.percent = Decimal(0)


def test_it_displays_one_decimal_rounding_half_up():
    score = DisabilityScore("odi", Decimal("12.25"), Decimal("6.125"), 10, (), "minimal")
    assert score.display() == "12.3%"


# --- NDI -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "band"),
    [
        (0, "none"),
        (4, "none"),
        (5, "mild"),
        (14, "mild"),
        (15, "moderate"),
        (24, "moderate"),
        (25, "severe"),
        (34, "severe"),
        (35, "complete"),
        (50, "complete"),
    ],
)
def test_it_scores_and_bands_a_complete_ndi_at_each_edge(raw, band):
    # Nothing missing: raw = sum, percent = raw x 2.
    score = ndi_score(spread(raw, NDI_IDS))
    assert score.instrument == "ndi"
    assert score.raw == raw
    assert score.percent == raw * 2
    assert score.band == band


def test_it_prorates_an_ndi_with_one_item_missing():
    # driving blank; 18 over 9 answered: raw = 18 / 45 x 50 = 20, percent = 40%.
    answers = spread(18, NDI_IDS) | {"driving": None}
    score = ndi_score(answers)
    assert score.raw == Decimal(20)
    assert score.percent == Decimal(40)
    assert score.missing == ("driving",)
    assert score.band == "moderate"


def test_it_bands_a_prorated_ndi_between_whole_number_bands():
    # 4 over 9 answered: raw = 4 / 45 x 50 = 4.44 -> none; 5 over 9: 5.55 -> mild.
    assert ndi_score(spread(4, NDI_IDS[:9])).band == "none"
    assert ndi_score(spread(5, NDI_IDS[:9])).band == "mild"
    assert ndi_band(Decimal("14.9")) == "mild"
    assert ndi_band(Decimal("34.9")) == "severe"


def test_it_gives_no_ndi_score_when_too_many_items_are_missing():
    # 8 answered, sum 16: raw = 16 / 40 x 50 = 20.
    answers = spread(16, NDI_IDS[:8])
    assert ndi_score(answers) is None
    assert ndi_score(answers, max_missing=2).raw == Decimal(20)


def test_it_rejects_bad_ndi_answers_naming_the_item():
    with pytest.raises(ValueError, match="headaches"):
        ndi_score(spread(10, NDI_IDS) | {"headaches": 7})
    # "walking" is an ODI section, not an NDI item.
    with pytest.raises(ValueError, match="walking"):
        ndi_score(spread(10, NDI_IDS) | {"walking": 1})


# --- MCID ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "followup", "reached"),
    [
        (50, 40, True),  # exactly 10 points (20% of baseline)
        (50, Decimal("40.1"), False),  # 9.9 points, 19.8%
        (30, 21, True),  # 9 points = exactly 30% of 30
        (30, Decimal("21.1"), False),  # 8.9 points, 29.7%
        (20, 14, True),  # 6 points = 30% of 20
        (30.0, 21.0, True),  # floats from a form, exactly 30%
        (20, 30, False),  # worse
        (0, 0, False),  # 30% of nothing is no improvement
    ],
)
def test_it_decides_odi_mcid_at_the_boundaries(baseline, followup, reached):
    assert odi_mcid_reached(baseline, followup) is reached


@pytest.mark.parametrize(
    ("baseline", "followup", "reached"),
    [
        (20, Decimal("12.5"), True),  # exactly 7.5
        (20, 12.5, True),
        (20, Decimal("12.6"), False),  # 7.4
        (20, 12, True),
        (10, 20, False),
    ],
)
def test_it_decides_ndi_mcid_at_7_5_raw_points(baseline, followup, reached):
    assert ndi_mcid_reached(baseline, followup) is reached


# --- NRS, PGIC -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 5, 10])
def test_it_accepts_nrs_0_to_10(value):
    assert validate_nrs(value) == value


@pytest.mark.parametrize("value", [-1, 11, 5.0, True, "5", None])
def test_it_rejects_nrs_outside_0_to_10_or_not_an_integer(value):
    with pytest.raises(ValueError):
        validate_nrs(value)


def test_it_lists_the_seven_pgic_choices():
    assert [value for value, _ in PGIC_CHOICES] == [1, 2, 3, 4, 5, 6, 7]
    assert PGIC_CHOICES[0] == (1, "Very much improved")
    assert PGIC_CHOICES[3] == (4, "No change")
    assert PGIC_CHOICES[6] == (7, "Very much worse")


@pytest.mark.parametrize(
    ("value", "alert"), [(1, False), (4, False), (5, False), (6, True), (7, True)]
)
def test_it_alerts_on_much_or_very_much_worse_pgic(value, alert):
    assert pgic_is_worse_alert(value) is alert


@pytest.mark.parametrize("value", [0, 8, None])
def test_it_rejects_pgic_outside_1_to_7(value):
    with pytest.raises(ValueError):
        pgic_is_worse_alert(value)


# --- percent relief, IMMPACT -----------------------------------------------------------


def test_it_computes_percent_relief():
    # (8 - 4) / 8 x 100 = 50
    assert percent_relief(8, 4) == Decimal(50)
    # (7 - 5) / 7 x 100 = 28.571428...
    assert percent_relief(7, 5) == Decimal(200) / Decimal(7)
    assert percent_relief(5, 5) == 0


def test_it_gives_negative_relief_when_pain_is_worse():
    # (4 - 6) / 4 x 100 = -50
    assert percent_relief(4, 6) == Decimal(-50)


def test_it_cannot_compute_relief_from_a_zero_baseline():
    assert percent_relief(0, 0) is None
    assert percent_relief(0, 3) is None


def test_it_rejects_relief_from_invalid_nrs():
    with pytest.raises(ValueError):
        percent_relief(11, 5)


@pytest.mark.parametrize(
    ("relief", "category"),
    [
        (None, "not computable"),
        (Decimal("-0.1"), "worse"),
        (Decimal(0), "no meaningful change"),
        (Decimal("9.99"), "no meaningful change"),
        (Decimal(10), "minimally important"),
        (Decimal(20), "minimally important"),
        (Decimal("29.99"), "minimally important"),
        (Decimal(30), "moderately important"),
        (Decimal("49.99"), "moderately important"),
        (Decimal(50), "substantial"),
        (Decimal(100), "substantial"),
    ],
)
def test_it_categorises_relief_at_the_immpact_edges(relief, category):
    assert immpact_category(relief) == category


def test_it_categorises_computed_relief():
    # (7 - 5) / 7 = 28.6% -> minimally important; (10 - 7) / 10 = 30% -> moderately.
    assert immpact_category(percent_relief(7, 5)) == "minimally important"
    assert immpact_category(percent_relief(10, 7)) == "moderately important"
    assert immpact_category(percent_relief(0, 5)) == "not computable"


def test_it_decides_responders_at_a_configurable_threshold():
    # (8 - 4) / 8 = 50%; (10 - 6) / 10 = 40%; (10 - 2) / 10 = 80%; (10 - 3) / 10 = 70%.
    assert is_responder(percent_relief(8, 4)) is True
    assert is_responder(percent_relief(10, 6)) is False
    assert is_responder(Decimal("49.9")) is False
    assert is_responder(percent_relief(10, 2), threshold=80) is True
    assert is_responder(percent_relief(10, 3), threshold=80) is False
    assert is_responder(None) is None


@pytest.mark.parametrize(
    ("baseline", "followup", "points", "worse"),
    [
        (4, 6, 2, True),  # 6 >= 4 + 2
        (4, 5, 2, False),
        (9, 10, 2, False),
        (4, 7, 3, True),
        (4, 6, 3, False),
    ],
)
def test_it_flags_pain_worsened_by_at_least_the_given_points(baseline, followup, points, worse):
    assert pain_worsened(baseline, followup, points=points) is worse


# --- red flags -------------------------------------------------------------------------


def test_it_lists_the_red_flag_questions():
    assert [code for code, _ in RED_FLAGS] == [
        "new_leg_weakness",
        "saddle_numbness",
        "bladder_bowel",
        "fever",
        "site_infection",
        "postural_headache",
        "sudden_severe_pain",
    ]
    assert dict(RED_FLAGS)["fever"] == "Fever or chills"


def test_it_returns_the_red_flags_answered_yes_in_screen_order():
    answers = {
        "fever": True,
        "bladder_bowel": True,
        "site_infection": False,
        "postural_headache": None,
    }
    assert red_flags_present(answers) == ["bladder_bowel", "fever"]
    assert red_flags_present(dict.fromkeys(dict(RED_FLAGS), False)) == []
    assert red_flags_present({}) == []


def test_it_rejects_an_unknown_red_flag():
    with pytest.raises(ValueError, match="chest_pain"):
        red_flags_present({"chest_pain": True})


# --- diagnostic block diary ------------------------------------------------------------


def test_it_offers_default_diary_time_points():
    assert DEFAULT_DIARY_OFFSETS_MINUTES == (30, 60, 120, 240, 360, 480)


def test_it_finds_the_peak_relief_in_a_pain_diary():
    # Baseline 8: 6 -> 25%, 2 -> 75%, 4 -> 50%, 8 -> 0%; unanswered points skipped. Peak 75%.
    entries = {30: 6, 60: 2, 120: None, 240: 4, 360: None, 480: 8}
    assert diary_peak_relief(8, entries) == Decimal(75)


def test_it_reports_negative_peak_when_every_diary_entry_is_worse():
    # Baseline 4: 6 -> -50%, 5 -> -25%. Peak -25%.
    assert diary_peak_relief(4, {30: 6, 60: 5}) == Decimal(-25)


def test_it_gives_no_diary_peak_without_answers_or_baseline_pain():
    assert diary_peak_relief(8, {}) is None
    assert diary_peak_relief(8, dict.fromkeys(DEFAULT_DIARY_OFFSETS_MINUTES)) is None
    assert diary_peak_relief(0, {30: 0}) is None


def test_it_rejects_invalid_diary_scores():
    with pytest.raises(ValueError):
        diary_peak_relief(8, {30: 11})
    with pytest.raises(ValueError):
        diary_peak_relief(12, {})
