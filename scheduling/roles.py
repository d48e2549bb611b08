"""Permissions scheduling adds to each staff role (merged by clinic.roles)."""

from clinic.roles import Role

APPOINTMENT_READ = ["scheduling.view_appointment", "scheduling.view_physiciansession"]
APPOINTMENT_WRITE = [
    *APPOINTMENT_READ,
    "scheduling.add_appointment",
    "scheduling.change_appointment",
    "scheduling.view_waitlistentry",
    "scheduling.add_waitlistentry",
    "scheduling.change_waitlistentry",
]
AVAILABILITY_WRITE = [
    f"scheduling.{verb}_{model}"
    for model in ("physiciansession", "unavailability")
    for verb in ("view", "add", "change", "delete")
]

# The worklist of patients to phone about stopping their blood thinners, and its done mark:
# the front desk and the nurses phone.
MEDICATION_CALLS = ["scheduling.view_medicationcall", "scheduling.add_medicationcall"]

# Everyone who books sees the rules; a manager edits them (the Django admin, as protocols).
PATHWAY_READ = ["scheduling.view_pathwayrule", "scheduling.view_pathwayoverride"]
PATHWAY_WRITE = [*PATHWAY_READ, "scheduling.change_pathwayrule"]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.FRONT_DESK: [
        *APPOINTMENT_WRITE,
        "scheduling.view_unavailability",
        *MEDICATION_CALLS,
        *PATHWAY_READ,
    ],
    Role.NURSE: [
        *APPOINTMENT_READ,
        "scheduling.change_appointment",
        *MEDICATION_CALLS,
        *PATHWAY_READ,
    ],
    Role.PHYSICIAN: [
        *APPOINTMENT_READ,
        *PATHWAY_READ,
        "scheduling.change_appointment",
        "scheduling.override_duration",
    ],
    Role.MANAGER: [
        *APPOINTMENT_WRITE,
        *AVAILABILITY_WRITE,
        "scheduling.override_duration",
        *MEDICATION_CALLS,
        *PATHWAY_WRITE,
    ],
    Role.ADMIN: [
        *APPOINTMENT_WRITE,
        *AVAILABILITY_WRITE,
        "scheduling.override_duration",
        *MEDICATION_CALLS,
        *PATHWAY_WRITE,
    ],
}
