import django_tables2 as tables
from django.contrib.auth import get_user_model

from clinic.roles import Role

User = get_user_model()
ROLE_LABELS = {Role(role).label for role in Role}


class StaffTable(tables.Table):
    username = tables.Column(linkify=("staff_edit", {"pk": tables.A("pk")}))
    name = tables.Column(accessor="get_full_name", order_by=("last_name", "first_name"))
    roles = tables.Column(empty_values=(), orderable=False)
    has_authenticator = tables.BooleanColumn(verbose_name="Two-factor")

    class Meta:
        model = User
        fields = ["username", "name", "email", "roles", "is_active", "has_authenticator"]
        order_by = ["username"]

    def render_roles(self, record):
        names = [group.name for group in record.groups.all() if group.name in ROLE_LABELS]
        if record.is_superuser:
            names.append("Superuser")
        return ", ".join(sorted(names)) or "—"

    def value_roles(self, record):
        return self.render_roles(record)
