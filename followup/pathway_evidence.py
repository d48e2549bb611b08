"""What follow-up knows that the pathway rules read (scheduling.pathway providers).

Relief after an appointment: the patient's own % relief answer, % relief computed from NRS
against the baseline, and a diagnostic block's diary peak relief, each reported on its own.
A diagnostic block counts as positive on its peak relief (clinical.md: "peak % relief
within the local anaesthetic's expected duration"); the diary's own peak is used as the
diary scoring stores it.
"""

from followup.models import Invitation, Response
from scheduling import pathway

_RELIEF_FIELDS = (
    ("patient_rated_relief", "patient-rated"),
    ("percent_relief", "NRS against baseline"),
    ("diary_peak_relief", "diary peak"),
)


def relief_reported(appointments) -> list[pathway.Relief]:
    ids = [a.pk for a in appointments]
    if not ids:
        return []
    found = []
    responses = Response.objects.filter(invitation__appointment_id__in=ids).values(
        "invitation__appointment_id", "submitted_at", *(name for name, _ in _RELIEF_FIELDS)
    )
    for row in responses:
        for name, label in _RELIEF_FIELDS:
            if row[name] is not None:
                found.append(
                    pathway.Relief(
                        appointment_id=row["invitation__appointment_id"],
                        at=row["submitted_at"],
                        percent=float(row[name]),
                        source=label,
                    )
                )
    return found


def baseline_recorded(patient, since, until) -> list[pathway.Evidence]:
    """Answers with both pain (NRS) and function (ODI or NDI) in [since, until]."""
    rows = (
        Response.objects.filter(patient=patient, submitted_at__gte=since, submitted_at__lte=until)
        .exclude(nrs_current=None, nrs_average=None, nrs_worst=None)
        .exclude(odi_percent=None, ndi_percent=None)
        .values("submitted_at", "invitation__kind")
    )
    kinds = dict(Invitation.Kind.choices)
    return [
        pathway.Evidence(
            text=f"Pain and function recorded ({kinds.get(r['invitation__kind'], 'survey')})",
            date=r["submitted_at"].date().isoformat(),
        )
        for r in rows
    ]


def register() -> None:
    pathway.register("relief", relief_reported)
    pathway.register("baseline", baseline_recorded)
