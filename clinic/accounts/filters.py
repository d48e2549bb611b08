import django_filters
from django.contrib.auth import get_user_model

from clinic.accounts.selectors import staff_search
from clinic.roles import Role, group_name
from clinic.ui import FilterForm

User = get_user_model()


class StaffFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label="Name, username or email", method="filter_query")
    role = django_filters.ChoiceFilter(choices=Role.choices, method="filter_role")
    is_active = django_filters.BooleanFilter(label="Active")

    class Meta:
        model = User
        form = FilterForm
        fields = ["q", "role", "is_active"]

    def filter_query(self, queryset, name, value):
        return staff_search(queryset, value)

    def filter_role(self, queryset, name, value):
        return queryset.filter(groups__name=group_name(value))
