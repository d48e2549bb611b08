from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from clinic.roles import clinical_refusal, clinical_role_allows


def permission_required(*perms):
    """Anonymous users go to the login page; logged-in users without the permission get 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(request, *args, **kwargs):
            if not request.user.has_perms(perms):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def clinical_permission_required(*perms):
    """As permission_required, for a clinical act: each permission must come through a
    nurse's or physician's role (clinic.roles.clinical_role_allows), never is_superuser alone:
    a superuser is told to start break-glass access (the 403 page links to it)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(request, *args, **kwargs):
            if not all(clinical_role_allows(request.user, perm) for perm in perms):
                raise PermissionDenied(clinical_refusal(request.user)[1])
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
