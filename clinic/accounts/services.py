"""Writes about staff accounts: staff and roles, the second factor, API tokens.

Each keeps the audit trail of what it changed. They take model instances and plain values,
never forms: the page validates, the service saves and audits.
"""

import datetime

import django_otp
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken

from clinic.accounts.signals import credentials_revoked
from clinic.accounts.two_factor import PENDING_SESSION_KEY, RECOVERY_CODE_COUNT
from clinic.audit import audit_record
from clinic.models import AuditEvent, BreakGlass, StaffProfile
from clinic.refusals import Refused
from clinic.roles import ADMIN_SITE_ROLES, Role, group_name, roles_of

User = get_user_model()


def _roles_text(roles) -> str:
    return ", ".join(Role(role).label for role in sorted(roles)) or "none"


def _sites_text(sites) -> str:
    return ", ".join(sorted(site.name for site in sites)) or "every site"


def _roles_diff(added, removed) -> str:
    changes = [f"+{Role(role).label}" for role in sorted(added)]
    return ", ".join(changes + [f"-{Role(role).label}" for role in sorted(removed)])


def _roles_set(*, user, roles: set[str]) -> tuple[set[str], set[str]]:
    """Give the user exactly these roles; (added, removed). The Django admin follows the
    roles too: Manager and Admin may use it, nobody else."""
    before = roles_of(user)
    role_names = {group_name(role) for role in Role}
    keep = [group for group in user.groups.all() if group.name not in role_names]
    user.groups.set([*keep, *Group.objects.filter(name__in=[group_name(r) for r in roles])])
    user.is_staff = user.is_superuser or bool(set(roles) & ADMIN_SITE_ROLES)
    user.save(update_fields=["is_staff"])
    # Read again when next asked: the roles, and the permissions read with them.
    for remembered in ("_clinic_roles", "_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(remembered, None)
    return set(roles) - before, before - set(roles)


@transaction.atomic
def staff_create(*, request, user, password: str, title: str, roles: set[str], sites=()):
    """Create a staff account from an unsaved, validated user with its roles and sites."""
    user.set_password(password)
    user.save()
    profile = StaffProfile.objects.create(user=user, title=title)
    profile.sites.set(sites)
    _roles_set(user=user, roles=roles)
    audit_record(
        request=request,
        action=AuditEvent.Action.CREATE,
        obj=user,
        detail=f"staff account; roles: {_roles_text(roles)}; sites: {_sites_text(sites)}",
    )
    return user


@transaction.atomic
def staff_update(*, request, user, changed: list[str], title: str, roles: set[str], sites=None):
    """Save a validated staff account; `changed` names the account fields the user changed.
    A role taken away, or a deactivation, revokes the API tokens (clinic.accounts.receivers)."""
    user.save()
    profile, _ = StaffProfile.objects.get_or_create(user=user)
    if profile.title != title:
        profile.title = title
        profile.save(update_fields=["title"])
        changed = [*changed, "title"]
    if sites is not None and set(sites) != set(profile.sites.all()):
        profile.sites.set(sites)
        user.__dict__.pop("_clinic_site_ids", None)  # read again when next asked
        changed = [*changed, f"sites ({_sites_text(sites)})"]
    added, removed = _roles_set(user=user, roles=roles)
    parts = [f"account: {', '.join(changed)}"] if changed else []
    if added or removed:
        parts.append(f"roles: {_roles_diff(added, removed)}")
    if parts:
        audit_record(
            request=request, action=AuditEvent.Action.CHANGE, obj=user, detail="; ".join(parts)
        )
    return user


def staff_roles_audit(*, request, user, before: set[str]) -> None:
    """Audit a role change made elsewhere (the Django admin), from the roles `before` it."""
    user.__dict__.pop("_clinic_roles", None)
    after = roles_of(user)
    if after != before:
        audit_record(
            request=request,
            action=AuditEvent.Action.CHANGE,
            obj=user,
            detail=f"roles (admin site): {_roles_diff(after - before, before - after)}",
        )


def credentials_revoke(*, user, reason: str) -> int:
    """Revoke every API token of the user, and tell the other apps to revoke theirs."""
    count, _ = AuthToken.objects.filter(user=user).delete()
    if count:
        audit_record(
            user=None,
            action=AuditEvent.Action.DELETE,
            obj=user,
            detail=f"{count} API token(s) revoked: {reason}",
        )
    credentials_revoked.send(sender=User, user=user, reason=reason)
    return count


# --- API tokens ---------------------------------------------------------------------------


def api_token_create(*, request, user, days: int) -> tuple[AuthToken, str]:
    """A new API token for `user`, valid `days`; returns the row and the key, which is shown
    once and stored only as a hash."""
    token, key = AuthToken.objects.create(user=user, expiry=datetime.timedelta(days=days))
    audit_record(
        request=request,
        user=user,
        action=AuditEvent.Action.CREATE,
        obj=user,
        detail=f"API token {token.token_key[:8]}… valid until {token.expiry:%Y-%m-%d}",
    )
    return token, key


def api_token_revoke(*, request, token: AuthToken) -> None:
    token.delete()
    audit_record(
        request=request,
        action=AuditEvent.Action.DELETE,
        obj=token.user,
        detail=f"API token {token.token_key[:8]}… revoked",
    )


# --- Second factor ------------------------------------------------------------------------


def authenticator_start(*, user) -> TOTPDevice:
    """The authenticator app being enrolled: unconfirmed until the user types a code from it."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def _recovery_codes_replace(user) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def authenticator_confirm(*, request, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm the enrolled app with a code from it: it replaces any earlier app, the session
    counts as verified, and new recovery codes are returned (to be shown once). None when
    the code is wrong."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        if not device.verify_token(code):
            return None
        TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _recovery_codes_replace(device.user)
        audit_record(
            request=request,
            action=AuditEvent.Action.CHANGE,
            obj=device.user,
            detail="second factor: authenticator app enrolled, new recovery codes",
        )
    django_otp.login(request, device)
    request.session.pop(PENDING_SESSION_KEY, None)
    return codes


def recovery_codes_replace(*, request, user) -> list[str]:
    """New recovery codes (shown once); the old ones stop working."""
    with transaction.atomic():
        codes = _recovery_codes_replace(user)
        audit_record(
            request=request,
            action=AuditEvent.Action.CHANGE,
            obj=user,
            detail="second factor: new recovery codes",
        )
    return codes


def second_factor_check(*, request, user, code: str, via: str = ""):
    """Check a code from the user's authenticator app (six digits) or a recovery code (used
    up by this), and audit the attempt; the device, or None for a wrong code. django-otp
    slows down repeated wrong codes on each device."""
    code = "".join(code.split()).lower()
    model = TOTPDevice if code.isdigit() else StaticDevice
    with transaction.atomic():
        device = model.objects.select_for_update().filter(user=user, confirmed=True).first()
        verified = device is not None and device.verify_token(code)
    kind = "authenticator app" if model is TOTPDevice else "recovery code"
    audit_record(
        request=request,
        user=user,
        action=AuditEvent.Action.LOGIN if verified else AuditEvent.Action.LOGIN_FAILED,
        obj=user,
        detail=f"second factor ({kind}){via}",
    )
    return device if verified else None


def second_factor_verify(*, request, code: str):
    """The second step of a login: a right code makes the session count as verified."""
    device = second_factor_check(request=request, user=request.user, code=code)
    if device is not None:
        django_otp.login(request, device)
        request.session.pop(PENDING_SESSION_KEY, None)
    return device


@transaction.atomic
def second_factor_reset(*, request, user) -> None:
    """Remove the user's authenticator and recovery codes (a lost phone): a user who needs a
    second factor enrols again at the next login."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    audit_record(
        request=request,
        action=AuditEvent.Action.CHANGE,
        obj=user,
        detail="second factor reset",
    )


