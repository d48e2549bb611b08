"""Shared UI infrastructure of every app's pages: form styling, widgets, filter forms, tables.

Pages, forms, filters and tables import from here; services and selectors never do.
"""

import functools

import django_tables2.utils
from django import forms
from django.contrib import messages
from django.shortcuts import render
from django_tables2 import RequestConfig
from django_tables2.export import TableExport
from django_tables2.paginators import LazyPaginator

from clinic.audit import audit_record
from clinic.models import AuditEvent

PAGE_SIZE = 25
EXPORT_FORMATS = ("csv",)

# django-tables2 reads the signature of a column's render/value function (inspect.signature)
# for every cell, to pass it only the arguments it names: a third of a list page's time.
# The signature of a function does not change, so it is read once per function.
_tables2_signature = django_tables2.utils.signature


@functools.lru_cache(maxsize=1024)
def _signature_of(function, bound: bool):
    args, keywords = _tables2_signature(function)
    return (args[1:] if bound else args), keywords  # a bound method's `self` is given


def _cached_signature(fn):
    function = getattr(fn, "__func__", None)  # a bound method: a new object each time
    try:
        return _signature_of(function, True) if function else _signature_of(fn, False)
    except TypeError:  # not hashable
        return _tables2_signature(fn)


django_tables2.utils.signature = _cached_signature


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class StyledFormMixin:
    """Bootstrap classes on every widget, so templates can render fields plainly."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, (forms.CheckboxSelectMultiple, forms.CheckboxInput)):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, forms.Select):
                widget.attrs.setdefault("class", "form-select")
            else:
                widget.attrs.setdefault("class", "form-control")


class FilterForm(StyledFormMixin, forms.Form):
    """The form class of every list filter (django-filter's `Meta.form`)."""


def render_table(
    request,
    *,
    table,
    filterset,
    template,
    export_name,
    export_audit="",
    context=None,
    uncounted=False,
):
    """Paginate and sort a table, or export it as CSV with ?_export=csv.

    Every export handed out is audited (who took which list out), named by `export_audit`
    or else by `export_name`; a refused export records nothing. An `uncounted` list pages
    on without counting its rows (a list of tens of thousands, where the count would cost
    more than the page): it offers the next page, not the number of pages.
    """
    paginate = {"per_page": PAGE_SIZE}
    if uncounted:
        paginate["paginator_class"] = LazyPaginator
    RequestConfig(request, paginate=paginate).configure(table)
    export_format = request.GET.get("_export")
    if filterset is not None and filterset.is_bound and not filterset.is_valid():
        # django-filter skips a filter it cannot read: exporting now would hand out
        # more rows than the user asked for.
        if export_format:
            messages.error(request, "Nothing was exported: correct the filters marked below.")
        export_format = None
    if export_format and export_format not in EXPORT_FORMATS:
        # Only CSV is offered; tablib would fail on the others (xlsx without openpyxl).
        messages.error(request, "Nothing was exported: the lists export as CSV only.")
        export_format = None
    if TableExport.is_valid_format(export_format):
        detail = export_audit or export_name
        audit_record(request=request, action=AuditEvent.Action.EXPORT, detail=detail)
        exporter = TableExport(export_format, table, exclude_columns=())
        return exporter.response(f"{export_name}.{export_format}")
    return render(request, template, {"table": table, "filter": filterset, **(context or {})})
