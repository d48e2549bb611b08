"""Outcome measures of a treated episode, and the statistics the outcomes page shows.

Pure Python: no Django, no database, so every number can be checked by hand (see
tests/test_outcomes_computation.py). The per-episode rules use followup.scoring; the
sources are named where each rule is applied:

- percent relief and IMMPACT categories: Dworkin RH et al. J Pain 2008;9:105-21;
- responders at >=30% (moderately important) and >=50% (substantial): same source;
- ODI MCID 10 points or 30% (Ostelo RW et al. Spine 2008;33:90-4), NDI MCID 7.5 raw
  points (Young BA et al. Spine J 2009;9:802-8);
- PGIC 1-2, "much" or "very much improved" (NINDS common data element) counts as improved;
- durability: days until relief first falls below 50%, censored at the last answer,
  estimated by Kaplan EL, Meier P. J Am Stat Assoc 1958;53:457-81;
- proportions with the Wilson score interval (Wilson EB. J Am Stat Assoc 1927;22:209-12;
  recommended by Newcombe RG. Stat Med 1998;17:857-72), never shown for fewer than 5.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from followup import scoring

# Follow-up points as the care plans have them: (code, label, days after the procedure).
POINTS: tuple[tuple[str, str, int], ...] = (
    ("d1", "Day 1", 1),
    ("w2", "2 weeks", 14),
    ("m1", "1 month", 30),
    ("w6", "6 weeks", 42),
    ("m3", "3 months", 91),
    ("m6", "6 months", 182),
    ("m12", "12 months", 365),
)
POINT_CODES = tuple(code for code, _label, _days in POINTS)
POINT_LABELS = {code: label for code, label, _days in POINTS}

RESPONDER_MODERATE = 30  # IMMPACT "moderately important"
RESPONDER_SUBSTANTIAL = 50  # IMMPACT "substantial"; also the durability threshold
# Groups smaller than this show no rate (clinical.md, "Outcome analysis").
MIN_GROUP = 5
# Two-sided 95%: the 0.975 quantile of the standard normal distribution.
Z_95 = 1.959963984540054

SURVEY = "survey"
NURSE = "nurse"


def point_for(days: int) -> str:
    """The follow-up point a survey belongs to, by its days after the procedure.

    The nearest point on a log scale, so that 8 days is nearer 2 weeks than day 1 and
    9 months is nearer 12 months than 6 (ratios 1.33 and 1.5, not distances). A survey
    on the day of the procedure (a same-day diary) counts as day 1.
    """
    days = max(days, 1)
    return min(POINTS, key=lambda point: abs(math.log(days / point[2])))[0]


@dataclass(frozen=True)
class Baseline:
    """The reference before the procedure: the baseline survey, else the nurse's score.

    `source` is SURVEY or NURSE; the nurse records one NRS, pain now, before the procedure.
    """

    source: str
    nrs_current: int | None = None
    nrs_average: int | None = None
    odi_percent: Decimal | None = None
    ndi_percent: Decimal | None = None


@dataclass(frozen=True)
class FollowUp:
    """One answered follow-up survey, `days` after the procedure (step offset if planned)."""

    days: int
    nrs_current: int | None = None
    nrs_average: int | None = None
    pgic: int | None = None
    odi_percent: Decimal | None = None
    ndi_percent: Decimal | None = None


def choose_baseline(survey: Baseline | None, nurse_nrs: int | None) -> Baseline | None:
    """The baseline survey when it has a pain score; else the nurse's pre-procedure NRS.

    Disability (ODI/NDI) comes only from the survey: the nurse does not score it.
    """
    if survey is not None and (survey.nrs_current is not None or survey.nrs_average is not None):
        return survey
    if nurse_nrs is None:
        return survey
    return Baseline(
        source=NURSE,
        nrs_current=nurse_nrs,
        odi_percent=survey.odi_percent if survey else None,
        ndi_percent=survey.ndi_percent if survey else None,
    )


def relief_against(baseline: Baseline, followup: FollowUp) -> tuple[int | None, Decimal | None]:
    """(baseline NRS used, percent relief) on the same NRS item at both ends.

    Average pain over the last week where both have it, else pain now, as the follow-up
    engine computes a response's relief (followup.services). The nurse's score is pain now.
    """
    for key in ("nrs_average", "nrs_current"):
        before, after = getattr(baseline, key), getattr(followup, key)
        if before is not None and after is not None:
            return before, scoring.percent_relief(before, after)
    return None, None


@dataclass
class EpisodeMeasures:
    """What one treated episode came to; `relief[point]` and the flags per point."""

    baseline_nrs: int | None = None
    baseline_source: str = ""
    has_followup: bool = False
    relief: dict[str, Decimal | None] = field(default_factory=dict)
    responder30: dict[str, bool | None] = field(default_factory=dict)
    responder50: dict[str, bool | None] = field(default_factory=dict)
    last_point: str = ""
    last_relief: Decimal | None = None
    immpact_category: str = ""
    responder_30: bool | None = None
    responder_50: bool | None = None
    disability_instrument: str = ""
    disability_baseline: Decimal | None = None
    disability_last: Decimal | None = None
    disability_change: Decimal | None = None
    disability_mcid: bool | None = None
    pgic_last: int | None = None
    pgic_improved: bool | None = None
    durable_days: int | None = None
    durable_event: bool | None = None


def episode_measures(
    baseline: Baseline | None, followups: Iterable[FollowUp], disability_instrument: str
) -> EpisodeMeasures:
    """The outcome measures of one episode from its baseline and answered follow-ups.

    - relief at each point: the survey nearest that point's day (`point_for`); two in one
      point (daily diaries of a stimulator trial), the one whose day is nearest;
    - the episode's IMMPACT category and responder flags are those of its last answer with
      a relief (the most recent known state);
    - ODI/NDI change = baseline minus the last score, positive is better; ODI in percent
      points, NDI in raw points (0-50, percent / 2) as its MCID is stated;
    - PGIC improved = the last PGIC answer is 1 or 2;
    - durability: the days of the first answer with relief below 50% (an event); with none
      below, censored at the days of the last answer with a relief.
    """
    followups = sorted(followups, key=lambda f: f.days)
    measures = EpisodeMeasures(has_followup=bool(followups))
    if baseline is not None:
        measures.baseline_source = baseline.source
    chosen: dict[str, tuple[int, Decimal]] = {}
    reliefs: list[tuple[int, Decimal]] = []
    for followup in followups:
        used, relief = relief_against(baseline, followup) if baseline else (None, None)
        if relief is None:
            continue
        measures.baseline_nrs = used if measures.baseline_nrs is None else measures.baseline_nrs
        reliefs.append((followup.days, relief))
        point = point_for(followup.days)
        point_days = dict((code, days) for code, _label, days in POINTS)[point]
        distance = abs(math.log(max(followup.days, 1) / point_days))
        if point not in chosen or distance < chosen[point][0]:
            chosen[point] = (distance, relief)
    if baseline is not None and measures.baseline_nrs is None:
        measures.baseline_nrs = (
            baseline.nrs_average if baseline.nrs_average is not None else baseline.nrs_current
        )
    for code in POINT_CODES:
        relief = chosen[code][1] if code in chosen else None
        measures.relief[code] = relief
        measures.responder30[code] = scoring.is_responder(relief, RESPONDER_MODERATE)
        measures.responder50[code] = scoring.is_responder(relief, RESPONDER_SUBSTANTIAL)
    if reliefs:
        last_days, last_relief = reliefs[-1]
        measures.last_point = point_for(last_days)
        measures.last_relief = last_relief
        measures.immpact_category = scoring.immpact_category(last_relief)
        measures.responder_30 = scoring.is_responder(last_relief, RESPONDER_MODERATE)
        measures.responder_50 = scoring.is_responder(last_relief, RESPONDER_SUBSTANTIAL)
        below = next((days for days, relief in reliefs if relief < RESPONDER_SUBSTANTIAL), None)
        measures.durable_event = below is not None
        measures.durable_days = below if below is not None else last_days
    _disability(measures, baseline, followups, disability_instrument)
    pgics = [f.pgic for f in followups if f.pgic is not None]
    if pgics:
        measures.pgic_last = pgics[-1]
        measures.pgic_improved = pgics[-1] <= 2
    return measures


def _disability(measures, baseline, followups, instrument):
    if baseline is None or instrument not in ("odi", "ndi"):
        return
    key = f"{instrument}_percent"
    before = getattr(baseline, key)
    after = [getattr(f, key) for f in followups if getattr(f, key) is not None]
    if before is None or not after:
        return
    measures.disability_instrument = instrument
    if instrument == "odi":
        measures.disability_baseline, measures.disability_last = before, after[-1]
        measures.disability_mcid = scoring.odi_mcid_reached(before, after[-1])
    else:
        # NDI's MCID is in raw points (0-50); the percent is raw x 2.
        measures.disability_baseline, measures.disability_last = before / 2, after[-1] / 2
        measures.disability_mcid = scoring.ndi_mcid_reached(before / 2, after[-1] / 2)
    measures.disability_change = measures.disability_baseline - measures.disability_last


# --- Statistics over a group ---------------------------------------------------------------


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval for a proportion (Wilson EB. JASA 1927;22:209-12).

    Newcombe RG. Two-sided confidence intervals for the single proportion: comparison of
    seven methods. Stat Med 1998;17:857-72 (method 3) gives the worked values the tests
    check, e.g. 81/263 -> 0.2553 to 0.3662. Unlike the textbook p +/- 1.96 SE it stays
    inside 0..1 and behaves for small n and proportions near 0 or 1.
    """
    if n <= 0:
        raise ValueError("A proportion needs at least one observation.")
    if not 0 <= successes <= n:
        raise ValueError(f"{successes} successes out of {n} is not a proportion.")
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Rate:
    """k of n, with its 95% Wilson interval; `suppressed` when n is under MIN_GROUP."""

    k: int
    n: int

    @property
    def suppressed(self) -> bool:
        return self.n < MIN_GROUP

    @property
    def value(self) -> float | None:
        return None if self.suppressed else self.k / self.n

    @property
    def interval(self) -> tuple[float, float] | None:
        return None if self.suppressed else wilson_interval(self.k, self.n)

    def display(self) -> str:
        """ "62% (95% CI 48-74%, 31 of 50)", or why no rate is shown."""
        if self.n == 0:
            return "no answers"
        if self.suppressed:
            return f"fewer than {MIN_GROUP} answers ({self.n})"
        low, high = self.interval
        return f"{self.value:.0%} (95% CI {low * 100:.0f}–{high * 100:.0f}%, {self.k} of {self.n})"


