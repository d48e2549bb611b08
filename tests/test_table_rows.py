"""The clinic's tables render their rows in Python (clinic.ui.table_rows_html), once per column
what django-tables2 works out per cell: the cells must read exactly as the library's."""

import re

import django_tables2 as tables
import pytest
from django.template import Context
from django.template.base import render_value_in_context
from django.test import RequestFactory, override_settings
from django.utils import timezone
from django.utils.html import conditional_escape, format_html
from django_tables2.paginators import LazyPaginator

from clinic.models import AuditEvent, Patient
from clinic.tables import AuditEventTable
from clinic.ui import table_rows_html
from scheduling.selectors import appointment_list_rows
from scheduling.tables import AppointmentTable
from tests.factories import AppointmentFactory, PatientFactory

pytestmark = pytest.mark.django_db


class SampleTable(tables.Table):
    """One column of each kind the fast path handles."""

    mrn = tables.Column(linkify=True)
    last_name = tables.Column(linkify=lambda record: f"/people/{record.pk}/?a=1&b=2")
    email = tables.Column()  # empty: the table's default
    phone = tables.Column(default="no phone")
    sex = tables.Column()  # a field with choices: its label
    language = tables.Column(accessor="get_preferred_language_display", orderable=False)
    first_name = tables.Column()
    merged_into = tables.Column(accessor="merged_into__mrn", default="not merged")
    greeting = tables.TemplateColumn(
        "<b>{{ record.first_name }}</b> #{{ row_counter }} {{ value }}",
        accessor="first_name",
    )
    born = tables.DateColumn(accessor="date_of_birth", format="Y-m-d")
    consent = tables.BooleanColumn(accessor="email_consent")

    class Meta:
        model = Patient
        fields = ["mrn", "last_name", "email", "phone", "sex", "first_name"]

    def render_first_name(self, value, record, bound_row):
        return format_html("<i>{}</i> ({}, row {})", value, record.mrn, bound_row.row_counter)


def library_rows(table, context):
    """The rows as the template rendered them cell by cell, with the library's BoundRow."""
    return "".join(
        "<tr>"
        + "".join(f"<td>{render_value_in_context(cell, context)}</td>" for cell in row)
        + "</tr>\n"
        for row in table.paginated_rows
    )


def both_ways(table_class, data):
    request = RequestFactory().get("/")
    ours, theirs = table_class(data, request=request), table_class(data, request=request)
    ours.context = theirs.context = Context({"request": request})
    return table_rows_html(ours, ours.context), library_rows(theirs, theirs.context)


def test_it_renders_every_kind_of_column_as_the_library_does():
    merged = PatientFactory(mrn="P-OLD")
    PatientFactory(
        first_name="<script>alert(1)</script>",
        last_name="O'Brien & <Sons>",
        email="",
        phone="",
        sex=Patient.Sex.FEMALE,
        merged_into=merged,
        merged_at=timezone.now(),
        email_consent=True,
    )
    PatientFactory(first_name="Ann", email="ann@example.org", phone="+45 1234")
    ours, theirs = both_ways(SampleTable, Patient.objects.select_related("merged_into"))
    assert ours == theirs


def test_it_shows_a_label_by_the_model_s_own_display_method_when_it_has_one(monkeypatch):
    """Django's get_FOO_display() labels are read once per column; a model that writes its
    own method keeps it."""
    PatientFactory(sex=Patient.Sex.FEMALE)
    PatientFactory(sex=Patient.Sex.MALE)
    ours, theirs = both_ways(SampleTable, Patient.objects.all())
    assert ours == theirs and ">Female<" in ours
    monkeypatch.setattr(Patient, "get_sex_display", lambda self: f"({self.sex})", raising=False)
    ours, theirs = both_ways(SampleTable, Patient.objects.all())
    assert ours == theirs and ">(female)<" in ours


class LookupTable(tables.Table):
    """Accessors through dicts, callables, missing keys, and a method that alters data."""

    name = tables.Column()
    city = tables.Column(accessor="info__city")
    shout = tables.Column(accessor="name__upper")
    missing = tables.Column(accessor="info__nope", default="none")
    first = tables.Column(accessor="tags__0")


def test_it_looks_up_dicts_lists_and_callables_as_the_library_does():
    rows = [
        {"name": "<b>Ann</b>", "info": {"city": "Århus"}, "tags": ["a", "b"]},
        {"name": "", "info": None, "tags": []},
        {"name": "Bo", "info": {"city": ""}, "tags": ["<i>"]},
    ]
    ours, theirs = both_ways(LookupTable, rows)
    assert ours == theirs
    assert "<td>&lt;B&gt;ANN&lt;/B&gt;</td>" in ours and "<td>&lt;i&gt;</td>" in ours


