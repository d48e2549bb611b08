"""Staff roles: each is a Django Group holding the permissions that role needs.

The groups are created by a migration and kept in step after every `migrate`
(see clinic.apps), so editing ROLE_PERMISSIONS and migrating is all a change takes.
"""

from functools import cache

from django.db import connection, models
from django.utils import timezone

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
CATALOGUE_READ = [
    "clinic.view_proceduretype",
    "clinic.view_site",
    "clinic.view_room",
    "clinic.view_diagnosis",
]
CATALOGUE_WRITE = [
    *CATALOGUE_READ,
    *(
        f"clinic.{verb}_{model}"
        for verb in ("add", "change")
        for model in ("proceduretype", "site", "room", "diagnosis")
    ),
    "clinic.view_openinghours",
    "clinic.add_openinghours",
    "clinic.change_openinghours",
    "clinic.delete_openinghours",
    "clinic.view_staffprofile",
    "clinic.change_staffprofile",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.FRONT_DESK: [*DEMOGRAPHICS, *CATALOGUE_READ, "clinic.merge_patient"],
    Role.NURSE: [*CLINICAL_WRITE, *CATALOGUE_READ],
    Role.PHYSICIAN: [*CLINICAL_WRITE, *CATALOGUE_READ],
    Role.MANAGER: [
        *DEMOGRAPHICS,
        *CLINICAL_READ,
        *CATALOGUE_WRITE,
        "clinic.view_auditevent",
        *PATIENT_RIGHTS,
        "clinic.merge_patient",
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
        access_read(user)  # with the permissions, which every staff page asks for too
    return user._clinic_roles


def roles_named(group_names) -> set[str]:
    """The roles among these group names (a role's group is named by its label)."""
    labels = {label: value for value, label in Role.choices}
    return {labels[name] for name in group_names if name in labels}


def access_read(user) -> None:
    """Read the user's permissions and groups in one query, and remember both on the user
    object for this request (access_remember). A session's user comes with them already
    (clinic.auth_backends.ClinicModelBackend.get_user); this serves any other user object."""
    with connection.cursor() as cursor:
        cursor.execute(_access_sql(), {"user": user.pk})
        rows = cursor.fetchall()
    access_remember(
        user,
        [f"{app}.{name}" for app, name in rows if app is not None],
        [name for app, name in rows if app is None],
    )


def access_remember(user, permissions, group_names) -> None:
    """Remember what access_read reads: the permissions ("app.codename") in Django's
    ModelBackend cache, for an active user who is not a superuser (a superuser's are left to
    Django: it has them all), and the roles for roles_of."""
    if user.is_active and not user.is_superuser:
        user._perm_cache = set(permissions)
    if not hasattr(user, "_clinic_roles"):
        user._clinic_roles = roles_named(group_names)


@cache
def _access_sql() -> str:
    """The user's permissions as (app label, codename), and their groups as (NULL, name)."""
    return f"""
        {permissions_sql("ct.app_label, p.codename", "%(user)s")}
        UNION ALL
        {groups_sql("NULL, g.name", "%(user)s")}
    """


def permissions_sql(columns: str, user: str) -> str:
    """SELECT `columns` of the permissions (p) and their content types (ct) of the user
    whose id is the SQL expression `user`: their own and their groups'."""
    # Here, not at the top: this module is imported while the apps are still loading.
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    user_permissions = get_user_model().user_permissions.through._meta
    user_groups = get_user_model().groups.through._meta
    group_permissions = Group.permissions.through._meta
    return f"""
        SELECT {columns}
        FROM {Permission._meta.db_table} p
        JOIN {ContentType._meta.db_table} ct ON ct.id = p.content_type_id
        WHERE p.id IN (
          SELECT {user_permissions.get_field("permission").column}
          FROM {user_permissions.db_table}
          WHERE {user_permissions.get_field("user").column} = {user}
          UNION ALL
          SELECT gp.{group_permissions.get_field("permission").column}
          FROM {group_permissions.db_table} gp
          JOIN {user_groups.db_table} ug
            ON ug.{user_groups.get_field("group").column}
               = gp.{group_permissions.get_field("group").column}
          WHERE ug.{user_groups.get_field("user").column} = {user})"""


def groups_sql(columns: str, user: str) -> str:
    """SELECT `columns` of the groups (g) of the user whose id is the SQL expression `user`."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user_groups = get_user_model().groups.through._meta
    return f"""
        SELECT {columns}
        FROM {Group._meta.db_table} g
        JOIN {user_groups.db_table} ug ON ug.{user_groups.get_field("group").column} = g.id
        WHERE ug.{user_groups.get_field("user").column} = {user}"""


@cache
def _clinical_grants() -> dict[str, frozenset[str]]:
    merged = all_role_permissions()
    return {role: frozenset(merged[role]) for role in CLINICAL_ROLES}


# While a superuser's break-glass access lasts, it acts as this role: a physician signs and
# starts alone, overrides the hard stops a physician may, and discharges.
BREAK_GLASS_ROLE = Role.PHYSICIAN


def active_break_glass(user):
    """The superuser's break-glass access in force now (a clinic.models.BreakGlass), or None.

    One query per user object (a request's), none for anyone who is not a superuser; the row
    is kept on the object and its end checked at each call, so it lapses on time.
    """
    if user is None or not user.is_authenticated or not user.is_superuser:
        return None
    if not hasattr(user, "_clinic_break_glass"):
        from clinic.models import BreakGlass

        user._clinic_break_glass = (
            BreakGlass.objects.filter(user=user, ends_at__gt=timezone.now())
            .order_by("-started_at")
            .first()
        )
    access = user._clinic_break_glass
    return access if access is not None and access.ends_at > timezone.now() else None


def acting_roles(user) -> set[str]:
    """The user's roles, plus a physician's while their break-glass access lasts."""
    roles = roles_of(user)
    if active_break_glass(user) is not None:
        return roles | {BREAK_GLASS_ROLE}
    return roles


def clinical_role_allows(user, permission: str) -> bool:
    """May this user do the clinical act that `permission` names?

    Only through a nurse's or physician's role that grants it, and the permission itself.
    Never through `is_superuser` alone (which makes every has_perm true): a superuser is a
    break-glass account, not a clinician. It acts as a physician only while a break-glass
    access it started with a reason lasts (every act then audited with that reason).
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    grants = _clinical_grants()
    by_role = any(permission in grants[role] for role in acting_roles(user) & CLINICAL_ROLES)
    return by_role and user.has_perm(permission)


CLINICIAN_ONLY = "Only a nurse or a physician can do this; an administrator account cannot."
BREAK_GLASS_REQUIRED = (
    "Only a nurse or a physician can do this. A superuser account may act as a physician only "
    "under break-glass access, started with a reason (every action is then recorded)."
)


def clinical_refusal(user) -> tuple[str, str]:
    """(code, message) refusing `user` a clinical act: a superuser is sent to break-glass."""
    superuser = user is not None and user.is_authenticated and user.is_superuser
    if superuser and active_break_glass(user) is None:
        return "break_glass_required", BREAK_GLASS_REQUIRED
    return "clinician_only", CLINICIAN_ONLY
