from django.urls import path

from clinic.accounts import api, views

urlpatterns = [
    # Before django.contrib.auth's own (clinic.urls): throttled, and never for a superuser.
    path("accounts/password_reset/", views.password_reset, name="password_reset"),
    path("accounts/2fa/", views.second_factor_verify, name="second_factor_verify"),
    path("accounts/2fa/setup/", views.second_factor_setup, name="second_factor_setup"),
    path("accounts/security/", views.account_security, name="account_security"),
    path("accounts/tokens/", views.api_token_list, name="api_token_list"),
    path("staff/", views.staff_list, name="staff_list"),
    path("staff/new/", views.staff_create, name="staff_create"),
    path("staff/<int:pk>/", views.staff_edit, name="staff_edit"),
    path("api/v1/auth/token/", api.ApiTokenObtainView.as_view(), name="api_token"),
    path("api/v1/auth/logout/", api.ApiTokenLogoutView.as_view(), name="api_token_logout"),
]
