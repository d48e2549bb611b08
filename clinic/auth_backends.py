from axes.backends import AxesStandaloneBackend
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from knox.auth import TokenAuthentication
from rest_framework import exceptions

from clinic.accounts.two_factor import is_refused_demo_account
from clinic.roles import access_read


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
        account? clinic.accounts.two_factor) in the same query."""
        users = get_user_model()._default_manager.select_related("staff_profile")
        try:
            user = users.get(pk=user_id)
        except users.model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

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
