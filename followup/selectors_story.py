"""The patient's own story for their page: pain and disability over time, each procedure
marked, and the pain diary of each diagnostic block.

Three queries whatever the history's length (procedures with their block protocols, the
blocks' diaries, answered surveys). The chart reads `chart` (through `json_script`); the page
shows the same numbers as tables and a text summary, so nothing is in the chart only: the
table of scores shows the latest, the patient's follow-up page all of them.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from followup.blocks import BlockResult, block_results, protocol_fields
from followup.models import Response
from followup.selectors_patient import RECENT_ROWS
from scheduling.models import Appointment, Status

# Procedures that took place: the ones the story marks.
PERFORMED = (Status.IN_PROCEDURE, Status.IN_RECOVERY, Status.DISCHARGED, Status.COMPLETED)


@dataclass(frozen=True)
class Procedure:
    appointment_id: int
    at: object
    name: str
    side_and_level: str
    block: BlockResult | None

    @property
    def label(self) -> str:
        return f"{self.name} {self.side_and_level}".strip()

    @property
    def day(self) -> str:
        return _day(self.at)


@dataclass(frozen=True)
class Point:
    """One answered survey's scores (None where it did not ask)."""

    at: object
    survey: str
    nrs_current: int | None
    nrs_average: int | None
    odi: Decimal | None
    ndi: Decimal | None

    @property
    def day(self) -> str:
        return _day(self.at)


@dataclass(frozen=True)
class Story:
    procedures: list[Procedure]
    points: list[Point]
    summary: str

    @property
    def recent_points(self) -> list[Point]:
        """The latest scores, for the page's table; the chart draws them all and the
        patient's follow-up page lists them all."""
        return self.points[-RECENT_ROWS:]

    @property
    def blocks(self) -> list[Procedure]:
        return [procedure for procedure in self.procedures if procedure.block is not None]

    def chart(self) -> dict:
        """The timeline and diary curves as plain JSON for static/clinic/story.js."""
        return {
            "timeline": {
                "points": [
                    {
                        "t": _ms(point.at),
                        "date": _day(point.at),
                        "nrs_current": point.nrs_current,
                        "nrs_average": point.nrs_average,
                        "odi": _number(point.odi),
                        "ndi": _number(point.ndi),
                    }
                    for point in self.points
                ],
                "procedures": [
                    {"t": _ms(p.at), "date": _day(p.at), "label": p.label} for p in self.procedures
                ],
            },
            "blocks": [
                {
                    "id": procedure.appointment_id,
                    "label": f"{procedure.label}, {_day(procedure.at)}",
                    "baseline": procedure.block.baseline_nrs,
                    "window": procedure.block.window_minutes,
                    "points": [
                        {"minutes": point.minutes, "nrs": point.nrs, "counted": point.counted}
                        for point in procedure.block.points
                    ],
                }
                for procedure in self.blocks
            ],
        }


def _ms(at) -> int:
    return int(at.timestamp() * 1000)


def _day(at) -> str:
    return timezone.localtime(at).date().isoformat()


def _number(value: Decimal | None) -> float | None:
    return None if value is None else round(float(value), 1)


def patient_story(*, patient) -> Story:
    """The patient's procedures (oldest first, with their block results) and survey scores."""
    appointments = list(
        Appointment.objects.filter(patient=patient, status__in=PERFORMED)
        .select_related("procedure_type")
        .only("starts_at", "laterality", "levels", "procedure_type__name")
        .annotate(**protocol_fields())
        .order_by("starts_at", "pk")
    )
    blocks = block_results(
        {
            appointment.pk: {"hours": appointment.hours, "threshold": appointment.threshold}
            for appointment in appointments
            if appointment.threshold is not None
        }
    )
    procedures = [
        Procedure(
            appointment.pk,
            appointment.starts_at,
            appointment.procedure_type.name,
            appointment.side_and_level,
            blocks.get(appointment.pk),
        )
        for appointment in appointments
    ]
    points = score_points(patient=patient)
    return Story(procedures, points, _summary(procedures, points))


def score_points(*, patient) -> list[Point]:
    """The patient's answered surveys that scored pain or disability, oldest first."""
    rows = (
        Response.objects.filter(patient=patient)
        .exclude(nrs_current=None, nrs_average=None, odi_percent=None, ndi_percent=None)
        .order_by("submitted_at", "pk")
        .values(
            "submitted_at",
            "invitation__step__name",
            "invitation__kind",
            "nrs_current",
            "nrs_average",
            "odi_percent",
            "ndi_percent",
        )
    )
    return [
        Point(
            row["submitted_at"],
            row["invitation__step__name"]
            or ("Baseline" if row["invitation__kind"] == "baseline" else "Survey"),
            row["nrs_current"],
            row["nrs_average"],
            row["odi_percent"],
            row["ndi_percent"],
        )
        for row in rows
    ]


def _change(points: list[Point], attribute: str, label: str, unit: str = "") -> str | None:
    values = [(p.at, getattr(p, attribute)) for p in points if getattr(p, attribute) is not None]
    if not values:
        return None
    (first_at, first), (last_at, last) = values[0], values[-1]
    fmt = (lambda v: f"{v:.1f}{unit}") if unit else str
    if len(values) == 1:
        return f"{label} {fmt(first)} on {_day(first_at)}"
    return f"{label} went from {fmt(first)} on {_day(first_at)} to {fmt(last)} on {_day(last_at)}"


def _summary(procedures: list[Procedure], points: list[Point]) -> str:
    """The chart in words, for screen readers and a quick read."""
    if not procedures and not points:
        return "No procedures and no answered surveys yet."
    parts = []
    if procedures:
        names = "; ".join(f"{_day(p.at)} {p.label}" for p in procedures)
        parts.append(f"{len(procedures)} procedure{'s' if len(procedures) != 1 else ''}: {names}.")
    changes = [
        _change(points, "nrs_current", "Pain now (NRS)"),
        _change(points, "nrs_average", "Average pain (NRS)"),
        _change(points, "odi", "ODI", "%"),
        _change(points, "ndi", "NDI", "%"),
    ]
    changes = [change for change in changes if change]
    if changes:
        parts.append(f"{'; '.join(changes)}.")
    else:
        parts.append("No pain or disability scores answered yet.")
    for procedure in procedures:
        if procedure.block is not None:
            parts.append(f"{procedure.name} on {_day(procedure.at)}: {procedure.block.summary()}.")
    return " ".join(parts)
