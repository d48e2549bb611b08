"""Who needs a second factor, and which devices a user has (django-otp)."""

from django.conf import settings
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.roles import Role, roles_of

# Roles that read or change much more than one patient's data, or run the clinic.
SECOND_FACTOR_ROLES = {Role.ADMIN, Role.MANAGER, Role.PHYSICIAN}
# Set at the password step for a user who enrolled an authenticator of their own accord.
PENDING_SESSION_KEY = "clinic_second_factor_pending"
RECOVERY_CODE_COUNT = 10


def is_refused_demo_account(user) -> bool:
    """A seed_demo account outside DEBUG: it cannot log in, use a token or a calendar feed."""
    profile = getattr(user, "staff_profile", None)
    return bool(profile and profile.is_demo and not settings.DEMO_LOGINS_ALLOWED)


def is_demo_login(user) -> bool:
    """A seed_demo account while demo logins are allowed (DEBUG): it skips the second factor,
    so that `make run` stays a one-command evaluation. Outside DEBUG it cannot log in."""
    profile = getattr(user, "staff_profile", None)
    return bool(profile and profile.is_demo and settings.DEMO_LOGINS_ALLOWED)


def second_factor_required(user) -> bool:
    """True when the user must pass a second factor before any page or the admin site:
    the Admin, Manager and Physician roles, and every account that may use the Django admin."""
    if not user.is_authenticated or is_demo_login(user):
        return False
    return user.is_staff or user.is_superuser or bool(roles_of(user) & SECOND_FACTOR_ROLES)


def second_factor_pending(request) -> bool:
    """True while this session's user has to pass the second factor before going on."""
    user = request.user
    if not user.is_authenticated or user.is_verified():
        return False
    return bool(request.session.get(PENDING_SESSION_KEY)) or second_factor_required(user)


def authenticator(user) -> TOTPDevice | None:
    """The user's confirmed authenticator app, if any."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def recovery_codes_left(user) -> int:
    device = StaticDevice.objects.filter(user=user, confirmed=True).first()
    return device.token_set.count() if device else 0
