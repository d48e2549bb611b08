from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication


def is_refused_demo_account(user) -> bool:
    profile = getattr(user, "staff_profile", None)
    return bool(profile and profile.is_demo and not settings.DEMO_LOGINS_ALLOWED)


class ClinicModelBackend(ModelBackend):
    """The model backend, except that demo accounts are refused outside debug mode.

    Demo passwords are printed by `make run`; they must never open a production clinic.
    """

    def user_can_authenticate(self, user):
        if not super().user_can_authenticate(user):
            return False
        return not is_refused_demo_account(user)


class ClinicTokenAuthentication(TokenAuthentication):
    """API tokens, refused for demo accounts outside debug mode.

    DRF checks a token's user only for is_active, so a token a demo user fetched while
    debugging would otherwise keep working after the switch to production.
    """

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if is_refused_demo_account(user):
            raise exceptions.AuthenticationFailed("Demo accounts cannot sign in here.")
        return user, token
