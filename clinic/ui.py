"""Shared UI infrastructure of every app's pages: form styling, widgets, filter forms, tables.

Pages, forms, filters and tables import from here; services and selectors never do.
"""

import functools
import inspect
import re

import django_filters
import django_tables2.columns.templatecolumn
import django_tables2.utils
from django import forms
from django.contrib import messages
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver
from django.shortcuts import render
from django.template import Template
from django.utils.encoding import force_str
from django.utils.hashable import make_hashable
from django.utils.html import escape
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django_tables2 import RequestConfig
from django_tables2.columns.linkcolumn import BaseLinkColumn
from django_tables2.columns.manytomanycolumn import ManyToManyColumn
from django_tables2.data import TableQuerysetData
from django_tables2.export import TableExport
from django_tables2.paginators import LazyPaginator
from django_tables2.templatetags.django_tables2 import table_page_range
from tablib import Dataset

from clinic.audit import audit_patients_shown, audit_record
from clinic.models import AuditEvent
from clinic.widgets import RENDERER, escaped, fetch_choices_at_once, writer

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


# django-tables2's TemplateColumn compiles its template code anew for every cell it renders
# (a thousand calls a cell, half of a worklist page with a button per row); the code of a
# column does not change, so each is compiled once and the template rendered as before.
@functools.lru_cache(maxsize=256)
def _compiled_template(code: str) -> Template:
    return Template(code)


django_tables2.columns.templatecolumn.Template = _compiled_template


@receiver(setting_changed)
def _forget_compiled_templates(*, setting, **kwargs):
    # What Django rebuilds its template engines for (django.test.signals): a test's settings.
    if setting in {"TEMPLATES", "DEBUG", "INSTALLED_APPS"}:
        _compiled_template.cache_clear()


def _ordered_to_the_row(order_by):
    """django-tables2 sorts a queryset by the sorted column alone: rows that tie (one status,
    one patient) may come back in another order for each page, so a page repeats rows of the
    one before and leaves others out. The order is made to end on the id, in the direction of
    the sort's last key, unless it already ends on the primary key."""

    @functools.wraps(order_by)
    def order_by_then_id(self, aliases):
        order_by(self, aliases)
        ordering = list(self.data.query.order_by)
        if not ordering:
            return
        last = ordering[-1]
        if isinstance(last, str):
            if last.lstrip("-") in {"pk", self.data.model._meta.pk.attname}:
                return
            descending = last.startswith("-")
        else:
            descending = getattr(last, "descending", False)
        self.data = self.data.order_by(*ordering, "-pk" if descending else "pk")

    return order_by_then_id


TableQuerysetData.order_by = _ordered_to_the_row(TableQuerysetData.order_by)


def table_rows_html(table, context):
    """The `<tr>` rows of the table's page, each cell as django-tables2's BoundRow.get_cell
    renders it and `{{ cell }}` prints it, with what is the same for every cell of a column
    (accessor, render function, link, choices) worked out once per column, not per cell:
    per cell, the library's way is two thirds of a list page's time."""
    cells = [_ColumnCells(bound_column) for bound_column in table.columns]
    write = writer(context)
    rows = []
    for row in table.paginated_rows:
        tds = "".join(f"<td>{write(cell(row))}</td>" for cell in cells)
        rows.append(f"<tr>{tds}</tr>\n")
    return mark_safe("".join(rows))


def _query_with(request, key, value) -> str:
    """`{% querystring_replace key=value %}` of django-tables2: the page's query string with
    `key` set to `value`, escaped."""
    params = dict(request.GET)
    if key not in ("", None):
        params[key] = value
    return escape("?" + urlencode(params, doseq=True))


def table_head_html(table, context) -> str:
    """The `<thead>` of django-tables2's bootstrap5 template (block table.thead), written in
    Python: a header cell with its sort link per column, each a template lookup and a
    querystring tag the library's way."""
    if not table.show_header:
        return ""
    write = writer(context)
    request = context["request"]
    order_by_field = table.prefixed_order_by_field
    cells = []
    for column in table.columns:
        header = write(column.header)
        if column.orderable:
            href = _query_with(request, order_by_field, column.order_by_alias.next)
            header = f'<a href="{href}">{header}</a>'
        cells.append(f'<th {column.attrs["th"].as_html()} scope="col">\n{header}\n</th>\n')
    # The table's thead, tbody and tfoot attributes are AttributeDicts (Table.__init__).
    thead = table.attrs["thead"].as_html()
    return mark_safe(f"<thead {thead}>\n<tr>\n{''.join(cells)}</tr>\n</thead>")


