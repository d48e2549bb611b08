"""Staff forms' widgets written in Python (clinic.widgets): the HTML of Django's templates."""

import datetime

import django_filters
import pytest
from django import forms
from django.forms.models import ModelChoiceIterator
from django.forms.renderers import get_default_renderer
from django.utils.safestring import mark_safe

from clinic.models import Site
from clinic.ui import DateInput, FilterForm, StyledFormMixin
from clinic.widgets import RENDERER, FetchedChoices, fetch_choices_at_once
from scheduling.filters import AppointmentFilter
from scheduling.models import Appointment
from tests.factories import SiteFactory

SCRIPT = "<script>alert('x')</script>"
ATTRS = {"id": "id_f", "class": "form-select", "required": True, "disabled": False}
CHOICES = [("", "Any"), ("a", "Alpha"), (3, "Three"), ("s", SCRIPT), ("q", 'Say "hi" & go')]


def both(widget, value, attrs=ATTRS):
    """The widget's HTML from Django's templates, and from clinic.widgets."""
    stock = widget.render("f", value, attrs, renderer=get_default_renderer())
    return stock, widget.render("f", value, attrs, renderer=RENDERER)


WIDGETS = [
    (forms.TextInput(), SCRIPT),
    (forms.TextInput(), None),
    (forms.TextInput(), ""),
    (forms.TextInput(attrs={"aria-invalid": "true", "aria-describedby": "id_f_error"}), "x"),
    (forms.NumberInput(attrs={"min": 1, "step": "any"}), 12),
    (forms.EmailInput(), "a@b.dk"),
    (forms.URLInput(), "https://x.dk/?a=1&b=2"),
    (forms.PasswordInput(render_value=True), 'p"w'),
    (forms.HiddenInput(), "7"),
    (forms.CheckboxInput(), True),
    (forms.CheckboxInput(), False),
    (forms.CheckboxInput(), "on"),
    (DateInput(), datetime.date(2026, 11, 23)),
    (DateInput(), "2026-13-40"),
    (forms.TimeInput(), datetime.time(9, 30)),
    (forms.Textarea(attrs={"rows": 3}), SCRIPT + "\nsecond line"),
    (forms.Textarea(), None),
    (forms.Select(choices=CHOICES), "a"),
    (forms.Select(choices=CHOICES), None),
    (forms.Select(choices=CHOICES), 3),
    (forms.Select(choices=CHOICES), "s"),
    (forms.Select(choices=[("", "All"), ("Group <b>", [("1", "One"), ("2", "Two")])]), "2"),
    (forms.SelectMultiple(choices=CHOICES), ["a", "q"]),
    (forms.NullBooleanSelect(), None),
    (forms.NullBooleanSelect(), True),
    (forms.RadioSelect(choices=CHOICES), "a"),  # not written in Python: Django renders it
    (forms.CheckboxSelectMultiple(choices=CHOICES), ["a"]),
]


@pytest.mark.parametrize(("widget", "value"), WIDGETS)
def test_it_writes_each_widget_as_djangos_templates_do(widget, value):
    stock, fast = both(widget, value)
    assert fast == stock


def test_it_writes_the_attributes_and_selection_of_a_select():
    attrs = {**ATTRS, "aria-invalid": "true"}
    stock, fast = both(forms.Select(choices=CHOICES), "a", attrs)
    assert fast == stock
    assert fast.startswith('<select name="f" id="id_f" class="form-select" required ')
    assert 'aria-invalid="true"' in fast and "disabled" not in fast
    assert '<option value="a" selected>Alpha</option>' in fast
    assert '<option value="" selected>' not in fast


def test_it_escapes_an_option_label_and_a_value():
    stock, fast = both(forms.Select(choices=CHOICES), 'x"><script>')
    assert fast == stock
    assert "<script>" not in fast
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in fast
    assert "Say &quot;hi&quot; &amp; go" in fast


