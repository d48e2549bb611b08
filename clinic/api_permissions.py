from rest_framework.permissions import SAFE_METHODS, BasePermission, DjangoModelPermissions

from clinic.roles import CLINICIAN_ONLY, clinical_role_allows
from clinic.sites import route_check


def site_scope_check(request, view) -> None:
    """Refuses (clinic.sites.CrossSiteRefused, 403 `other_site`) an endpoint of one record
    at a site that is not the user's. Every permission class of ours calls it: token users
    are known only inside DRF, after the middleware that checks the pages."""
    if request.user and request.user.is_authenticated and request.resolver_match:
        route_check(request.user, request.resolver_match.route, view.kwargs.get("pk"))


class RoleModelPermissions(DjangoModelPermissions):
    """Model permissions, with reading gated by `view_<model>` as on the pages."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view):
        allowed = super().has_permission(request, view)
        if allowed:
            site_scope_check(request, view)
        return allowed


class MethodPermissions(BasePermission):
    """The view's `permissions` map: HTTP method -> Django permissions needed."""

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
        needed = view.permissions.get(method)
        # A method the view does not have is left to answer 405.
        allowed = needed is None or request.user.has_perms(needed)
        if allowed:
            site_scope_check(request, view)
        return allowed


class ClinicalMethodPermissions(MethodPermissions):
    """As MethodPermissions; every write is a clinical act, allowed only through a nurse's
    or physician's role (clinic.roles.clinical_role_allows), never is_superuser."""

    message = CLINICIAN_ONLY

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        if request.method in SAFE_METHODS:
            return True
        needed = view.permissions.get(request.method) or []
        return all(clinical_role_allows(request.user, perm) for perm in needed)
