"""Scoring of the patient-reported instruments used at follow-up.

Pure Python: no Django, no database, so the rules can be tested and reviewed on their own.

Scores are ``Decimal`` rather than ``float`` so that stored values are exact where the
arithmetic allows (17/50 is exactly 34, not 33.99999...) and band edges such as 20.0%
compare exactly. Non-terminating quotients (16/45) carry the default 28 significant
digits; they are stored unrounded and rounded only for display.

Only section ids and titles are shipped for ODI and NDI: the item wording is copyright
(licensed by Mapi Research Trust) and is loaded at deployment.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

ODI_SECTIONS: tuple[tuple[str, str], ...] = (
    ("pain_intensity", "Pain intensity"),
    ("personal_care", "Personal care (washing, dressing etc.)"),
    ("lifting", "Lifting"),
    ("walking", "Walking"),
    ("sitting", "Sitting"),
    ("standing", "Standing"),
    ("sleeping", "Sleeping"),
    ("sex_life", "Sex life (if applicable)"),
    ("social_life", "Social life"),
    ("travelling", "Travelling"),
)

NDI_SECTIONS: tuple[tuple[str, str], ...] = (
    ("pain_intensity", "Pain intensity"),
    ("personal_care", "Personal care (washing, dressing etc.)"),
    ("lifting", "Lifting"),
    ("reading", "Reading"),
    ("headaches", "Headaches"),
    ("concentration", "Concentration"),
    ("work", "Work"),
    ("driving", "Driving"),
    ("sleeping", "Sleeping"),
    ("recreation", "Recreation"),
)

PGIC_CHOICES: tuple[tuple[int, str], ...] = (
    (1, "Very much improved"),
    (2, "Much improved"),
    (3, "Minimally improved"),
    (4, "No change"),
    (5, "Minimally worse"),
    (6, "Much worse"),
    (7, "Very much worse"),
)

# The red-flag screen before it went by region (followup.RedFlagQuestion): kept so that
# answers stored then are still shown with the question that was asked.
RED_FLAGS: tuple[tuple[str, str], ...] = (
    ("new_leg_weakness", "New weakness or numbness in your legs"),
    (
        "saddle_numbness",
        "Numbness in the saddle area (between your legs, around your bottom)",
    ),
    ("bladder_bowel", "New problems controlling your bladder or bowel"),
    ("fever", "Fever or chills"),
    ("site_infection", "Redness, swelling or discharge where the needle went in"),
    (
        "postural_headache",
        "A severe headache that is worse when you sit or stand up",
    ),
    ("sudden_severe_pain", "Sudden, severe new pain"),
)

DEFAULT_DIARY_OFFSETS_MINUTES: tuple[int, ...] = (30, 60, 120, 240, 360, 480)

Answer = int | Sequence[int] | None
Number = int | float | Decimal


@dataclass(frozen=True)
class DisabilityScore:
    """A scored ODI or NDI questionnaire.

    ``percent`` and ``raw`` are unrounded; ``raw`` is the sum scaled to the full
    10-section instrument (0-50), so it equals the plain sum when nothing is missing.
    """

    instrument: str
    percent: Decimal
    raw: Decimal
    answered: int
    missing: tuple[str, ...]
    band: str

    def display(self) -> str:
        """Percent with one decimal, rounded half up as on paper forms, e.g. "34.0%"."""
        return f"{self.percent.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


def _is_int(value: object) -> bool:
    # bool is a subclass of int, but True is not a valid answer to a 0-5 item.
    return isinstance(value, int) and not isinstance(value, bool)


def _to_decimal(value: Number) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError(f"Expected a number, got {value!r}")
    # str() keeps the float as written (0.1 stays 0.1, not its binary expansion).
    return Decimal(str(value)) if isinstance(value, float) else Decimal(value)


def _section_value(section: str, value: Answer) -> int | None:
    """One section's score: None if unanswered, the highest box if several are ticked."""
    if value is None:
        return None
    ticked = list(value) if isinstance(value, list | tuple) else [value]
    for box in ticked:
        if not _is_int(box) or not 0 <= box <= 5:
            raise ValueError(f"Section {section!r}: answer {box!r} is not an integer 0-5")
    # No box ticked on paper is the same as leaving the section out.
    return max(ticked) if ticked else None


