"""National Early Warning Score 2 (NEWS2), scored from one set of observations.

Source: Royal College of Physicians. National Early Warning Score (NEWS) 2:
Standardising the assessment of acute-illness severity in the NHS. London: RCP, 2017
(chart 1: the NEWS2 scoring system).

NEWS2 is reproduced/used with acknowledgement to the Royal College of Physicians;
the chart is not altered.

Pure Python with no Django imports. Plausible-range checks on the raw observations
belong to the forms; this module scores whatever integers it is given and only rejects
inputs that have no place on the chart (an unknown SpO2 scale or ACVPU code).
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

# For display wherever a NEWS2 score is shown.
CITATION = (
    "Royal College of Physicians. National Early Warning Score (NEWS) 2: Standardising the "
    "assessment of acute-illness severity in the NHS. London: RCP, 2017 (chart 1)."
)
ACKNOWLEDGEMENT = (
    "NEWS2 is reproduced/used with acknowledgement to the Royal College of Physicians; "
    "the chart is not altered."
)


class Consciousness(StrEnum):
    """ACVPU levels of consciousness as recorded on the NEWS2 chart."""

    ALERT = "A"
    NEW_CONFUSION = "C"
    VOICE = "V"
    PAIN = "P"
    UNRESPONSIVE = "U"


class Risk(StrEnum):
    """NEWS2 clinical risk bands (RCP 2017)."""

    LOW = "low"
    LOW_MEDIUM = "low-medium"
    MEDIUM = "medium"
    HIGH = "high"


SPO2_SCALES = (1, 2)


def _consciousness(code: str) -> Consciousness:
    try:
        return Consciousness(code)
    except ValueError:
        allowed = ", ".join(c.value for c in Consciousness)
        raise ValueError(
            f"Unknown consciousness code {code!r}; expected one of {allowed}."
        ) from None


@dataclass(frozen=True)
class Observations:
    """One set of bedside observations.

    ``spo2_scale`` is 1 for most patients; 2 only when a clinician has prescribed a
    target saturation of 88-92% (for example hypercapnic respiratory failure).
    ``temperature`` is in degrees Celsius.
    """

    respiration_rate: int
    spo2: int
    on_oxygen: bool
    spo2_scale: int
    systolic_bp: int
    pulse: int
    consciousness: str
    temperature: Decimal | float

    def __post_init__(self) -> None:
        # Fail when the observation is recorded, not later when it is scored.
        if self.spo2_scale not in SPO2_SCALES:
            raise ValueError(f"spo2_scale must be 1 or 2, got {self.spo2_scale!r}.")
        _consciousness(self.consciousness)


def _band(value, bands, above: int) -> int:
    """The score of the first band, given as (highest value, score), that holds `value`;
    `above` past the last band. One row of the chart, read left to right."""
    for highest, score in bands:
        if value <= highest:
            return score
    return above


def score_respiration(rr: int) -> int:
    """Respiration rate per minute: <=8 -> 3, 9-11 -> 1, 12-20 -> 0, 21-24 -> 2, >=25 -> 3.

    Source: RCP NEWS2 2017, chart 1.
    """
    return _band(rr, [(8, 3), (11, 1), (20, 0), (24, 2)], above=3)


def score_spo2_scale1(spo2: int) -> int:
    """SpO2 scale 1 (%): <=91 -> 3, 92-93 -> 2, 94-95 -> 1, >=96 -> 0.

    Source: RCP NEWS2 2017, chart 1.
    """
    return _band(spo2, [(91, 3), (93, 2), (95, 1)], above=0)


def score_spo2_scale2(spo2: int, on_oxygen: bool) -> int:
    """SpO2 scale 2 (%), for a prescribed target of 88-92%.

    <=83 -> 3, 84-85 -> 2, 86-87 -> 1, 88-92 -> 0, >=93 on air -> 0;
    on oxygen: 93-94 -> 1, 95-96 -> 2, >=97 -> 3.

    Source: RCP NEWS2 2017, chart 1.
    """
    # Above target only matters when oxygen is pushing it there.
    if spo2 <= 92 or not on_oxygen:
        return _band(spo2, [(83, 3), (85, 2), (87, 1)], above=0)
    return _band(spo2, [(94, 1), (96, 2)], above=3)


def score_air_or_oxygen(on_oxygen: bool) -> int:
    """Supplemental oxygen -> 2, room air -> 0.

    Source: RCP NEWS2 2017, chart 1.
    """
    return 2 if on_oxygen else 0


def score_systolic_bp(sbp: int) -> int:
    """Systolic BP (mmHg): <=90 -> 3, 91-100 -> 2, 101-110 -> 1, 111-219 -> 0, >=220 -> 3.

    Source: RCP NEWS2 2017, chart 1.
    """
    return _band(sbp, [(90, 3), (100, 2), (110, 1), (219, 0)], above=3)


def score_pulse(p: int) -> int:
    """Pulse per minute: <=40 -> 3, 41-50 -> 1, 51-90 -> 0, 91-110 -> 1, 111-130 -> 2, >=131 -> 3.

    Source: RCP NEWS2 2017, chart 1.
    """
    return _band(p, [(40, 3), (50, 1), (90, 0), (110, 1), (130, 2)], above=3)


def score_consciousness(c: str) -> int:
    """ACVPU: alert -> 0; new confusion, voice, pain or unresponsive -> 3.

    Raises ValueError for a code that is not one of A, C, V, P, U.
    Source: RCP NEWS2 2017, chart 1.
    """
    return 0 if _consciousness(c) is Consciousness.ALERT else 3


def _round_temperature(t: Decimal | float) -> Decimal:
    # str() first so a float such as 35.05 rounds as written, not as its binary value 35.0499...
    value = t if isinstance(t, Decimal) else Decimal(str(t))
    if not value.is_finite():
        raise ValueError(f"temperature must be a finite number, got {t!r}.")
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def score_temperature(t: Decimal | float) -> int:
    """Temperature (degrees C), rounded half-up to one decimal before banding.

    <=35.0 -> 3, 35.1-36.0 -> 1, 36.1-38.0 -> 0, 38.1-39.0 -> 1, >=39.1 -> 2.
    Source: RCP NEWS2 2017, chart 1.
    """
    bands = [(Decimal("35.0"), 3), (Decimal("36.0"), 1), (Decimal("38.0"), 0), (Decimal("39.0"), 1)]
    return _band(_round_temperature(t), bands, above=2)


@dataclass(frozen=True)
class News2Result:
    """Aggregate NEWS2 score, the score of each parameter, and the clinical risk band."""

    total: int
    parameter_scores: dict[str, int]
    any_single_three: bool
    risk: str

    @property
    def needs_escalation(self) -> bool:
        """True for low-medium risk or worse: at least an urgent ward-based review is due."""
        return self.risk != Risk.LOW


def _risk(total: int, any_single_three: bool) -> Risk:
    # The aggregate bands outrank the single-parameter rule.
    if total >= 7:
        return Risk.HIGH
    if total >= 5:
        return Risk.MEDIUM
    if any_single_three:
        return Risk.LOW_MEDIUM
    return Risk.LOW


def news2(obs: Observations) -> News2Result:
    """Score a set of observations with NEWS2.

    Risk: aggregate 0-4 is low, unless one parameter scores 3 (low-medium);
    5-6 is medium; 7 or more is high.

    Source: Royal College of Physicians. National Early Warning Score (NEWS) 2:
    Standardising the assessment of acute-illness severity in the NHS. London: RCP, 2017
    (chart 1). NEWS2 is reproduced/used with acknowledgement to the Royal College of
    Physicians; the chart is not altered.
    """
    if obs.spo2_scale == 1:
        spo2_score = score_spo2_scale1(obs.spo2)
    else:
        spo2_score = score_spo2_scale2(obs.spo2, obs.on_oxygen)
    scores = {
        "respiration_rate": score_respiration(obs.respiration_rate),
        "spo2": spo2_score,
        "air_or_oxygen": score_air_or_oxygen(obs.on_oxygen),
        "systolic_bp": score_systolic_bp(obs.systolic_bp),
        "pulse": score_pulse(obs.pulse),
        "consciousness": score_consciousness(obs.consciousness),
        "temperature": score_temperature(obs.temperature),
    }
    total = sum(scores.values())
    any_single_three = 3 in scores.values()
    return News2Result(
        total=total,
        parameter_scores=scores,
        any_single_three=any_single_three,
        risk=_risk(total, any_single_three).value,
    )