def test_it_leaves_html_marked_safe_as_django_does():
    widget = forms.Select(choices=[("a", mark_safe("<b>Alpha</b>"))])
    stock, fast = both(widget, "a")
    assert fast == stock and "<b>Alpha</b>" in fast


def test_it_renders_the_options_of_a_widget_of_its_own_through_django():
    class StarredSelect(forms.Select):
        option_template_name = "django/forms/widgets/input_option.html"

    stock, fast = both(StarredSelect(choices=CHOICES), "a")
    assert fast == stock


def test_it_gives_styled_forms_the_python_renderer():
    class Form(StyledFormMixin, forms.Form):
        name = forms.CharField()

    assert Form().renderer is RENDERER
    assert Form()["name"].as_widget() == (
        '<input type="text" name="name" class="form-control" required id="id_name">'
    )


@pytest.mark.django_db
def test_it_lists_a_models_choices_as_django_does_in_one_query(django_assert_num_queries):
    SiteFactory(name="North")
    SiteFactory(name=SCRIPT)
    stock = forms.ModelChoiceField(queryset=Site.objects.order_by("name"), empty_label="All")
    fetched = forms.ModelChoiceField(queryset=Site.objects.order_by("name"), empty_label="All")
    fetch_choices_at_once(fetched)
    assert isinstance(fetched.widget.choices, FetchedChoices)
    with django_assert_num_queries(1):  # read once, then from the form's own queryset
        html = fetched.widget.render("site", None, renderer=RENDERER)
        assert fetched.widget.render("site", None, renderer=RENDERER) == html
        fetched_choices = list(fetched.widget.choices)
    assert fetched_choices == list(stock.widget.choices)
    assert html == stock.widget.render("site", None, renderer=get_default_renderer())
    assert "&lt;script&gt;" in html and "<script>" not in html


@pytest.mark.django_db
def test_it_keeps_fetching_at_once_when_a_form_sets_a_fields_queryset():
    field = forms.ModelChoiceField(queryset=Site.objects.none())
    fetch_choices_at_once(field)
    field.queryset = Site.objects.all()
    assert isinstance(field.widget.choices, FetchedChoices)
    assert field.widget.choices.queryset.model is Site


@pytest.mark.django_db
def test_it_keeps_django_filters_null_choice():
    class SiteFilter(django_filters.FilterSet):
        site = django_filters.ModelChoiceFilter(
            queryset=Site.objects.all(), null_label="No site", empty_label="All sites"
        )

        class Meta:
            form = FilterForm

    site = SiteFactory(name="North")
    field = SiteFilter(queryset=Site.objects.all()).form.fields["site"]
    assert isinstance(field.widget.choices, FetchedChoices)
    choices = list(field.widget.choices)
    assert [(str(value), label) for value, label in choices] == [
        ("", "All sites"),
        ("null", "No site"),
        (str(site.pk), "North"),
    ]


@pytest.mark.django_db
def test_it_leaves_a_fields_own_choices_alone():
    field = forms.ModelChoiceField(queryset=Site.objects.all())
    field.widget.choices = [("", "Search above")]
    fetch_choices_at_once(field)
    assert field.widget.choices == [("", "Search above")]
    assert not isinstance(field.widget.choices, ModelChoiceIterator)


@pytest.mark.django_db
def test_it_renders_the_appointment_filter_as_djangos_templates_do(calendar):
    north = SiteFactory(name="North <b>Clinic</b>")
    data = {"site": north.pk, "status": "booked", "date_from": "2026-11-23", "patient": SCRIPT}
    fast_form = AppointmentFilter(data, queryset=Appointment.objects.all()).form
    stock_form = AppointmentFilter(data, queryset=Appointment.objects.all()).form
    stock_form.renderer = get_default_renderer()
    for name in fast_form.fields:
        assert fast_form[name].as_widget() == stock_form[name].as_widget(), name
    site = fast_form["site"].as_widget()
    assert f'<option value="{north.pk}" selected>North &lt;b&gt;Clinic&lt;/b&gt;</option>' in site
    assert 'value="&lt;script&gt;' in fast_form["patient"].as_widget()
