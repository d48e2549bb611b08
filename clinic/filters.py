import django_filters

from clinic.models import ProcedureType
from clinic.selectors import patient_search
from clinic.ui import DateInput, FilterForm


class PatientFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label="Name or MRN", method="filter_query")
    date_of_birth = django_filters.DateFilter(label="Date of birth", widget=DateInput())

    class Meta:
        form = FilterForm

    def filter_query(self, queryset, name, value):
        return queryset & patient_search(query=value)


class ProcedureTypeFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = ProcedureType
        form = FilterForm
        fields = ["name", "category", "bleeding_risk", "active"]
