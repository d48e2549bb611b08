"""Reads of the follow-up engine (the worklists' reads are in selectors_worklists)."""

from followup.models import Invitation, PreparationInstruction, Response


def baseline_response(appointment) -> Response | None:
    """The appointment's answered baseline survey, the reference for relief and worsening."""
    return Response.objects.filter(
        invitation__appointment=appointment, invitation__kind=Invitation.Kind.BASELINE
    ).first()


def open_baseline(appointment) -> Invitation | None:
    """A baseline survey of the appointment that the patient can still answer."""
    return (
        Invitation.objects.filter(appointment=appointment, kind=Invitation.Kind.BASELINE)
        .exclude(
            status__in=(
                Invitation.Status.ANSWERED,
                Invitation.Status.EXPIRED,
                Invitation.Status.CANCELLED,
            )
        )
        .first()
    )


def preparation_for(procedure_type, language: str) -> list[PreparationInstruction]:
    """Preparation points in the patient's language, in English where none is written."""
    rows = list(PreparationInstruction.objects.filter(procedure_type=procedure_type))
    chosen = [row for row in rows if row.language == language]
    return chosen or [row for row in rows if row.language == "en"]
