from urllib.parse import urlencode

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from clinic.accounts.two_factor import authenticator, second_factor_pending
from clinic.audit import audit_record
from clinic.models import AuditEvent
from clinic.roles import active_break_glass

# What a user may reach before passing the second factor: the pages that ask for it, logging
# out, and static files. Anonymous pages (patient links, the calendar feed) are not affected.
OPEN_URL_NAMES = ("second_factor_verify", "second_factor_setup", "logout")


class SecondFactorMiddleware:
    """Sends a user who still owes a second factor to the code page (or, without an
    authenticator yet, to enrolment); the API answers 403 instead."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if second_factor_pending(request) and not self._is_open(request.path):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"detail": "Pass the second factor (two-factor authentication) first."},
                    status=403,
                )
            page = "second_factor_verify" if authenticator(request.user) else "second_factor_setup"
            return redirect(f"{reverse(page)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)

    @staticmethod
    def _is_open(path: str) -> bool:
        if path.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return True
        return any(path == reverse(name) for name in OPEN_URL_NAMES)


class BreakGlassAuditMiddleware:
    """Records every request a superuser makes under break-glass access, with its reason
    (clinic.audit names the access on the row): the pages it read and the writes it made,
    whether or not a service audits them too. API users are known after the view ran
    (DRF authenticates there), so the row is written once the response is ready."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and user.is_superuser
            and not request.path.startswith("/" + settings.STATIC_URL.lstrip("/"))
            and active_break_glass(user) is not None
        ):
            safe = request.method in ("GET", "HEAD", "OPTIONS")
            audit_record(
                request=request,
                user=user,
                action=AuditEvent.Action.VIEW if safe else AuditEvent.Action.CHANGE,
                detail=f"{request.method} {request.path} -> {response.status_code}",
            )
        return response