class RefusingTable(tables.Table):
    mrn = tables.Column()
    saved = tables.Column(accessor="save")  # alters data: the library refuses to call it
    full = tables.Column(accessor="full_name")


def test_it_never_calls_a_method_that_alters_data():
    patient = PatientFactory(first_name="Ann", last_name="Berg")
    ours, theirs = both_ways(RefusingTable, Patient.objects.all())
    assert ours == theirs == f"<tr><td>{patient.mrn}</td><td>—</td><td>Ann Berg</td></tr>\n"


def test_it_escapes_what_patients_and_staff_typed():
    PatientFactory(first_name="<script>alert(1)</script>", last_name="<img src=x>")
    ours, _ = both_ways(SampleTable, Patient.objects.all())
    assert "<script>" not in ours and "<img" not in ours
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in ours
    assert "&lt;img src=x&gt;" in ours


def test_it_links_cells_and_shows_defaults_labels_and_render_methods():
    patient = PatientFactory(
        mrn="P-0042", first_name="Ann", email="", phone="", sex=Patient.Sex.FEMALE
    )
    ours, _ = both_ways(SampleTable, Patient.objects.all())
    assert f'<td><a href="{patient.get_absolute_url()}">P-0042</a></td>' in ours
    assert f'<a href="/people/{patient.pk}/?a=1&amp;b=2">' in ours  # the link's & escaped
    assert "<td>—</td>" in ours  # no email: the table's default
    assert "<td>no phone</td>" in ours  # the column's own default
    assert f"<td>{Patient.Sex.FEMALE.label}</td>" in ours  # a choice by its label
    assert "<td><i>Ann</i> (P-0042, row 0)</td>" in ours  # render_first_name
    assert "<td><b>Ann</b> #0 Ann</td>" in ours  # the template column
    assert "<td>not merged</td>" in ours  # a relation that is not there


def test_it_renders_the_appointment_and_audit_tables_as_the_library_does(calendar, patient):
    AppointmentFactory(calendar=calendar, patient=patient)
    AuditEvent.objects.create(action=AuditEvent.Action.VIEW, detail="<b>read</b>")
    AuditEvent.objects.create(
        action=AuditEvent.Action.EXPORT, patient=patient, detail="list", ip_address="::1"
    )
    ours, theirs = both_ways(AppointmentTable, appointment_list_rows())
    assert ours == theirs and ours.count("<tr>") == 1
    assert "<td>—</td>" not in ours  # every column of an appointment has its value
    ours, theirs = both_ways(AuditEventTable, AuditEvent.objects.all())
    assert ours == theirs and ours.count("<tr>") == 2
    assert "(system)" in ours and "&lt;b&gt;read&lt;/b&gt;" in ours


def test_it_renders_no_rows_for_an_empty_table_and_the_page_says_so(client, front_desk):
    assert both_ways(SampleTable, Patient.objects.none()) == ("", "")
    client.force_login(front_desk)
    content = client.get("/appointments/", {"date_from": "2000-01-01"}).content.decode()
    assert "No appointments on these days." in content


def test_it_writes_every_kind_of_value_as_a_template_would():
    """clinic.widgets.shown and escaped, the short ways for a plain str, write what
    `{{ value }}` and conditional_escape write, for plain and safe text and everything else."""
    from django.utils.safestring import mark_safe
    from django.utils.translation import gettext_lazy

    from clinic.widgets import escaped, shown

    context = Context({})
    values = [
        "",
        "plain",
        '<b>O\'Brien & "Sons"</b>',
        "Århus ✓",
        mark_safe("<i>safe</i>"),
        gettext_lazy("Patients"),
        0,
        42,
        -7,
        1234567,
        3.5,
        None,
        True,
        timezone.now(),
        timezone.localdate(),
        ["<a>", 1],
    ]
    for value in values:
        assert shown(value) == render_value_in_context(value, context), value
        assert escaped(value) == conditional_escape(value), value
    with override_settings(USE_THOUSAND_SEPARATOR=True):
        assert shown(1234567) == render_value_in_context(1234567, context) == "1,234,567"


