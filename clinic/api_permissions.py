from rest_framework.permissions import BasePermission, DjangoModelPermissions


class RoleModelPermissions(DjangoModelPermissions):
    """Model permissions, with reading gated by `view_<model>` as on the pages."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


class MethodPermissions(BasePermission):
    """The view's `permissions` map: HTTP method -> Django permissions needed."""

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
        needed = view.permissions.get(method)
        # A method the view does not have is left to answer 405.
        return needed is None or request.user.has_perms(needed)
