"""What follow-up knows that the pathway rules read (scheduling.pathway providers).

Relief after an appointment: the patient's own % relief answer, % relief computed from NRS
against the baseline, and a diagnostic block's diary peak relief, each reported on its own.
A diagnostic block with a block protocol reports its diary's peak relief within the local
anaesthetic's expected duration (followup.blocks; clinical.md "Diagnostic block"), instead
of the stored diary peak.
"""

from followup.blocks import peak_relief_by_appointment
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
    blocks = peak_relief_by_appointment(ids)
    starts = {a.pk: a.starts_at for a in appointments}
    for appointment_id, block in blocks.items():
        if block.peak_relief is not None:
            found.append(
                pathway.Relief(
                    appointment_id=appointment_id,
                    at=starts[appointment_id],
                    percent=float(block.peak_relief),
                    source=f"diary peak within {block.window_hours}",
                )
            )
    responses = Response.objects.filter(invitation__appointment_id__in=ids).values(
        "invitation__appointment_id", "submitted_at", *(name for name, _ in _RELIEF_FIELDS)
    )
    for row in responses:
        for name, label in _RELIEF_FIELDS:
            read_by_protocol = (
                name == "diary_peak_relief" and row["invitation__appointment_id"] in blocks
            )
            if row[name] is not None and not read_by_protocol:
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
