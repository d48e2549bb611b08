"""Diagnostic blocks counted: the pain diary's peak relief within the block's duration.

A diagnostic block (a medial branch block, a selective nerve root block) numbs the nerve
for as long as its local anaesthetic lasts (lidocaine ~1-2 h, bupivacaine ~4-6 h). The
patient scores their pain at set times after it (the same-day pain diary); the block is
positive when the best % relief against the pain before the block, counting only the diary
times within the anaesthetic's expected duration, reaches the clinic's threshold (>=80%
before RFA). Duration and threshold are protocol data (`DiagnosticBlockProtocol`). Source:
shared/reference/clinical.md ("Diagnostic block"; CMS LCD L38803 family for the 80%).

`block_result` is the pure rule; `peak_relief_by_appointment` reads it for many
appointments in two queries whatever their number (for the appointment page, the patient
page, the outcome rows and the pathway and recall rules).
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, F, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from followup import scoring
from followup.models import Invitation, OutcomeEpisode, Response
from scheduling.models import Appointment

POSITIVE = "positive"
NEGATIVE = "negative"
INCOMPLETE = "incomplete"

LABELS = {
    POSITIVE: "Positive block",
    NEGATIVE: "Negative block",
    INCOMPLETE: "Incomplete diary",
}


@dataclass(frozen=True)
class DiaryPoint:
    """One diary time: minutes after the block, the NRS then, its % relief, and whether it
    lies within the anaesthetic's expected duration (only those count)."""

    minutes: int
    nrs: int
    relief: Decimal | None
    counted: bool


@dataclass(frozen=True)
class BlockResult:
    """A diagnostic block's reading of its diary. `peak_relief` is unrounded (None when no
    diary time within the window was answered, or there is no pain before the block)."""

    result: str
    peak_relief: Decimal | None
    threshold: int
    window_minutes: int
    baseline_nrs: int | None
    points: tuple[DiaryPoint, ...] = field(default=())
    reason: str = ""

    @property
    def is_positive(self) -> bool:
        return self.result == POSITIVE

    @property
    def label(self) -> str:
        return LABELS[self.result]

    @property
    def window_hours(self) -> str:
        """The window as staff read it: "6 h", "1.5 h"."""
        return f"{Decimal(self.window_minutes) / 60:g} h"

    def summary(self) -> str:
        """One line for staff: result, peak relief and the rule it was read by."""
        rule = f"≥{self.threshold}% within {self.window_hours}"
        if self.peak_relief is None:
            return f"{self.label}: {self.reason} ({rule})"
        return f"{self.label}: peak relief {self.peak_relief:.0f}% ({rule})"


def block_result(
    *,
    baseline_nrs: int | None,
    diary: dict | None,
    window_minutes: int,
    threshold: int,
) -> BlockResult:
    """Read one block's diary against the pain before the block.

    `diary` maps minutes after the block (int or str, as stored) to an NRS-11 score or None.
    Relief at each time is `scoring.percent_relief` (IMMPACT, Dworkin RH et al. J Pain
    2008;9:105-21); the peak is the best relief among the times <= `window_minutes`.
    Positive at peak >= `threshold`; negative below it; incomplete when there is no diary,
    no pain score before the block (or 0: relief is undefined), or no answered time within
    the window.
    """
    points = []
    for minutes, nrs in sorted((int(m), s) for m, s in (diary or {}).items()):
        if nrs is None:
            continue
        relief = scoring.percent_relief(baseline_nrs, nrs) if baseline_nrs is not None else None
        points.append(DiaryPoint(minutes, nrs, relief, minutes <= window_minutes))
    common = {
        "threshold": threshold,
        "window_minutes": window_minutes,
        "baseline_nrs": baseline_nrs,
        "points": tuple(points),
    }
    if diary is None:
        return BlockResult(INCOMPLETE, None, reason="no diary answered", **common)
    if baseline_nrs is None:
        return BlockResult(INCOMPLETE, None, reason="no pain score before the block", **common)
    if baseline_nrs == 0:
        return BlockResult(INCOMPLETE, None, reason="no pain before the block", **common)
    counted = [point.relief for point in points if point.counted]
    if not counted:
        return BlockResult(
            INCOMPLETE, None, reason="no diary time answered within the window", **common
        )
    peak = max(counted)
    result = POSITIVE if peak >= threshold else NEGATIVE
    return BlockResult(result, peak, **common)


def peak_relief_by_appointment(appointment_ids) -> dict[int, BlockResult]:
    """Each diagnostic block's `BlockResult`, by appointment id, in two queries.

    Only appointments whose procedure type has a `DiagnosticBlockProtocol` are in the
    answer. The pain before the block is the baseline survey's "pain now"; the diary is the
    answered diary survey (the first, should a plan ask for two).
    """
    ids = list(appointment_ids)
    if not ids:
        return {}
    return block_results(
        {
            row["id"]: row
            for row in Appointment.objects.filter(
                pk__in=ids, procedure_type__block_protocol__isnull=False
            ).values("id", **protocol_fields())
        }
    )


def protocol_fields() -> dict:
    """The block protocol's `hours` and `threshold` as annotations of an appointment query
    (None for procedures without one): what `block_results` reads."""
    return {
        "hours": _protocol("expected_duration_hours"),
        "threshold": _protocol("positive_threshold"),
    }


def block_results(protocols: dict[int, dict]) -> dict[int, BlockResult]:
    """`peak_relief_by_appointment` of appointments whose protocols the caller has read
    ({appointment id: {"hours", "threshold"}}, see `protocol_fields`), in one query."""
    if not protocols:
        return {}
    baselines, diaries = {}, {}
    rows = (
        Response.objects.filter(invitation__appointment_id__in=list(protocols))
        .filter(Q(invitation__kind=Invitation.Kind.BASELINE) | Q(answers__has_key="diary"))
        .order_by("submitted_at", "pk")
        .values("invitation__appointment_id", "invitation__kind", "nrs_current", "answers__diary")
    )
    for row in rows:
        appointment_id = row["invitation__appointment_id"]
        if row["invitation__kind"] == Invitation.Kind.BASELINE:
            baselines.setdefault(appointment_id, row["nrs_current"])
        elif row["answers__diary"]:
            diaries.setdefault(appointment_id, row["answers__diary"])
    return {
        appointment_id: block_result(
            baseline_nrs=baselines.get(appointment_id),
            diary=diaries.get(appointment_id),
            window_minutes=int(protocol["hours"] * 60),
            threshold=protocol["threshold"],
        )
        for appointment_id, protocol in protocols.items()
    }


def _protocol(name: str) -> F:
    return F(f"procedure_type__block_protocol__{name}")


def positive_blocks_before():
    """SQL: how many positive diagnostic blocks the episode's patient had at the same region
    and side in the 365 days before it (outcome episodes, `OutcomeEpisode.block_result`).

    "Two positive blocks before RFA" is the pathway the outcomes page compares against RFA
    without them (CMS LCD L38803 family, as summarised in shared/reference/clinical.md).
    """
    earlier = OutcomeEpisode.objects.filter(
        patient=OuterRef("patient"),
        region=OuterRef("region"),
        laterality=OuterRef("laterality"),
        block_result=POSITIVE,
        treated_on__lt=OuterRef("treated_on"),
        treated_on__gte=OuterRef("treated_on") - datetime.timedelta(days=365),
    )
    counted = earlier.order_by().values("patient").annotate(count=Count("pk")).values("count")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)
