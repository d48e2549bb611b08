"""Permissions this area adds to each staff role (merged by clinic.roles)."""

from clinic.roles import Role

# Nurses work the alert list; physicians read outcomes and may take an alert too.
CLINICAL_FOLLOWUP = [
    "followup.view_invitation",
    "followup.view_response",
    "followup.view_alert",
    "followup.change_alert",
    "followup.view_careplan",
    "followup.view_careplanstep",
]
RESCHEDULE_WORK = ["followup.view_reschedulerequest", "followup.change_reschedulerequest"]
# Those who read the email log may put a failed send back in the queue.
EMAIL_WORK = ["followup.view_emaillog", "followup.change_invitation"]
# Phoning non-responders: log a call, snooze, close. Physicians read their own patients' rows.
NONRESPONDER_WORK = ["followup.view_worklistaction", "followup.add_worklistaction"]
# Managers edit the care plans, preparation advice, red-flag questions and block protocols
# (data, not code).
PLAN_EDIT = [
    f"followup.{verb}_{model}"
    for model in (
        "careplan",
        "careplanstep",
        "preparationinstruction",
        "redflagquestion",
        "diagnosticblockprotocol",
        "recallrule",
    )
    for verb in ("view", "add", "change", "delete")
]

# Outcomes (who got better after which procedure) are read by physicians and managers.
OUTCOMES = ["followup.view_outcomeepisode"]
# Everyone who books or follows patients up reads the recall worklist (its evidence column
# only with the clinical permission).
RECALL = ["followup.view_recallrule"]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.FRONT_DESK: [
        *RECALL,
        *RESCHEDULE_WORK,
        *EMAIL_WORK,
        *NONRESPONDER_WORK,
        "followup.view_invitation",
        "followup.view_preparationinstruction",
    ],
    Role.NURSE: [
        *RECALL,
        *CLINICAL_FOLLOWUP,
        *EMAIL_WORK,
        *NONRESPONDER_WORK,
        "followup.view_preparationinstruction",
    ],
    Role.PHYSICIAN: [
        *RECALL,
        *CLINICAL_FOLLOWUP,
        *OUTCOMES,
        "followup.view_worklistaction",
        "followup.view_preparationinstruction",
    ],
    Role.MANAGER: [
        *CLINICAL_FOLLOWUP,
        *OUTCOMES,
        *PLAN_EDIT,
        *RESCHEDULE_WORK,
        *EMAIL_WORK,
        *NONRESPONDER_WORK,
        "followup.view_instrumentwording",
    ],
    Role.ADMIN: [
        *CLINICAL_FOLLOWUP,
        *PLAN_EDIT,
        *RESCHEDULE_WORK,
        *EMAIL_WORK,
        *NONRESPONDER_WORK,
        "followup.view_instrumentwording",
        "followup.change_instrumentwording",
    ],
}
