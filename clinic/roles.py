"""Staff roles: each is a Django Group holding the permissions that role needs.

The groups are created by a migration and kept in step after every `migrate`
(see clinic.apps), so editing ROLE_PERMISSIONS and migrating is all a change takes.
"""

from functools import cache

from django.db import models

from clinic.areas import area_modules


class Role(models.TextChoices):
    FRONT_DESK = "front_desk", "Front desk"
    NURSE = "nurse", "Nurse"
    PHYSICIAN = "physician", "Physician"
    MANAGER = "manager", "Manager"
    ADMIN = "admin", "Admin"


DEMOGRAPHICS = ["clinic.view_patient", "clinic.add_patient", "clinic.change_patient"]
# A patient's GDPR requests: the data-subject export and anonymisation (clinic.privacy_views).
PATIENT_RIGHTS = ["clinic.export_patient_data", "clinic.anonymise_patient"]
CLINICAL_READ = ["clinic.view_patient", "clinic.view_clinical_record"]
CLINICAL_WRITE = [*CLINICAL_READ, "clinic.change_clinical_record"]
CATALOGUE_READ = ["clinic.view_proceduretype", "clinic.view_site", "clinic.view_room"]
CATALOGUE_WRITE = [
    *CATALOGUE_READ,
    *(
        f"clinic.{verb}_{model}"
        for verb in ("add", "change")
        for model in ("proceduretype", "site", "room")
    ),
    "clinic.view_openinghours",
    "clinic.add_openinghours",
    "clinic.change_openinghours",
    "clinic.delete_openinghours",
    "clinic.view_staffprofile",
    "clinic.change_staffprofile",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.FRONT_DESK: [*DEMOGRAPHICS, *CATALOGUE_READ],
    Role.NURSE: [*CLINICAL_WRITE, *CATALOGUE_READ],
    Role.PHYSICIAN: [*CLINICAL_WRITE, *CATALOGUE_READ],
    Role.MANAGER: [
        *DEMOGRAPHICS,
        *CLINICAL_READ,
        *CATALOGUE_WRITE,
        "clinic.view_auditevent",
        *PATIENT_RIGHTS,
    ],
    Role.ADMIN: [
        *DEMOGRAPHICS,
        *CLINICAL_WRITE,
        *CATALOGUE_WRITE,
        "clinic.view_auditevent",
        *PATIENT_RIGHTS,
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        # Everyone's API tokens on the API tokens page, to revoke a leaked one.
        "knox.view_authtoken",
        "knox.delete_authtoken",
    ],
}


def all_role_permissions() -> dict[str, list[str]]:
    """These permissions, and those each area adds in `<area>.roles.ROLE_PERMISSIONS`."""
    merged = {role: list(perms) for role, perms in ROLE_PERMISSIONS.items()}
    for module in area_modules("roles"):
        for role, perms in module.ROLE_PERMISSIONS.items():
            merged[role] += perms
    return merged


# Roles whose members do clinical acts: sign the record, override a hard stop, start, end
# and discharge a procedure.
CLINICAL_ROLES = frozenset({Role.NURSE, Role.PHYSICIAN})

# Roles whose members may use the Django admin (as staff, limited by their permissions).
ADMIN_SITE_ROLES = {Role.MANAGER, Role.ADMIN}


def group_name(role: str) -> str:
    return Role(role).label


def sync_role_groups(apps=None) -> None:
    """Create the role groups and give each exactly its listed permissions.

    Permissions of apps not migrated yet are skipped; the post_migrate hook adds them
    once those apps exist, so the result does not depend on migration order.
    """
    from django.apps import apps as global_apps

    apps = apps or global_apps
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in all_role_permissions().items():
        group, _ = Group.objects.get_or_create(name=group_name(role))
        wanted = []
        for perm in dict.fromkeys(perms):
            app_label, codename = perm.split(".")
            found = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if found:
                wanted.append(found)
        group.permissions.set(wanted)


def roles_of(user) -> set[str]:
    """The user's roles, read once per user object (templates and boards ask many times)."""
    if not user.is_authenticated:
        return set()
    if not hasattr(user, "_clinic_roles"):
        labels = {label: value for value, label in Role.choices}
        names = user.groups.values_list("name", flat=True)
        user._clinic_roles = {labels[name] for name in names if name in labels}
    return user._clinic_roles


@cache
def _clinical_grants() -> dict[str, frozenset[str]]:
    merged = all_role_permissions()
    return {role: frozenset(merged[role]) for role in CLINICAL_ROLES}


def clinical_role_allows(user, permission: str) -> bool:
    """May this user do the clinical act that `permission` names?

    Only through a nurse's or physician's role that grants it, and the permission itself.
    Never through `is_superuser` (which makes every has_perm true): a superuser is a
    break-glass account, not a clinician, so signs nothing without a clinical role.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    grants = _clinical_grants()
    by_role = any(permission in grants[role] for role in roles_of(user) & CLINICAL_ROLES)
    return by_role and user.has_perm(permission)


CLINICIAN_ONLY = "Only a nurse or a physician can do this; an administrator account cannot."
