"""Widgets of staff forms written in Python, and their choices read in one query.

Django renders every widget through its template engine: a <select> includes
select_option.html and attrs.html for each of its options, some eighty template includes
for the filter form above a list, a fifth of the page. `PythonWidgetRenderer` writes the
HTML of Django's own templates for the usual widgets (django/forms/widgets/*.html, byte
for byte, which the tests compare) from the same widget context; any other template, such
as a widget's own, still renders through Django.
"""

import html

import django_filters.fields
from django.conf import settings
from django.forms.models import ModelChoiceIterator
from django.forms.renderers import BaseRenderer, get_default_renderer
from django.template.base import render_value_in_context
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData, SafeString
from django.utils.timezone import template_localtime

SELECT_OPTION = "django/forms/widgets/select_option.html"


def escaped(value) -> str:
    """conditional_escape(value), a plain str the short way: html.escape is all Django's
    escape() does with one, after checks for lazy text that cost more than the escaping
    (every cell and option of a page goes through here)."""
    if type(value) is str:
        return html.escape(value)
    return conditional_escape(value)


def shown(value) -> str:
    """`{{ value }}` in a template (autoescape on): localized, then escaped unless marked
    safe, as django.template.base.render_value_in_context writes it."""
    if type(value) is str:
        return html.escape(value)
    if type(value) is SafeString:
        return value  # localize() and conditional_escape() give it back as it is
    if type(value) is int and not settings.USE_THOUSAND_SEPARATOR:
        return str(value)  # what localize() makes of an int when it groups no digits
    value = localize(template_localtime(value))
    return conditional_escape(value if isinstance(value, str) else str(value))


def writer(context):
    """How `context` writes `{{ value }}`: shown, unless the template turned autoescaping off
    or set its own time zone or localization, which Django's own way then honours."""
    if context.autoescape and context.use_tz is None and context.use_l10n is None:
        return shown

    def write(value):
        return render_value_in_context(value, context)

    return write


def _formatted(value) -> str:
    """`{{ value|stringformat:'s' }}` in a template."""
    text = "%s" % (str(value) if isinstance(value, tuple) else value)
    return text if isinstance(value, SafeData) else html.escape(text)


def _attrs(attrs) -> str:
    """django/forms/widgets/attrs.html: a True attribute is written bare, a False one not."""
    return "".join(
        f" {shown(name)}" if value is True else f' {shown(name)}="{_formatted(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


def _input(widget) -> str:
    """django/forms/widgets/input.html (text, date, checkbox, hidden and the like)."""
    value = "" if widget["value"] is None else f' value="{_formatted(widget["value"])}"'
    return (
        f'<input type="{shown(widget["type"])}" name="{shown(widget["name"])}"'
        f"{value}{_attrs(widget['attrs'])}>"
    )


def _textarea(widget) -> str:
    value = shown(widget["value"]) if widget["value"] else ""
    attrs = _attrs(widget["attrs"])
    return f'<textarea name="{shown(widget["name"])}"{attrs}>\n{value}</textarea>'


def _select(widget) -> str | None:
    """django/forms/widgets/select.html, its options included one per line."""
    parts = [f'<select name="{shown(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, options, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{shown(group_name)}">')
        for option in options:
            if option["template_name"] != SELECT_OPTION:
                return None  # a widget with options of its own: its templates render them
            parts.append(
                f'\n  <option value="{_formatted(option["value"])}"{_attrs(option["attrs"])}>'
                f"{shown(option['label'])}</option>\n"
            )
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


WRITERS = {
    **{
        f"django/forms/widgets/{name}.html": _input
        for name in (
            "checkbox",
            "date",
            "datetime",
            "email",
            "hidden",
            "number",
            "password",
            "search",
            "tel",
            "text",
            "time",
            "url",
        )
    },
    "django/forms/widgets/select.html": _select,
    "django/forms/widgets/textarea.html": _textarea,
}


class PythonWidgetRenderer(BaseRenderer):
    """The project's form renderer, with the widgets of WRITERS written in Python."""

    def get_template(self, template_name):
        return get_default_renderer().get_template(template_name)

    def render(self, template_name, context, request=None):
        write = WRITERS.get(template_name)
        written = write(context["widget"]) if write else None
        return super().render(template_name, context, request) if written is None else written


RENDERER = PythonWidgetRenderer()


class FetchedChoices(ModelChoiceIterator):
    """A model choice field's options read from one query's whole answer.

    Django reads them with QuerySet.iterator(), on PostgreSQL a server-side cursor:
    DECLARE, FETCH and CLOSE round trips for a few dozen sites or procedures, 1 to 3 ms
    a select. The rows stay on the form's own queryset, for this request only."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset:
            yield self.choice(obj)


class FetchedFilterChoices(django_filters.fields.ModelChoiceIterator, FetchedChoices):
    """django-filter's choices (with its "null" choice), read as FetchedChoices."""


FETCHED = {
    ModelChoiceIterator: FetchedChoices,
    django_filters.fields.ModelChoiceIterator: FetchedFilterChoices,
}


def fetch_choices_at_once(field):
    """Gives a model choice field FetchedChoices, now and whenever its queryset is set."""
    fetched = FETCHED.get(getattr(field, "iterator", None))
    if fetched is None:
        return
    field.iterator = fetched
    choices = getattr(field.widget, "choices", None)
    if isinstance(choices, ModelChoiceIterator) and choices.field is field:
        field.widget.choices = field.choices