def table_pagination_html(table, context) -> str:
    """The pagination of django-tables2's bootstrap5 template (block pagination), written in
    Python: a querystring tag per page link the library's way."""
    page = getattr(table, "page", None)  # set by paginate()
    if not page or not table.paginator.num_pages > 1:
        return ""
    request = context["request"]
    page_field = table.prefixed_page_field
    items = []
    if page.has_previous():
        href = _query_with(request, page_field, page.previous_page_number())
        items.append(
            f'<li class="previous page-item">\n<a href="{href}" class="page-link">\n'
            f'<span aria-hidden="true">&laquo;</span>\n{escape(gettext("previous"))}\n</a>\n</li>'
        )
    if page.has_previous() or page.has_next():
        for number in table_page_range(page, table.paginator):
            active = " active" if page.number == number else ""
            href = "" if number == "..." else f'href="{_query_with(request, page_field, number)}"'
            items.append(
                f'<li class="page-item{active}">\n<a class="page-link" {href}>\n'
                f"{escape(str(number))}\n</a>\n</li>"
            )
    if page.has_next():
        href = _query_with(request, page_field, page.next_page_number())
        items.append(
            f'<li class="next page-item">\n<a href="{href}" class="page-link">\n'
            f'{escape(gettext("next"))}\n<span aria-hidden="true">&raquo;</span>\n</a>\n</li>'
        )
    return mark_safe(
        '<nav aria-label="Table navigation">\n<ul class="pagination justify-content-center">\n'
        + "\n".join(items)
        + "\n</ul>\n</nav>"
    )


CELL_ARGUMENTS = ("value", "record", "column", "bound_column", "bound_row", "table")


class _ColumnCells:
    """Renders the cells of one column: BoundRow._get_and_render_with and _call_render,
    step for step, with the per-column parts looked up once."""

    def __init__(self, bound_column):
        self.bound_column = bound_column
        self.column = column = bound_column.column
        self.name = bound_column.name
        self.accessor = accessor = bound_column.accessor
        self.render = bound_column.render
        self.link = bound_column.link
        args, keywords = _cached_signature(self.render)
        self.render_arguments = None if keywords else args
        # The library's own way for what it treats specially, and for a render function
        # asking for an argument it does not know (the library then renders nothing).
        self.by_library = (
            isinstance(column, (BaseLinkColumn, ManyToManyColumn))
            or type(accessor) is not django_tables2.utils.Accessor
            or any(arg not in CELL_ARGUMENTS for arg in self.render_arguments or ())
        )
        if not self.by_library:
            path, _, self.last = accessor.rpartition(accessor.SEPARATOR)
            self.bits = tuple(accessor.bits)
            self.path = django_tables2.utils.Accessor(path)
            self.path_bits = tuple(self.path.bits)
        self.has_choices = {}  # by the record's class
        self.choice_labels = {}  # by the model and field name

    def __call__(self, row):
        if self.by_library:
            return row.get_cell(self.name)
        record = row.record
        value = None
        remainder = self.last
        # The library shows a model field with choices by its get_FOO_display().
        if self._has_choices(record):
            penultimate = _resolve(self.path, self.path_bits, record, quiet=True)
            if isinstance(penultimate, models.Model):
                labels = self._choice_labels(type(penultimate), remainder)
                if labels is not None:
                    field_value = getattr(penultimate, labels.attname)
                    value = force_str(
                        labels.get(make_hashable(field_value), field_value), strings_only=True
                    )
                    remainder = None
                else:
                    display = getattr(penultimate, f"get_{remainder}_display", None)
                    if display:
                        value = display()
                        remainder = None
        if remainder:
            # A failing lookup shows as an empty cell, as in the library.
            value = _resolve(self.accessor, self.bits, record, quiet=True)
        if value in self.column.empty_values:
            return self.bound_column.default
        given = {
            "value": value,
            "record": record,
            "column": self.column,
            "bound_column": self.bound_column,
            "bound_row": row,
            "table": row.table,
        }
        if self.render_arguments is None:
            content = self.render(**given)
        else:
            content = self.render(**{arg: given[arg] for arg in self.render_arguments})
        link = self.link
        if link is None:
            return content
        if link.attrs:
            return link(content, **given)
        href = link.compose_url(**given)
        if href is None:
            return content
        return mark_safe(f'<a href="{escaped(href)}">{escaped(content)}</a>')  # as format_html

    def _choice_labels(self, model, name):
        """The labels Django's own get_FOO_display() looks up, built once per column: it
        builds them anew on every call. None when the model defines its own method."""
        key = (model, name)
        if key not in self.choice_labels:
            method = inspect.getattr_static(model, f"get_{name}_display", None)
            labels = None
            if isinstance(method, functools.partialmethod) and (
                method.func is models.Model._get_FIELD_display
            ):
                field = method.keywords["field"]
                labels = _ChoiceLabels(make_hashable(field.flatchoices))
                labels.attname = field.attname
            self.choice_labels[key] = labels
        return self.choice_labels[key]

    def _has_choices(self, record):
        kind = type(record)
        if kind not in self.has_choices:
            field = self.accessor.get_field(record)
            self.has_choices[kind] = bool(getattr(field, "choices", ()))
        return self.has_choices[kind]


class _ChoiceLabels(dict):
    attname = ""