def test_it_writes_values_as_a_context_that_turned_autoescaping_off_would():
    """clinic.widgets.writer leaves a context with its own rules to Django's own way."""
    from clinic.widgets import shown, writer

    assert writer(Context({})) is shown
    plain = Context({}, autoescape=False)
    assert writer(plain)("<b>") == "<b>" == render_value_in_context("<b>", plain)


class NumberTable(tables.Table):
    """Enough rows for every shape of pagination; sortable and unsortable columns, header
    attributes (a column's th, the table's thead)."""

    n = tables.Column(attrs={"th": {"class": "num", "data-x": "<&>"}})
    name = tables.Column(orderable=False, verbose_name="Name & <kind>")
    label = tables.Column(verbose_name=format_html("<em>{}</em>", "Label"))

    class Meta:
        attrs = {"class": "table", "thead": {"class": "head"}}


def head_and_pages(html: str) -> tuple[str, str]:
    """The thead and the pagination nav, whitespace runs made one space (HTML reads them so)."""

    def part(pattern):
        found = re.search(pattern, html, re.S)
        return re.sub(r"\s+", " ", found.group(0)).replace("> <", "><") if found else ""

    return part(r"<thead.*?</thead>"), part(r"<nav.*?</nav>")


def rendered_both_ways(query: str, make_table, per_page, paginator_class=None):
    request = RequestFactory().get("/list/" + query)
    html = {}
    for template in ("django_tables2/bootstrap5-responsive.html", "clinic/table.html"):
        table = make_table()
        table.template_name = template
        paginate = {"per_page": per_page}
        if paginator_class:
            paginate["paginator_class"] = paginator_class
        tables.RequestConfig(request, paginate=paginate).configure(table)
        html[template] = table.as_html(request)
    return [head_and_pages(h) for h in html.values()]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?page=2",
        "?page=15&sort=-n",
        "?page=29&sort=label&q=%C3%98+%26+%3Ca%3E&q=second",
        "?page=30&sort=n",
        "?page=999",
    ],
)
@pytest.mark.parametrize("paginator_class", [None, LazyPaginator])
def test_it_writes_the_head_and_pagination_as_the_library_does(query, paginator_class):
    rows = [{"n": n, "name": f"Row {n}", "label": f"L{n % 7}"} for n in range(300)]
    theirs, ours = rendered_both_ways(query, lambda: NumberTable(rows), 10, paginator_class)
    assert ours == theirs
    assert ours[0] and ours[1]  # both parts are there to compare


def test_it_writes_no_pagination_for_one_page_and_no_head_when_hidden():
    rows = [{"n": n, "name": "x", "label": "y"} for n in range(3)]
    theirs, ours = rendered_both_ways("?sort=n", lambda: NumberTable(rows), 10)
    assert ours == theirs and ours[1] == ""
    theirs, ours = rendered_both_ways("", lambda: NumberTable(rows * 10, show_header=False), 10)
    assert ours == theirs and ours[0] == ""


def test_it_writes_prefixed_sort_and_page_fields_as_the_library_does():
    rows = [{"n": n, "name": "x", "label": "y"} for n in range(50)]
    theirs, ours = rendered_both_ways(
        "?a-page=3&a-sort=-n&page=1", lambda: NumberTable(rows, prefix="a-"), 10
    )
    assert ours == theirs
    assert "a-sort=n" in ours[0] and "a-page=2" in ours[1]


def test_it_writes_each_status_badge_as_format_html_would():
    from scheduling.models import Appointment, Status
    from scheduling.templatetags.scheduling_booking import BADGE_CLASSES, status_badge

    for status in [*Status.values, "unknown<&>"]:
        appointment = Appointment(status=status)
        expected = format_html(
            '<span class="badge fs-6 {}">{}</span>',
            BADGE_CLASSES.get(status, "text-bg-light"),
            appointment.get_status_display(),
        )
        assert status_badge(appointment) == expected, status


def test_it_compiles_a_template_column_once_and_renders_each_row_with_its_own_record():
    from clinic.ui import _compiled_template

    class GreetingTable(tables.Table):
        greeting = tables.TemplateColumn(
            "<b>{{ record.name }}</b> #{{ row_counter }}", accessor="name"
        )

    rows = [{"name": "Ann"}, {"name": "<Bo>"}, {"name": "Cy"}]
    _compiled_template.cache_clear()
    ours, theirs = both_ways(GreetingTable, rows)
    assert ours == theirs
    assert "<td><b>&lt;Bo&gt;</b> #1</td>" in ours
    assert _compiled_template.cache_info().misses == 1  # one column, one template
