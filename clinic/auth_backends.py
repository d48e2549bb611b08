import functools

from axes.backends import AxesStandaloneBackend
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import connections, router
from knox.auth import TokenAuthentication
from rest_framework import exceptions

from clinic.accounts.two_factor import is_refused_demo_account
from clinic.roles import access_read, access_remember, groups_sql, permissions_sql


class ClinicAxesBackend(AxesStandaloneBackend):
    """Axes' lockout check (clinic.accounts.lockout), first of the backends.

    A call without a request comes from the server itself (the shell, a management command,
    the test client's login): there is no client to count failures against.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class ClinicModelBackend(ModelBackend):
    """The model backend, except that demo accounts are refused outside debug mode, and that
    a user's permissions are read in one query.

    Demo passwords are printed by `make run`; they must never open a production clinic.
    """

    def user_can_authenticate(self, user):
        if not super().user_can_authenticate(user):
            return False
        return not is_refused_demo_account(user)

    def get_user(self, user_id):
        """The user of a session, with the staff profile every request reads (is it a demo
        account? clinic.accounts.two_factor) in the same query.

        On PostgreSQL the query is written out once (_user_and_profile): every request
        runs it, and the ORM took longer to build it than the database to answer. Its rows
        become models without the ORM's conversions, which no field of the user or the
        profile has on PostgreSQL (_read_raw checks); elsewhere (SQLite, whose dates need
        them) the ORM reads the same."""
        User = get_user_model()
        alias = router.db_for_read(User)
        if connections[alias].vendor != "postgresql" or not _read_raw():
            users = User._default_manager.select_related("staff_profile")
            try:
                user = users.get(pk=user_id)
            except User.DoesNotExist:
                return None
        else:
            user = _user_and_profile(alias, user_id)
        return user if user is not None and self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj, obj=None):
        """ModelBackend's answer, the user's own permissions and their groups', read in one
        query with the user's roles, instead of three built by the ORM: every staff page asks
        (its menus), and the three cost more than a small list page's own query. A superuser
        keeps Django's way."""
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache") and not user_obj.is_superuser:
            access_read(user_obj)
        return super().get_all_permissions(user_obj, obj)


class ClinicTokenAuthentication(TokenAuthentication):
    """API tokens (django-rest-knox: stored hashed, expiring), refused for demo accounts
    outside debug mode.

    Knox checks a token's user only for is_active, so a token a demo user fetched while
    debugging would otherwise keep working after the switch to production.
    """

    def validate_user(self, auth_token):
        user, token = super().validate_user(auth_token)
        if is_refused_demo_account(user):
            raise exceptions.AuthenticationFailed("Demo accounts cannot sign in here.")
        return user, token


@functools.cache
def _read_raw() -> bool:
    """Whether the user's and profile's rows may become models as they come (no field of
    theirs converts what the database returns, as a JSONField or an encrypted field would)."""
    from clinic.models import StaffProfile

    fields = [*get_user_model()._meta.concrete_fields, *StaffProfile._meta.concrete_fields]
    return not any(hasattr(field, "from_db_value") for field in fields)


@functools.cache
def _user_and_profile_sql() -> tuple[str, list[str], list[str]]:
    """The user and staff profile columns (Django's field order), then the user's
    permissions, group names and sites as arrays, by the user's id."""
    from clinic.models import StaffProfile
    from clinic.sites import site_ids_sql

    User = get_user_model()
    user_fields = User._meta.concrete_fields
    profile_fields = StaffProfile._meta.concrete_fields
    columns = [f'u."{field.column}"' for field in user_fields]
    columns += [f'sp."{field.column}"' for field in profile_fields]
    user_id = f'u."{User._meta.pk.column}"'
    permissions = permissions_sql("ct.app_label || '.' || p.codename", user_id)
    groups = groups_sql("g.name", user_id)
    sites = site_ids_sql(f'sp."{StaffProfile._meta.pk.column}"')
    columns += [
        f"ARRAY({permissions})",
        f"ARRAY({groups})",
        f"ARRAY({sites})",
    ]
    profile_user = StaffProfile._meta.get_field("user").column
    sql = (
        f"SELECT {', '.join(columns)} FROM {User._meta.db_table} u "
        f'LEFT JOIN {StaffProfile._meta.db_table} sp ON sp."{profile_user}" = {user_id} '
        f"WHERE {user_id} = %s"
    )
    return sql, [f.attname for f in user_fields], [f.attname for f in profile_fields]


def _user_and_profile(alias, user_id):
    """The user with its staff profile (or none) cached as select_related leaves them, and
    its permissions, roles and sites remembered as access_read and user_site_ids do."""
    from clinic.models import StaffProfile
    from clinic.sites import site_ids_remember

    sql, user_names, profile_names = _user_and_profile_sql()
    User = get_user_model()
    with connections[alias].cursor() as cursor:
        # As the ORM's lookup would: a key that is no id is refused before the query.
        cursor.execute(sql, [User._meta.pk.get_prep_value(user_id)])
        row = cursor.fetchone()
    if row is None:
        return None
    *row, permissions, group_names, site_ids = row
    user = User.from_db(alias, user_names, row[: len(user_names)])
    profile = None
    if row[len(user_names)] is not None:
        profile = StaffProfile.from_db(alias, profile_names, row[len(user_names) :])
        StaffProfile.user.field.set_cached_value(profile, user)
    User.staff_profile.related.set_cached_value(user, profile)
    access_remember(user, permissions, group_names)
    site_ids_remember(user, site_ids)
    return user
