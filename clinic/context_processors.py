from django.conf import settings

from clinic.roles import active_break_glass, roles_of


def clinic(request):
    return {
        "clinic_name": settings.CLINIC_NAME,
        "clinic_phone": settings.CLINIC_PHONE,
        "user_roles": roles_of(request.user) if hasattr(request, "user") else set(),
        # A superuser's break-glass access in force: the red banner on every page.
        "break_glass": active_break_glass(getattr(request, "user", None)),
    }