@dataclass(frozen=True)
class KMStep:
    """One time of the Kaplan-Meier estimate: who was at risk, what happened, S(t) after."""

    days: int
    at_risk: int
    events: int
    censored: int
    survival: float


def kaplan_meier(counts: Iterable[tuple[int, int, int]]) -> list[KMStep]:
    """Kaplan-Meier estimate of staying >=50% relieved (Kaplan & Meier, JASA 1958).

    `counts` are (days, events, censored) per distinct time, in any order (the database
    groups the episodes). S(t) = product over event times t_i <= t of (1 - d_i / n_i),
    where n_i counts those still followed at t_i: an episode censored at t_i is counted
    at risk at t_i (censoring is taken to happen just after the events of that time).
    """
    merged: dict[int, list[int]] = {}
    for days, events, censored in counts:
        row = merged.setdefault(int(days), [0, 0])
        row[0] += int(events)
        row[1] += int(censored)
    at_risk = sum(events + censored for events, censored in merged.values())
    survival = 1.0
    steps = []
    for days in sorted(merged):
        events, censored = merged[days]
        if events:
            survival *= 1 - events / at_risk
        steps.append(KMStep(days, at_risk, events, censored, survival))
        at_risk -= events + censored
    return steps


def km_survival_at(steps: Sequence[KMStep], days: int) -> float | None:
    """S(days) read off the steps: None beyond the last time anyone was followed."""
    if not steps or days > steps[-1].days:
        return None
    survival = 1.0
    for step in steps:
        if step.days > days:
            break
        survival = step.survival
    return survival


def km_median(steps: Sequence[KMStep]) -> int | None:
    """The first time S(t) is at or below 0.5; None while more than half stay relieved."""
    return next((step.days for step in steps if step.survival <= 0.5), None)
