"""Response headers and session life that protect patient data on shared devices."""

import time

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control

from clinic.sites import CrossSiteRefused, route_check

# How often an active session's idle clock is pushed forward: once a minute is enough for
# a 30-minute timeout, and spares a session write on every request.
SESSION_TOUCH_SECONDS = 60
TOUCHED_AT = "_touched_at"


class NoStoreMiddleware:
    """Pages are built per user and may show patient data: no browser or proxy keeps them
    (OWASP ASVS 8.2.1). Static files are served before this and keep their long cache; a
    view that chose its own Cache-Control keeps it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            patch_cache_control(response, no_store=True, private=True)
        return response


class IdleTimeoutMiddleware:
    """Signs out a session left idle for SESSION_COOKIE_AGE (a tablet on a trolley).

    Django ends a session SESSION_COOKIE_AGE after it was last saved; this saves an active
    session at most once a minute, so the clock runs from the last use, not from login.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        # A board refreshing itself (an htmx GET) is not someone using the tablet.
        refresh = request.method == "GET" and request.headers.get("HX-Request") == "true"
        if session is not None and session.session_key and not session.is_empty() and not refresh:
            now = int(time.time())
            if now - session.get(TOUCHED_AT, 0) >= SESSION_TOUCH_SECONDS:
                session[TOUCHED_AT] = now
        return response


def touch_session_at_login(sender, request, user, **kwargs):
    """Starts the idle clock at login, so the first page after it saves nothing more."""
    if hasattr(request, "session"):
        request.session[TOUCHED_AT] = int(time.time())


class SiteScopeMiddleware:
    """Staff see their own sites' records (clinic.sites): a record page of another site's
    appointment, or a view that refused one, answers with the form that opens it with a
    reason (a page) or 403 with the reason code `other_site` (the API)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not request.user.is_authenticated or request.resolver_match is None:
            return None
        try:
            route_check(request.user, request.resolver_match.route, view_kwargs.get("pk"))
        except CrossSiteRefused as refused:
            return self._refusal(request, refused)
        return None

    def process_exception(self, request, exception):
        if isinstance(exception, CrossSiteRefused):
            return self._refusal(request, exception)
        return None

    def _refusal(self, request, refused):
        if request.path.startswith(("/api/", "/fhir/")):
            body = {
                "detail": str(refused.args[0]) if refused.args else "Another site's record.",
                "reasons": [{"code": "other_site", "message": refused.args[0]}],
                "alternatives": [],
            }
            return JsonResponse(body, status=403)
        context = {
            "patient": refused.patient,
            "next": request.get_full_path(),
            "minutes": settings.CROSS_SITE_ACCESS_MINUTES,
        }
        return render(request, "clinic/cross_site.html", context, status=403)
