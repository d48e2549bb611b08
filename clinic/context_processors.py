from django.conf import settings

from clinic.roles import roles_of


def clinic(request):
    return {
        "clinic_name": settings.CLINIC_NAME,
        "clinic_phone": settings.CLINIC_PHONE,
        "user_roles": roles_of(request.user) if hasattr(request, "user") else set(),
    }
