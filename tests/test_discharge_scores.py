import pytest

from clinic.nursing.discharge_scores import (
    ALDRETE_ITEMS,
    DEFAULT_DISCHARGE_THRESHOLD,
    DISCHARGE_SCALES,
    PADSS_ITEMS,
    aldrete_total,
    circulation_score_from_bp,
    is_discharge_ready,
    padss_total,
    padss_vitals_score_from_bp,
)

ALDRETE_CODES = ["activity", "respiration", "circulation", "consciousness", "spo2"]
PADSS_CODES = ["vital_signs", "ambulation", "nausea_vomiting", "pain", "surgical_bleeding"]


def _answers(codes, value=2):
    return dict.fromkeys(codes, value)


@pytest.mark.parametrize(
    ("items", "codes"), [(ALDRETE_ITEMS, ALDRETE_CODES), (PADSS_ITEMS, PADSS_CODES)]
)
def test_it_defines_five_items_each_with_options_2_1_0(items, codes):
    assert [item.code for item in items] == codes
    for item in items:
        assert item.title
        assert [option.value for option in item.options] == [2, 1, 0]
        assert all(option.label for option in item.options)


def test_it_totals_aldrete():
    assert aldrete_total(_answers(ALDRETE_CODES, 2)) == 10
    assert aldrete_total(_answers(ALDRETE_CODES, 0)) == 0
    answers = {"activity": 2, "respiration": 2, "circulation": 1, "consciousness": 2, "spo2": 1}
    assert aldrete_total(answers) == 8


def test_it_totals_padss():
    assert padss_total(_answers(PADSS_CODES, 2)) == 10
    assert padss_total(_answers(PADSS_CODES, 1)) == 5
    answers = {
        "vital_signs": 2,
        "ambulation": 2,
        "nausea_vomiting": 2,
        "pain": 1,
        "surgical_bleeding": 2,
    }
    assert padss_total(answers) == 9


@pytest.mark.parametrize(
    ("total", "codes", "name"),
    [
        (aldrete_total, ALDRETE_CODES, "Modified Aldrete"),
        (padss_total, PADSS_CODES, "Modified PADSS"),
    ],
)
def test_it_names_a_missing_item(total, codes, name):
    answers = _answers(codes)
    del answers[codes[2]]
    with pytest.raises(ValueError, match=f"{name}: missing item '{codes[2]}'"):
        total(answers)


@pytest.mark.parametrize(
    ("total", "codes"),
    [(aldrete_total, ALDRETE_CODES), (padss_total, PADSS_CODES)],
)
@pytest.mark.parametrize("bad", [3, -1, 1.5, 2.0, "2", None, True])
def test_it_rejects_a_bad_value_naming_the_item(total, codes, bad):
    answers = _answers(codes)
    answers[codes[0]] = bad
    with pytest.raises(ValueError, match=f"item '{codes[0]}' must be 0, 1 or 2"):
        total(answers)


def test_it_rejects_an_unknown_item():
    answers = _answers(ALDRETE_CODES) | {"colour": 2}
    with pytest.raises(ValueError, match="unknown item.*'colour'"):
        aldrete_total(answers)


def test_it_defaults_the_discharge_threshold_to_9():
    assert DEFAULT_DISCHARGE_THRESHOLD == 9
    assert not is_discharge_ready(8)
    assert is_discharge_ready(9)
    assert is_discharge_ready(10)


@pytest.mark.parametrize(
    ("total", "threshold", "expected"),
    [
        (7, 8, False),
        (8, 8, True),
        (9, 8, True),
        (8, 9, False),
        (9, 9, True),
        (10, 9, True),
        (9, 10, False),
        (10, 10, True),
    ],
)
def test_it_applies_a_clinic_threshold(total, threshold, expected):
    assert is_discharge_ready(total, threshold=threshold) is expected


@pytest.mark.parametrize(
    ("pre", "now", "expected"),
    [
        (100, 100, 2),
        (100, 81, 2),  # 19%
        (100, 119, 2),
        (100, 80, 1),  # exactly 20% is the start of the 1-point band
        (100, 120, 1),
        (100, 51, 1),  # 49%
        (100, 149, 1),
        (100, 50, 0),  # exactly 50%
        (100, 150, 0),
        (150, 121, 2),  # 19.3%
        (150, 120, 1),  # 20.0%
        (150, 76, 1),  # 49.3%
        (150, 75, 0),  # 50.0%
    ],
)
def test_it_scores_aldrete_circulation_from_bp_change(pre, now, expected):
    assert circulation_score_from_bp(pre, now) == expected


@pytest.mark.parametrize(
    ("pre", "now", "expected"),
    [
        (100, 100, 2),
        (100, 80, 2),  # exactly 20% still scores 2
        (100, 120, 2),
        (100, 79, 1),  # 21%
        (100, 121, 1),
        (100, 60, 1),  # exactly 40%
        (100, 140, 1),
        (100, 59, 0),  # 41%
        (100, 141, 0),
        (130, 104, 2),  # 20.0%
        (130, 103, 1),  # 20.8%
        (130, 78, 1),  # 40.0%
        (130, 77, 0),  # 40.8%
    ],
)
def test_it_scores_padss_vital_signs_from_bp_change(pre, now, expected):
    assert padss_vitals_score_from_bp(pre, now) == expected


@pytest.mark.parametrize("helper", [circulation_score_from_bp, padss_vitals_score_from_bp])
@pytest.mark.parametrize("pre", [0, -10])
def test_it_rejects_a_non_positive_pre_procedure_bp(helper, pre):
    with pytest.raises(ValueError, match="pre-procedure systolic BP must be positive"):
        helper(pre, 120)


@pytest.mark.parametrize(
    ("code", "name", "codes"),
    [("aldrete", "Modified Aldrete", ALDRETE_CODES), ("padss", "Modified PADSS", PADSS_CODES)],
)
def test_it_picks_a_scale_by_code(code, name, codes):
    scale = DISCHARGE_SCALES[code]
    assert scale.code == code
    assert scale.name == name
    assert "J Clin Anesth 1995" in scale.citation
    assert [item.code for item in scale.items] == codes
    assert scale.total(_answers(codes, 1)) == 5
