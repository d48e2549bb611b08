from urllib.parse import urlencode

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from clinic.accounts.two_factor import authenticator, second_factor_pending

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
