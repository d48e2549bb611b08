from django.conf import settings

from clinic.roles import Role, active_break_glass, roles_of


def clinic(request):
    roles = roles_of(request.user) if hasattr(request, "user") else set()
    return {
        "clinic_name": settings.CLINIC_NAME,
        "clinic_phone": settings.CLINIC_PHONE,
        "user_roles": roles,
        # As people say them ("Front desk"), in the roles' order.
        "user_role_labels": [role.label for role in Role if role in roles],
        # A superuser's break-glass access in force: the red banner on every page.
        "break_glass": active_break_glass(getattr(request, "user", None)),
    }
