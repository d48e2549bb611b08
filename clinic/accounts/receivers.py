"""Signal receivers: logins in the audit trail, credentials revoked when a user changes.

Connected in clinic.apps.ClinicConfig.ready.
"""

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_save

from clinic.accounts import services
from clinic.accounts.two_factor import PENDING_SESSION_KEY, authenticator
from clinic.models import AuditEvent

User = get_user_model()


def _known_user(username):
    return User.objects.filter(username=username).first() if username else None


def on_logged_in(sender, request, user, **kwargs):
    if request is None:
        return
    # Whoever enrolled an authenticator passes it at every login, whatever their role.
    if authenticator(user) is not None:
        request.session[PENDING_SESSION_KEY] = True
    services.login_audit(
        request=request, user=user, action=AuditEvent.Action.LOGIN, detail="password"
    )


def on_login_failed(sender, credentials, request=None, **kwargs):
    username = (credentials or {}).get("username") or ""
    services.login_audit(
        request=request,
        user=_known_user(username),
        action=AuditEvent.Action.LOGIN_FAILED,
        detail=f"password for {username[:150]!r}",
    )


def on_locked_out(sender, request, username=None, ip_address=None, **kwargs):
    services.login_audit(
        request=request,
        user=_known_user(username),
        action=AuditEvent.Action.LOCKED_OUT,
        detail=f"too many failed logins for {(username or '')[:150]!r} from {ip_address}",
    )


def on_logged_out(sender, request, user, **kwargs):
    if user is not None and request is not None:
        services.login_audit(request=request, user=user, action=AuditEvent.Action.LOGOUT, detail="")


def on_user_saved(sender, instance, created, update_fields=None, **kwargs):
    """A new password or a deactivation ends every API token and calendar feed."""
    if created:
        return
    # set_password() keeps the new password until save(); a hash upgrade at login does not.
    if getattr(instance, "_password", None) is not None:
        services.credentials_revoke(user=instance, reason="password changed")
    elif not instance.is_active and (update_fields is None or "is_active" in update_fields):
        services.credentials_revoke(user=instance, reason="deactivated")


def on_groups_changed(sender, instance, action, reverse, pk_set, **kwargs):
    """A role taken away (from either side of the relation) ends every API token."""
    if action not in ("post_remove", "pre_clear"):
        return
    if reverse:  # group.user_set.remove(...) or .clear()
        users = list(User.objects.filter(pk__in=pk_set) if pk_set else instance.user_set.all())
    else:
        if action == "pre_clear" and not instance.groups.exists():
            return
        users = [instance]
    for user in users:
        services.credentials_revoke(user=user, reason="role removed")


def connect():
    user_logged_in.connect(on_logged_in, dispatch_uid="clinic-accounts-logged-in")
    user_login_failed.connect(on_login_failed, dispatch_uid="clinic-accounts-login-failed")
    user_logged_out.connect(on_logged_out, dispatch_uid="clinic-accounts-logged-out")
    user_locked_out.connect(on_locked_out, dispatch_uid="clinic-accounts-locked-out")
    post_save.connect(on_user_saved, sender=User, dispatch_uid="clinic-accounts-user-saved")
    m2m_changed.connect(
        on_groups_changed, sender=User.groups.through, dispatch_uid="clinic-accounts-groups"
    )
