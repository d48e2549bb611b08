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

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.FRONT_DESK: [*APPOINTMENT_WRITE, "scheduling.view_unavailability"],
    Role.NURSE: [*APPOINTMENT_READ, "scheduling.change_appointment"],
    Role.PHYSICIAN: [
        *APPOINTMENT_READ,
        "scheduling.change_appointment",
        "scheduling.override_duration",
    ],
    Role.MANAGER: [*APPOINTMENT_WRITE, *AVAILABILITY_WRITE, "scheduling.override_duration"],
    Role.ADMIN: [*APPOINTMENT_WRITE, *AVAILABILITY_WRITE, "scheduling.override_duration"],
}
