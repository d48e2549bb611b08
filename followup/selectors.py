"""Reads of the follow-up engine (the worklists' reads are in selectors_worklists)."""

from followup.models import Invitation, PreparationInstruction, Response


def baseline_response(appointment) -> Response | None:
    """The appointment's answered baseline survey, the reference for relief and worsening."""
    return Response.objects.filter(
        invitation__appointment=appointment, invitation__kind=Invitation.Kind.BASELINE
    ).first()


def open_baselines():
    """Baseline surveys that their patients can still answer."""
    return Invitation.objects.filter(kind=Invitation.Kind.BASELINE).exclude(
        status__in=(
            Invitation.Status.ANSWERED,
            Invitation.Status.EXPIRED,
            Invitation.Status.CANCELLED,
        )
    )


def open_baseline(appointment) -> Invitation | None:
    """A baseline survey of the appointment that the patient can still answer.

    Uses `appointment.open_baselines` when the dispatcher prefetched it for a batch.
    """
    if hasattr(appointment, "open_baselines"):
        return next(iter(appointment.open_baselines), None)
    return open_baselines().filter(appointment=appointment).first()


def preparation_for(procedure_type, language: str) -> list[PreparationInstruction]:
    """Preparation points in the patient's language, in English where none is written.

    Reads the prefetched `preparation_instructions` of `procedure_type` when there are.
    """
    rows = list(procedure_type.preparation_instructions.all())
    chosen = [row for row in rows if row.language == language]
    return chosen or [row for row in rows if row.language == "en"]
