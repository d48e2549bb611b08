"""`{% answer_choices field %}`: a survey question's answers, written in Python.

A survey has a hundred and more answer buttons (pain 0 to 10 three times, ten ODI sections,
the red flags); written by a template loop, their five values each were most of the page's
time. This writes what the loop in followup/public/survey.html wrote, byte for byte."""

from django import template
from django.template.base import render_value_in_context
from django.utils.safestring import mark_safe

from clinic.widgets import shown

register = template.Library()

ANSWER = (
    '\n        <input type="radio" class="btn-check" name="{name}" id="{id}" value="{value}"'
    '{checked} autocomplete="off">\n'
    '        <label class="btn btn-outline-primary" for="{id}">{label}</label>\n        '
)


@register.simple_tag(takes_context=True)
def answer_choices(context, field):
    """Each choice of the radio `field`: its input and its label."""
    if context.autoescape and context.use_tz is None and context.use_l10n is None:
        write = shown
    else:

        def write(value):
            return render_value_in_context(value, context)

    name = write(field.html_name)
    return mark_safe(
        "".join(
            ANSWER.format(
                name=name,
                id=write(choice.id_for_label),
                value=write(choice.data["value"]),
                checked=" checked" if choice.data["selected"] else "",
                label=write(choice.choice_label),
            )
            for choice in field
        )
    )
