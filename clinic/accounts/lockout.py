"""Lockout after repeated failed logins (django-axes), per account and per address.

Every login path authenticates through `clinic.auth_backends.ClinicAxesBackend`: the login
page, the physician's co-signature and the API token endpoint (the admin site sends its
login to the login page). Ten failures lock the account; an address, which many staff may
share behind a NAT or a TLS proxy, is locked after LOGIN_IP_FAILURE_LIMIT.
"""

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_lockout_parameters
from django.conf import settings
from django.db.models import Sum
from django.http import JsonResponse
from django.shortcuts import render


class ClinicAxesHandler(AxesDatabaseHandler):
    """Axes' database handler with a higher limit for an address than for an account.

    Axes compares one count with one limit, the highest count of its lockout parameters; the
    address's failures are scaled to the account's limit before that comparison.
    """

    def get_failures(self, request, credentials=None) -> int:
        counts = []
        scale = settings.LOGIN_FAILURE_LIMIT / settings.LOGIN_IP_FAILURE_LIMIT
        parameters = get_lockout_parameters(request, credentials)
        for parameter, attempts in zip(
            parameters, self.get_user_attempts(request, credentials), strict=True
        ):
            failures = attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            if parameter in ("ip_address", ["ip_address"]):
                failures = int(failures * scale)
            counts.append(failures)
        return max(counts, default=0)


LOCKED_MESSAGE = "Too many failed logins. Try again in {minutes} minutes, or ask an admin."


def lockout_response(request, original_response=None, credentials=None):
    """429 for a locked-out attempt: JSON on the API, the login page's lockout page elsewhere."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = LOCKED_MESSAGE.format(minutes=minutes)
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=429)
    return render(request, "registration/locked_out.html", {"message": message}, status=429)
