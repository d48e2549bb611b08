from urllib.parse import urlencode

from django.contrib import admin
from django.shortcuts import redirect
from django.urls import reverse

from clinic.accounts.two_factor import second_factor_pending


class ClinicAdminSite(admin.AdminSite):
    """The admin site with one way in: the clinic's login page, its lockout and second factor.

    Its own login form would be a second password form to guess at, without a second factor.
    """

    def login(self, request, extra_context=None):
        next_url = request.GET.get("next") or reverse("admin:index", current_app=self.name)
        return redirect(f"{reverse('login')}?{urlencode({'next': next_url})}")

    def has_permission(self, request):
        return super().has_permission(request) and not second_factor_pending(request)