def _resolve(accessor, bits, context, quiet=False):
    """Accessor.resolve, without first trying `obj[bit]` on an object that has no items (a
    model instance): that try raises and catches a TypeError for every part of every cell."""
    if isinstance(context, dict):
        return accessor.resolve(context, quiet=quiet)
    try:
        current = context
        for bit in bits:
            if hasattr(type(current), "__getitem__"):
                return accessor.resolve(context, quiet=quiet)
            try:
                current = getattr(current, bit)
            except (TypeError, AttributeError):
                return accessor.resolve(context, quiet=quiet)  # raises the library's error
            if callable(current):
                if getattr(current, "alters_data", False):
                    raise ValueError(accessor.ALTERS_DATA_ERROR_FMT.format(method=current.__name__))
                if not getattr(current, "do_not_call_in_templates", False):
                    current = current(*accessor.callable_args, **accessor.callable_kwargs)
            if current is None:
                break
        return current
    except Exception:
        if not quiet:
            raise


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class StyledFormMixin:
    """Bootstrap classes on every widget, so templates can render fields plainly; the
    widgets written in Python and their model choices read at once (clinic.widgets)."""

    default_renderer = RENDERER

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            fetch_choices_at_once(field)
            widget = field.widget
            if isinstance(widget, (forms.CheckboxSelectMultiple, forms.CheckboxInput)):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, forms.Select):
                widget.attrs.setdefault("class", "form-select")
            else:
                widget.attrs.setdefault("class", "form-control")


class FieldGroup:
    """Some of a form's fields, for form_fields.html to render as one section of a page.
    The form's own errors and hidden fields go with the group that says `main`."""

    def __init__(self, form, names, *, main=False):
        self.form, self.names, self.main = form, [n for n in names if n in form.fields], main

    def visible_fields(self):
        return [self.form[name] for name in self.names if not self.form[name].is_hidden]

    def hidden_fields(self):
        return self.form.hidden_fields() if self.main else []

    def non_field_errors(self):
        return self.form.non_field_errors() if self.main else ""


# A cell a spreadsheet would run as a formula (OWASP "CSV Injection"); a plain number
# such as "-3" is data, not a formula, and stays a number.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")


def neutralise_formula(value):
    """Prefixes a text cell that a spreadsheet would evaluate with a quote, so it shows as text."""
    formula = isinstance(value, str) and value.startswith(FORMULA_STARTS)
    if formula and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


class SpreadsheetSafeExport(TableExport):
    """django-tables2's export with every cell and heading passed through neutralise_formula:
    names, messages and notes come from patients and staff and reach a spreadsheet."""

    def table_to_dataset(self, table, exclude_columns, dataset_kwargs=None):
        dataset = super().table_to_dataset(table, exclude_columns, dataset_kwargs)
        safe = Dataset(title=dataset.title)
        safe.headers = [neutralise_formula(heading) for heading in dataset.headers or []]
        for row in dataset:
            safe.append([neutralise_formula(cell) for cell in row])
        return safe


DJANGO_BLANK_LABEL = "---------"


class FilterForm(StyledFormMixin, forms.Form):
    """The form class of every list filter (django-filter's `Meta.form`).

    A filter left empty filters nothing, so its blank choice says "Any", never Django's
    "---------" (a filter naming its own, such as "All procedures", keeps it)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if getattr(field, "empty_label", None) == DJANGO_BLANK_LABEL:
                field.empty_label = "Any"
            if isinstance(field.widget, forms.NullBooleanSelect):
                field.widget.choices = [
                    (value, "Any" if value == "unknown" else label)
                    for value, label in field.widget.choices
                ]


def render_table(
    request,
    *,
    table,
    filterset,
    template,
    export_name,
    export_audit="",
    audit_reads="",
    context=None,
    uncounted=False,
):
    """Paginate and sort a table, or export it as CSV with ?_export=csv.

    Every export handed out is audited (who took which list out, with its filter and row
    count), named by `export_audit` or else by `export_name`; a refused export records
    nothing. A list of clinical data names itself in `audit_reads`: each patient on the page
    shown is then audited as read (clinic.audit.audit_patients_shown). An `uncounted` list
    pages on without counting its rows (a list of tens of thousands, where the count would
    cost more than the page): it offers the next page, not the number of pages.
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
        exporter = SpreadsheetSafeExport(export_format, table, exclude_columns=())
        query = request.GET.copy()
        query.pop("_export", None)
        count = len(exporter.dataset)
        detail = f"{export_audit or export_name}: {count} row{'' if count == 1 else 's'}"
        detail += f"; filter {_filter_text(filterset, query)}" if query else "; no filter"
        audit_record(request=request, action=AuditEvent.Action.EXPORT, detail=detail)
        return exporter.response(f"{export_name}.{export_format}")
    if audit_reads:
        shown = [row.record for row in table.page.object_list] if table.page else []
        audit_patients_shown(request=request, records=shown, detail=audit_reads)
    return render(request, template, {"table": table, "filter": filterset, **(context or {})})


def _filter_text(filterset, query) -> str:
    """The export's filter for the audit trail, with what was typed into a text search
    left out: it is often a patient's name, and audit rows can never be scrubbed of it."""
    filters = filterset.filters if filterset is not None else {}
    typed = query.copy()
    for name in typed:
        if isinstance(filters.get(name), django_filters.CharFilter):
            typed.setlist(name, ["…"])
    return typed.urlencode(safe="…")