def _score_sections(
    instrument: str,
    sections: tuple[tuple[str, str], ...],
    answers: Mapping[str, Answer],
    max_missing: int,
) -> tuple[Decimal, Decimal, int, tuple[str, ...]] | None:
    """Shared ODI/NDI arithmetic: (percent, raw scaled to 50, answered, missing ids)."""
    known = {section_id for section_id, _ in sections}
    unknown = sorted(set(answers) - known)
    if unknown:
        raise ValueError(f"Unknown {instrument.upper()} section(s): {', '.join(unknown)}")
    scores = {
        section_id: _section_value(section_id, answers.get(section_id))
        for section_id, _ in sections
    }
    missing = tuple(section_id for section_id, score in scores.items() if score is None)
    answered = len(sections) - len(missing)
    if len(missing) > max_missing or answered == 0:
        return None
    total = sum(score for score in scores.values() if score is not None)
    full_scale = 5 * len(sections)
    # Multiply before dividing so that exact results stay exact (17 x 100 / 50 = 34).
    raw = Decimal(total * full_scale) / Decimal(5 * answered)
    percent = Decimal(total * 100) / Decimal(5 * answered)
    return percent, raw, answered, missing


def odi_band(percent: Decimal) -> str:
    """ODI disability band for a percent score.

    Fairbank JC, Pynsent PB. The Oswestry Disability Index. Spine 2000;25:2940-52:
    0-20 minimal, >20-40 moderate, >40-60 severe, >60-80 crippled,
    >80-100 bed-bound or exaggerating (upper edges belong to the lower band).
    """
    if percent <= 20:
        return "minimal"
    if percent <= 40:
        return "moderate"
    if percent <= 60:
        return "severe"
    if percent <= 80:
        return "crippled"
    return "bed-bound or exaggerating"


def odi_score(answers: Mapping[str, Answer], max_missing: int = 1) -> DisabilityScore | None:
    """Score the Oswestry Disability Index v2.1a.

    Fairbank JC, Pynsent PB. The Oswestry Disability Index. Spine 2000;25:2940-52.
    Each section scores 0-5; where several boxes are ticked the highest counts; None, an
    empty list or an absent key is a missing section. Score % = sum / (5 x answered) x 100,
    unrounded. Published implementations differ on missing sections, so the number allowed
    is a clinic setting (``max_missing``, default 1); with more missing there is no score.

    Raises ValueError naming the section for an unknown section id or an answer outside 0-5.
    """
    scored = _score_sections("odi", ODI_SECTIONS, answers, max_missing)
    if scored is None:
        return None
    percent, raw, answered, missing = scored
    return DisabilityScore("odi", percent, raw, answered, missing, odi_band(percent))


def ndi_band(raw: Decimal) -> str:
    """NDI disability band for a raw (0-50, prorated) score.

    Vernon H, Mior S. The Neck Disability Index: a study of reliability and validity.
    J Manipulative Physiol Ther 1991;14:409-15: 0-4 none, 5-14 mild, 15-24 moderate,
    25-34 severe, >=35 complete. A prorated raw score can fall between the published
    whole-number bands (e.g. 4.4), so each band runs up to the next band's lower edge.
    """
    if raw < 5:
        return "none"
    if raw < 15:
        return "mild"
    if raw < 25:
        return "moderate"
    if raw < 35:
        return "severe"
    return "complete"


def ndi_score(answers: Mapping[str, Answer], max_missing: int = 1) -> DisabilityScore | None:
    """Score the Neck Disability Index.

    Vernon H, Mior S. The Neck Disability Index: a study of reliability and validity.
    J Manipulative Physiol Ther 1991;14:409-15. Each item scores 0-5, raw 0-50,
    percent = raw x 2. Missing items are scored proportionally, as for the ODI: the raw
    score is scaled to the full instrument, raw = sum / (5 x answered) x 50, and banded
    on that prorated value. More missing items than ``max_missing`` gives no score.

    Raises ValueError naming the item for an unknown item id or an answer outside 0-5.
    """
    scored = _score_sections("ndi", NDI_SECTIONS, answers, max_missing)
    if scored is None:
        return None
    percent, raw, answered, missing = scored
    return DisabilityScore("ndi", percent, raw, answered, missing, ndi_band(raw))


def odi_mcid_reached(baseline_percent: Number, followup_percent: Number) -> bool:
    """Whether the ODI improved by its minimal clinically important change.

    Ostelo RW et al. Interpreting change scores for pain and functional status in low back
    pain. Spine 2008;33:90-4: an improvement of at least 10 points or at least 30% of the
    baseline score.
    """
    baseline = _to_decimal(baseline_percent)
    improvement = baseline - _to_decimal(followup_percent)
    # improvement > 0 stops "30% of a zero baseline" from counting no change as success.
    return improvement >= 10 or (improvement > 0 and improvement * 10 >= baseline * 3)


def ndi_mcid_reached(baseline_raw: Number, followup_raw: Number) -> bool:
    """Whether the NDI improved by its minimal clinically important difference.

    Young BA et al. Responsiveness of the Neck Disability Index in patients with
    mechanical neck disorders. Spine J 2009;9:802-8: at least 7.5 raw points.
    """
    return _to_decimal(baseline_raw) - _to_decimal(followup_raw) >= Decimal("7.5")


