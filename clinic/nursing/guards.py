"""Safety rules on the nurse's status changes, for every caller (pages, API, admin).

Registered with scheduling.services.register_transition_guard, so
`appointment_transition` refuses a start while hard stops fail, and a discharge while the
discharge criteria are not met. A physician may override a failed hard stop the protocol
marks overridable, each with its own reason (recorded per stop), and the discharge criteria
with one reason.
"""

from clinic.audit import audit_record
from clinic.models import AuditEvent
from clinic.nursing import rules
from clinic.nursing.models import ChecklistAnswer, HardStopOverride
from clinic.refusals import Reason
from clinic.roles import clinical_role_allows
from scheduling.models import Status
from scheduling.services import (
    UNDO_CHECK_IN,
    Overrides,
    TransitionRefused,
    register_transition_guard,
)

OVERRIDE_PERMISSION = "nursing.override_hard_stop"
START_BLOCKED = "start_blocked"
DISCHARGE_BLOCKED = "discharge_blocked"
DISCHARGE_STOP = "discharge"
# Who may make each of the nurse's status changes.
RECORDER_PERMISSIONS = {
    Status.IN_PROCEDURE: ("nursing.add_checklistanswer", "start a procedure"),
    Status.IN_RECOVERY: ("nursing.add_observationround", "move a patient to recovery"),
    Status.DISCHARGED: ("nursing.add_discharge", "discharge a patient"),
}


class HardStopRefused(TransitionRefused):
    """A status change refused by safety checks: `detail` is the heading, and each failed
    check is a reason under `code`."""


def _require_recorder(actor, to: str) -> None:
    permission, action = RECORDER_PERMISSIONS[to]
    # A nurse or physician by role: a superuser without one is no clinician.
    if actor is not None and not clinical_role_allows(actor, permission):
        raise TransitionRefused(f"Only a nurse or a physician can {action}.", code="recorder_only")


def _reason(stop: rules.Stop) -> Reason:
    return Reason(START_BLOCKED, stop.message, stop=stop.stop, overridable=stop.overridable)


def _record_override(appointment, actor, *, to, stop, item, failures, reason):
    override = HardStopOverride.objects.create(
        appointment=appointment,
        to_status=to,
        stop=stop,
        item=item,
        failures=failures,
        reason=reason,
        by=actor,
    )
    audit_record(
        user=actor,
        action=AuditEvent.Action.CHANGE,
        obj=override,
        patient=appointment.patient,
        detail=f"hard stop override ({stop}) to {Status(to).label}: {reason}",
    )


def _refuse_a_non_physician(actor, overrides, reasons, *, code, heading):
    if overrides and not clinical_role_allows(actor, OVERRIDE_PERMISSION):
        raise HardStopRefused(
            reasons, code=code, detail=f"{heading} Only a physician can override a hard stop."
        )


@register_transition_guard(Status.IN_PROCEDURE)
def hard_stops_before_start(appointment, actor, overrides: Overrides) -> None:
    """Every required pre-procedure, sign-in and time-out item signed, no hard stop
    failed, the time-out confirmed by nurse and physician.

    A physician may let one failed hard stop pass with a reason of its own, where the
    protocol marks its item overridable; one reason never waives another stop, and an
    unanswered item, the sign-in, the time-out and its confirmations are never waived.
    """
    _require_recorder(actor, Status.IN_PROCEDURE)
    stops = rules.start_stops(appointment)
    if not stops:
        return
    heading = "The procedure cannot start yet."
    _refuse_a_non_physician(
        actor, overrides, [_reason(s) for s in stops], code=START_BLOCKED, heading=heading
    )
    # A reason without a stop is taken only where it can mean one stop alone.
    general = overrides.general.strip()
    only = stops[0].stop if general and len(stops) == 1 and stops[0].overridable else None
    waived = {
        s.stop: overrides.for_stop(s.stop) or (general if s.stop == only else "")
        for s in stops
        if s.overridable
    }
    blocking = [s for s in stops if not waived.get(s.stop)]
    if blocking:
        if any(overrides.for_stop(s.stop) for s in blocking):
            heading += " The sign-in, the time-out and unanswered items cannot be overridden."
        raise HardStopRefused([_reason(s) for s in blocking], code=START_BLOCKED, detail=heading)
    for stop in stops:
        _record_override(
            appointment,
            actor,
            to=Status.IN_PROCEDURE,
            stop=stop.stop,
            item=stop.item,
            failures=stop.message,
            reason=waived[stop.stop],
        )


@register_transition_guard(Status.IN_RECOVERY)
def recorder_moves_to_recovery(appointment, actor, overrides: Overrides) -> None:
    _require_recorder(actor, Status.IN_RECOVERY)


@register_transition_guard(Status.DISCHARGED)
def discharge_criteria(appointment, actor, overrides: Overrides) -> None:
    """Discharge score at threshold, sign-out complete, last NEWS2 not in an escalation
    band; or a physician's override of the criteria together (stop "discharge"): the
    physician sees the patient and decides as a whole."""
    _require_recorder(actor, Status.DISCHARGED)
    failures = rules.discharge_blockers(appointment)
    if not failures:
        return
    heading = "The patient cannot be discharged yet."
    reasons = [Reason(DISCHARGE_BLOCKED, f) for f in failures]
    _refuse_a_non_physician(actor, overrides, reasons, code=DISCHARGE_BLOCKED, heading=heading)
    reason = overrides.for_stop(DISCHARGE_STOP) or overrides.general.strip()
    if not reason:
        raise HardStopRefused(reasons, code=DISCHARGE_BLOCKED, detail=heading)
    _record_override(
        appointment,
        actor,
        to=Status.DISCHARGED,
        stop=DISCHARGE_STOP,
        item=None,
        failures="\n".join(failures),
        reason=reason,
    )


@register_transition_guard(UNDO_CHECK_IN)
def no_undo_after_signed_checks(appointment, actor, overrides) -> None:
    """A check-in is undone only while the nurse has signed nothing for this visit: signed
    checks belong to a patient who arrived."""
    if ChecklistAnswer.objects.filter(appointment=appointment, signed_at__isnull=False).exists():
        raise TransitionRefused(
            "The check-in cannot be undone: pre-procedure checks are already signed for this "
            "visit. Cancel or mark the appointment instead, with a reason.",
            code="check_in_undo_checks_signed",
        )
