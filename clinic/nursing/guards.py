"""Safety rules on the nurse's status changes, for every caller (pages, API, admin).

Registered with scheduling.services.register_transition_guard, so
`appointment_transition` refuses a start while hard stops fail, and a discharge while the
discharge criteria are not met, unless a physician gives a reason (recorded).
"""

from clinic.audit import audit_record
from clinic.models import AuditEvent
from clinic.nursing import rules
from clinic.nursing.models import HardStopOverride
from clinic.roles import clinical_role_allows
from scheduling.models import Status
from scheduling.services import TransitionRefused, register_transition_guard

OVERRIDE_PERMISSION = "nursing.override_hard_stop"
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


def _pass_or_override(appointment, actor, override_reason, failures, *, to, heading, code) -> None:
    if not failures:
        return
    reason = (override_reason or "").strip()
    if not reason:
        raise HardStopRefused(failures, code=code, detail=heading)
    if not clinical_role_allows(actor, OVERRIDE_PERMISSION):
        raise HardStopRefused(
            failures, code=code, detail=f"{heading} Only a physician can override a hard stop."
        )
    override = HardStopOverride.objects.create(
        appointment=appointment,
        to_status=to,
        failures="\n".join(failures),
        reason=reason,
        by=actor,
    )
    audit_record(
        user=actor,
        action=AuditEvent.Action.CHANGE,
        obj=override,
        patient=appointment.patient,
        detail=f"hard stop override to {to}: {reason}",
    )


@register_transition_guard(Status.IN_PROCEDURE)
def hard_stops_before_start(appointment, actor, override_reason) -> None:
    """Every required pre-procedure, sign-in and time-out item signed, no hard stop
    failed, the time-out confirmed by nurse and physician; or a physician's override."""
    _require_recorder(actor, Status.IN_PROCEDURE)
    _pass_or_override(
        appointment,
        actor,
        override_reason,
        rules.start_blockers(appointment),
        to=Status.IN_PROCEDURE,
        heading="The procedure cannot start yet.",
        code="start_blocked",
    )


@register_transition_guard(Status.IN_RECOVERY)
def recorder_moves_to_recovery(appointment, actor, override_reason) -> None:
    _require_recorder(actor, Status.IN_RECOVERY)


@register_transition_guard(Status.DISCHARGED)
def discharge_criteria(appointment, actor, override_reason) -> None:
    """Discharge score at threshold, sign-out complete, last NEWS2 not in an escalation
    band; or a physician's override."""
    _require_recorder(actor, Status.DISCHARGED)
    _pass_or_override(
        appointment,
        actor,
        override_reason,
        rules.discharge_blockers(appointment),
        to=Status.DISCHARGED,
        heading="The patient cannot be discharged yet.",
        code="discharge_blocked",
    )