def validate_nrs(value: object) -> int:
    """Check an 11-point Numeric Rating Scale answer (0 no pain, 10 worst imaginable).

    Returns the value; raises ValueError unless it is an integer 0-10.
    """
    if not _is_int(value) or not 0 <= value <= 10:
        raise ValueError(f"NRS pain score must be an integer 0-10, got {value!r}")
    return value


def pgic_is_worse_alert(value: int) -> bool:
    """Whether a Patient Global Impression of Change answer should alert staff.

    NINDS Common Data Element, 7-point PGIC (see ``PGIC_CHOICES``): 6 "much worse" and
    7 "very much worse" alert. Raises ValueError unless the value is 1-7.
    """
    if not _is_int(value) or not 1 <= value <= 7:
        raise ValueError(f"PGIC answer must be an integer 1-7, got {value!r}")
    return value >= 6


def percent_relief(baseline_nrs: int, followup_nrs: int) -> Decimal | None:
    """Percent pain relief computed from two NRS-11 scores, unrounded.

    (baseline - follow-up) / baseline x 100, as used by IMMPACT (Dworkin RH et al.
    J Pain 2008;9:105-21). Undefined (None) when the baseline is 0; negative when pain
    is worse. This differs from the patient's own answer to "what % of your usual pain
    is relieved", which is a separate measure and is stored separately.
    """
    baseline = validate_nrs(baseline_nrs)
    followup = validate_nrs(followup_nrs)
    if baseline == 0:
        return None
    return Decimal((baseline - followup) * 100) / Decimal(baseline)


def immpact_category(percent_relief: Decimal | None) -> str:
    """IMMPACT category of a percent pain relief.

    Dworkin RH et al. Interpreting the clinical importance of treatment outcomes in
    chronic pain clinical trials: IMMPACT recommendations. J Pain 2008;9:105-21.
    IMMPACT calls 10-20% minimally important and >=30% moderately important; the 20-30%
    gap is counted as minimally important so every value has a category:
    <0 "worse", 0 to <10 "no meaningful change", 10 to <30 "minimally important",
    30 to <50 "moderately important", >=50 "substantial"; None "not computable".
    """
    if percent_relief is None:
        return "not computable"
    if percent_relief < 0:
        return "worse"
    if percent_relief < 10:
        return "no meaningful change"
    if percent_relief < 30:
        return "minimally important"
    if percent_relief < 50:
        return "moderately important"
    return "substantial"


def is_responder(percent_relief: Decimal | None, threshold: Number = 50) -> bool | None:
    """Whether a percent relief reaches ``threshold``; None when relief is not computable.

    The default 50% is IMMPACT's substantial relief (Dworkin RH et al. J Pain
    2008;9:105-21) and the repeat-procedure rule; diagnostic blocks use 80.
    """
    if percent_relief is None:
        return None
    return percent_relief >= _to_decimal(threshold)


def pain_worsened(baseline_nrs: int, followup_nrs: int, points: int = 2) -> bool:
    """Whether NRS-11 pain rose by at least ``points`` (follow-up >= baseline + points).

    The default of 2 points mirrors the ~2-point NRS change IMMPACT treats as
    moderately important (Dworkin RH et al. J Pain 2008;9:105-21).
    """
    return validate_nrs(followup_nrs) >= validate_nrs(baseline_nrs) + points


def red_flags_present(answers: Mapping[str, bool], codes: Sequence[str] | None = None) -> list[str]:
    """Codes of the red-flag questions answered yes, in the order of ``codes``.

    ``codes`` are the questions asked (followup.red_flags chooses them by region); the
    default is ``RED_FLAGS``, the screen used before questions went by region. Only
    ``True`` counts as yes; an unanswered question is not. Raises ValueError for a code
    that was not asked.
    """
    codes = [code for code, _ in RED_FLAGS] if codes is None else list(codes)
    unknown = sorted(set(answers) - set(codes))
    if unknown:
        raise ValueError(f"Unknown red flag(s): {', '.join(unknown)}")
    return [code for code in codes if answers.get(code) is True]


def diary_peak_relief(baseline_nrs: int, entries: Mapping[int, int | None]) -> Decimal | None:
    """Best percent relief over a diagnostic block's pain diary.

    ``entries`` maps minutes after the block (see ``DEFAULT_DIARY_OFFSETS_MINUTES``) to the
    NRS-11 score then, None if not recorded. Relief at each point is ``percent_relief``
    (IMMPACT, Dworkin RH et al. J Pain 2008;9:105-21). Returns None when no point was
    answered or the baseline is 0.
    """
    validate_nrs(baseline_nrs)
    reliefs = [
        percent_relief(baseline_nrs, score) for score in entries.values() if score is not None
    ]
    return max((relief for relief in reliefs if relief is not None), default=None)
