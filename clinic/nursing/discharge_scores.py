"""Discharge readiness scores after a procedure: Modified Aldrete and Modified PADSS.

Sources:
- Aldrete JA. The post-anesthesia recovery score revisited. J Clin Anesth 1995;7:89-91.
- Chung F, Chan VW, Ong D. A post-anesthetic discharge scoring system for home readiness
  after ambulatory surgery. J Clin Anesth 1995;7:500-6.

Each scale has five items scored 2, 1 or 0, so totals run 0-10. The option labels are
short paraphrases written for this project, not the published wording.

Pure Python with no Django imports.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

DEFAULT_DISCHARGE_THRESHOLD = 9

ALDRETE_CITATION = (
    "Aldrete JA. The post-anesthesia recovery score revisited. J Clin Anesth 1995;7:89-91."
)
PADSS_CITATION = (
    "Chung F, Chan VW, Ong D. A post-anesthetic discharge scoring system for home readiness "
    "after ambulatory surgery. J Clin Anesth 1995;7:500-6."
)


@dataclass(frozen=True)
class Option:
    value: int
    label: str


@dataclass(frozen=True)
class Item:
    code: str
    title: str
    options: tuple[Option, ...]


def _item(code: str, title: str, two: str, one: str, zero: str) -> Item:
    return Item(code, title, (Option(2, two), Option(1, one), Option(0, zero)))


ALDRETE_ITEMS: tuple[Item, ...] = (
    _item(
        "activity",
        "Activity",
        "Moves all four limbs on command",
        "Moves two limbs",
        "Moves no limbs",
    ),
    _item(
        "respiration",
        "Respiration",
        "Breathes deeply and coughs freely",
        "Dyspnoea or limited breathing",
        "Apnoeic",
    ),
    _item(
        "circulation",
        "Circulation",
        "BP within 20% of pre-procedure",
        "BP 20-49% of pre-procedure",
        "BP differs by 50% or more",
    ),
    _item(
        "consciousness", "Consciousness", "Fully awake", "Arousable on calling", "Not responding"
    ),
    _item(
        "spo2",
        "Oxygen saturation",
        "SpO2 above 92% on room air",
        "Needs oxygen to keep SpO2 above 90%",
        "SpO2 below 90% even with oxygen",
    ),
)

PADSS_ITEMS: tuple[Item, ...] = (
    _item(
        "vital_signs",
        "Vital signs",
        "Within 20% of pre-procedure",
        "20-40% of pre-procedure",
        "More than 40% from pre-procedure",
    ),
    _item(
        "ambulation",
        "Ambulation",
        "Steady gait, no dizziness",
        "Walks with assistance",
        "Unable to walk",
    ),
    _item("nausea_vomiting", "Nausea and vomiting", "Minimal", "Moderate", "Severe"),
    _item("pain", "Pain", "Minimal, acceptable to the patient", "Moderate", "Severe"),
    _item("surgical_bleeding", "Surgical bleeding", "Minimal", "Moderate", "Severe"),
)


def _change_x100(pre_systolic: int, now_systolic: int) -> int:
    # Callers compare |now - pre| * 100 with limit * pre in integers, so 20% is exactly 20%.
    if pre_systolic <= 0:
        raise ValueError(f"pre-procedure systolic BP must be positive, got {pre_systolic!r}.")
    return abs(now_systolic - pre_systolic) * 100


def circulation_score_from_bp(pre_systolic: int, now_systolic: int) -> int:
    """Modified Aldrete circulation item from the change in systolic BP (Aldrete 1995).

    Change = |now - pre| / pre x 100, in either direction.
    Less than 20% -> 2; 20% up to but not including 50% -> 1; 50% or more -> 0.
    Exactly 20.0% scores 1, because the published 2-point band is "within 20%" and the
    1-point band starts at 20%.
    """
    change = _change_x100(pre_systolic, now_systolic)
    if change < 20 * pre_systolic:
        return 2
    if change < 50 * pre_systolic:
        return 1
    return 0


def padss_vitals_score_from_bp(pre_systolic: int, now_systolic: int) -> int:
    """Modified PADSS vital-signs item from the change in systolic BP (Chung 1995).

    Change = |now - pre| / pre x 100, in either direction.
    20% or less -> 2; more than 20% up to and including 40% -> 1; more than 40% -> 0.
    Exactly 20.0% scores 2 and exactly 40.0% scores 1 (unlike Aldrete, whose 20% edge scores 1).
    """
    change = _change_x100(pre_systolic, now_systolic)
    if change <= 20 * pre_systolic:
        return 2
    if change <= 40 * pre_systolic:
        return 1
    return 0


def _total(scale_name: str, items: tuple[Item, ...], answers: Mapping[str, int]) -> int:
    known = {item.code for item in items}
    unknown = sorted(set(answers) - known)
    if unknown:
        raise ValueError(f"{scale_name}: unknown item(s) {', '.join(map(repr, unknown))}.")
    total = 0
    for item in items:
        if item.code not in answers:
            raise ValueError(f"{scale_name}: missing item {item.code!r}.")
        value = answers[item.code]
        # 2.0 == 2 and True == 1, so check the type too: a total must stay an int.
        if not isinstance(value, int) or isinstance(value, bool) or value not in (0, 1, 2):
            raise ValueError(f"{scale_name}: item {item.code!r} must be 0, 1 or 2, got {value!r}.")
        total += value
    return total


def aldrete_total(answers: Mapping[str, int]) -> int:
    """Sum of the five Modified Aldrete items (0-10), keyed by item code.

    Raises ValueError naming any missing or unknown item, or a value other than 0, 1, 2.
    Source: Aldrete JA. J Clin Anesth 1995;7:89-91.
    """
    return _total("Modified Aldrete", ALDRETE_ITEMS, answers)


def padss_total(answers: Mapping[str, int]) -> int:
    """Sum of the five Modified PADSS items (0-10), keyed by item code.

    Raises ValueError naming any missing or unknown item, or a value other than 0, 1, 2.
    Source: Chung F, Chan VW, Ong D. J Clin Anesth 1995;7:500-6.
    """
    return _total("Modified PADSS", PADSS_ITEMS, answers)


def is_discharge_ready(total: int, threshold: int = DEFAULT_DISCHARGE_THRESHOLD) -> bool:
    """True when the total reaches the clinic's threshold (default 9 of 10)."""
    return total >= threshold


@dataclass(frozen=True)
class DischargeScale:
    code: str
    name: str
    citation: str
    items: tuple[Item, ...]
    total: Callable[[Mapping[str, int]], int]


DISCHARGE_SCALES: dict[str, DischargeScale] = {
    "aldrete": DischargeScale(
        "aldrete", "Modified Aldrete", ALDRETE_CITATION, ALDRETE_ITEMS, aldrete_total
    ),
    "padss": DischargeScale("padss", "Modified PADSS", PADSS_CITATION, PADSS_ITEMS, padss_total),
}
