"""Pages of one's own account (second factor, API tokens) and the Admin's staff pages."""

from base64 import b32encode

import segno
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from knox.models import AuthToken

from clinic.accounts import forms, services
from clinic.accounts.filters import StaffFilter
from clinic.accounts.selectors import api_tokens, staff_accounts
from clinic.accounts.tables import StaffTable
from clinic.accounts.two_factor import (
    authenticator,
    recovery_codes_left,
    second_factor_pending,
    second_factor_required,
)
from clinic.decorators import permission_required
from clinic.ratelimit import post_rate_limited
from clinic.roles import roles_of
from clinic.ui import render_table

# Admin's view of everyone's API tokens (clinic.roles gives these to the Admin role).
TOKENS_OF_ALL = "knox.delete_authtoken"


def _next_url(request, default="home"):
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return reverse(default)


# --- Second factor -------------------------------------------------------------------------


@login_required
def second_factor_verify(request):
    """The second step of the login: a code from the authenticator app or a recovery code."""
    if not second_factor_pending(request):
        return redirect(_next_url(request))
    if authenticator(request.user) is None:
        return redirect(f"{reverse('second_factor_setup')}?{request.GET.urlencode()}")
    form = forms.SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = services.second_factor_verify(request=request, code=form.cleaned_data["code"])
        if device is not None:
            if device.persistent_id.startswith("otp_static"):
                left = recovery_codes_left(request.user)
                messages.warning(
                    request,
                    f"You used a recovery code; {left} left. Make new ones on the Security page.",
                )
            return redirect(_next_url(request))
        form.add_error(
            "code", "That code did not work. Wait a few seconds and try the current one."
        )
    return render(
        request, "accounts/second_factor_verify.html", {"form": form, "next": _next_url(request)}
    )


def _qr_svg(device) -> str:
    # Drawn here as inline SVG: the secret never goes to a third-party image service.
    return segno.make(device.config_url, error="m").svg_inline(scale=4, omitsize=False)


@login_required
def second_factor_setup(request):
    """Enrol an authenticator app: scan the QR code (or type the key), confirm with a code.

    Without an authenticator yet, the password alone lets one enrol (first login); replacing
    an existing one needs a verified session.
    """
    if authenticator(request.user) is not None and not request.user.is_verified():
        return redirect(f"{reverse('second_factor_verify')}?{request.GET.urlencode()}")
    device = services.authenticator_start(user=request.user)
    form = forms.SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = services.authenticator_confirm(
            request=request, device=device, code=form.cleaned_data["code"]
        )
        if codes is not None:
            return render(
                request,
                "accounts/recovery_codes.html",
                {"codes": codes, "next": _next_url(request), "enrolled": True},
            )
        form.add_error(
            "code", "That code did not work. Wait a few seconds and try the current one."
        )
    return render(
        request,
        "accounts/second_factor_setup.html",
        {
            "form": form,
            "qr_svg": _qr_svg(device),
            "secret": b32encode(device.bin_key).decode(),
            "next": _next_url(request),
            "required": second_factor_required(request.user),
        },
    )


@login_required
def account_security(request):
    """One's own second factor and recovery codes, with a link to the API tokens."""
    if request.method == "POST" and request.POST.get("action") == "recovery_codes":
        if authenticator(request.user) is None:
            raise PermissionDenied
        codes = services.recovery_codes_replace(request=request, user=request.user)
        return render(
            request,
            "accounts/recovery_codes.html",
            {"codes": codes, "next": reverse("account_security"), "enrolled": False},
        )
    return render(
        request,
        "accounts/security.html",
        {
            "authenticator": authenticator(request.user),
            "recovery_codes_left": recovery_codes_left(request.user),
            "required": second_factor_required(request.user),
        },
    )


# --- API tokens ----------------------------------------------------------------------------


@login_required
def api_token_list(request):
    """One's own API tokens (an Admin sees everyone's): create with an expiry, revoke."""
    sees_all = request.user.has_perm(TOKENS_OF_ALL)
    form = forms.ApiTokenForm(request.POST if request.POST.get("action") == "create" else None)
    new_key = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "create" and form.is_valid():
            _token, new_key = services.api_token_create(
                request=request, user=request.user, days=form.cleaned_data["days"]
            )
            form = forms.ApiTokenForm()
        elif action == "revoke":
            token = get_object_or_404(AuthToken, digest=request.POST.get("token", ""))
            if token.user_id != request.user.pk and not sees_all:
                raise PermissionDenied
            services.api_token_revoke(request=request, token=token)
            messages.success(request, "The token was revoked: it no longer works.")
            return redirect("api_token_list")
    tokens = api_tokens(user=None if sees_all else request.user)
    return render(
        request,
        "accounts/api_tokens.html",
        {"form": form, "tokens": tokens, "new_key": new_key, "sees_all": sees_all},
    )


# --- Staff (Admin) -------------------------------------------------------------------------


@permission_required("auth.view_user")
def staff_list(request):
    filterset = StaffFilter(request.GET, queryset=staff_accounts())
    return render_table(
        request,
        table=StaffTable(filterset.qs),
        filterset=filterset,
        template="accounts/staff_list.html",
        export_name="staff",
        export_audit="staff list",
    )


@permission_required("auth.add_user")
def staff_create(request):
    form = forms.StaffCreateForm(request.POST or None, actor=request.user)
    if request.method == "POST" and form.is_valid():
        user = services.staff_create(
            request=request,
            user=form.save(commit=False),
            password=form.cleaned_data["password1"],
            title=form.cleaned_data["title"],
            roles=set(form.cleaned_data["roles"]),
            sites=form.cleaned_data["sites"],
        )
        messages.success(request, f"{user.get_username()} can now log in.")
        return redirect("staff_list")
    return render(request, "accounts/staff_form.html", {"form": form, "staff": None})


@permission_required("auth.change_user")
def staff_edit(request, pk):
    staff = get_object_or_404(staff_accounts(), pk=pk)
    # Only a superuser changes a superuser (or makes one: there is no field for it here).
    if staff.is_superuser and not request.user.is_superuser:
        raise PermissionDenied
    if request.method == "POST" and request.POST.get("action") == "reset_second_factor":
        services.second_factor_reset(request=request, user=staff)
        messages.success(request, f"{staff.get_username()} sets up two-factor again at login.")
        return redirect("staff_edit", pk=staff.pk)
    form = forms.StaffForm(request.POST or None, instance=staff, actor=request.user)
    if request.method == "POST" and form.is_valid():
        services.staff_update(
            request=request,
            user=form.save(commit=False),
            changed=[name for name in form.changed_data if name not in ("roles", "title", "sites")],
            title=form.cleaned_data["title"],
            roles=set(form.cleaned_data["roles"]),
            sites=form.cleaned_data["sites"],
        )
        messages.success(request, "Saved.")
        return redirect("staff_list")
    return render(
        request,
        "accounts/staff_form.html",
        {"form": form, "staff": staff, "staff_roles": roles_of(staff)},
    )


def _too_many_resets(request):
    return render(request, "registration/too_many.html", status=429)


# Per address, on top of Django's: each request may send an email to a staff member.
password_reset = post_rate_limited(
    scope="password_reset", limit_setting="PASSWORD_RESET_LIMIT", refused=_too_many_resets
)(auth_views.PasswordResetView.as_view(form_class=forms.StaffPasswordResetForm))