def login_audit(*, request, user, action, detail: str) -> None:
    """A login, failed login, lockout or logout; `user` is None for an unknown username."""
    audit_record(request=request, user=user, action=action, obj=user, detail=detail)


# --- Break-glass access ----------------------------------------------------------------------


class BreakGlassRefused(Refused):
    code = "break_glass_refused"


NOT_A_SUPERUSER = "Only a superuser account has break-glass access."
NO_REASON = "Give the reason for break-glass access."


@transaction.atomic
def break_glass_start(*, user, reason: str, request=None) -> BreakGlass:
    """Start the superuser's break-glass access for BREAK_GLASS_MINUTES, with its reason.

    Until it ends the superuser acts as a physician (clinic.roles.acting_roles), and every
    audit row it writes names this access. One in force at a time: starting again ends the
    one before, so each moment has one reason.
    """
    if not (user.is_authenticated and user.is_active and user.is_superuser):
        raise BreakGlassRefused(NOT_A_SUPERUSER, code="not_a_superuser")
    reason = " ".join((reason or "").split())
    if not reason:
        raise BreakGlassRefused(NO_REASON, code="reason_required")
    now = timezone.now()
    BreakGlass.objects.filter(user=user, ends_at__gt=now).update(ends_at=now)
    access = BreakGlass.objects.create(
        user=user,
        reason=reason[:500],
        started_at=now,
        ends_at=now + datetime.timedelta(minutes=settings.BREAK_GLASS_MINUTES),
    )
    user._clinic_break_glass = access
    audit_record(
        request=request,
        user=user,
        action=AuditEvent.Action.BREAK_GLASS,
        obj=access,
        detail=f"started until {timezone.localtime(access.ends_at):%H:%M}: {reason}",
    )
    return access


def break_glass_end(*, user, request=None) -> bool:
    """End the user's break-glass access now; False when none was in force."""
    now = timezone.now()
    access = BreakGlass.objects.filter(user=user, ends_at__gt=now).order_by("-started_at").first()
    if access is None:
        return False
    # Conditional: an access that lapsed meanwhile keeps its own end.
    if not BreakGlass.objects.filter(pk=access.pk, ends_at__gt=now).update(ends_at=now):
        return False
    user._clinic_break_glass = None
    audit_record(
        request=request,
        user=user,
        action=AuditEvent.Action.BREAK_GLASS,
        obj=access,
        detail=f"ended early: {access.reason}",
    )
    return True
