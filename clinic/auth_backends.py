from axes.backends import AxesStandaloneBackend
from django.contrib.auth.backends import ModelBackend
from knox.auth import TokenAuthentication
from rest_framework import exceptions

from clinic.accounts.two_factor import is_refused_demo_account


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
    """The model backend, except that demo accounts are refused outside debug mode.

    Demo passwords are printed by `make run`; they must never open a production clinic.
    """

    def user_can_authenticate(self, user):
        if not super().user_can_authenticate(user):
            return False
        return not is_refused_demo_account(user)


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
