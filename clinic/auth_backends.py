from django.conf import settings
from django.contrib.auth.backends import ModelBackend


class ClinicModelBackend(ModelBackend):
    """The model backend, except that demo accounts are refused outside debug mode.

    Demo passwords are printed by `make run`; they must never open a production clinic.
    """

    def user_can_authenticate(self, user):
        if not super().user_can_authenticate(user):
            return False
        profile = getattr(user, "staff_profile", None)
        return not (profile and profile.is_demo and not settings.DEMO_LOGINS_ALLOWED)
