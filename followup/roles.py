"""Permissions this area adds to each staff role (merged by clinic.roles)."""

from clinic.roles import Role

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.FRONT_DESK: [],
    Role.NURSE: [],
    Role.PHYSICIAN: [],
    Role.MANAGER: [],
    Role.ADMIN: [],
}
