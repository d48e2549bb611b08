"""`{% survey_questions fields %}` and `{% answer_choices field %}`: a survey part's
questions and a question's answers, written in Python.

A survey has thirty questions and a hundred and more answer buttons (pain 0 to 10 three
times, ten ODI sections, the red flags); written by template loops, their values were most
of the patient's page's time. These write what the loops in followup/public/survey.html
wrote, byte for byte (tests/test_survey_pages.py compares them)."""

from django import template
from django.utils.safestring import mark_safe
from django.utils.translation import gettext

from clinic.widgets import escaped, writer

register = template.Library()

ANSWER = (
    '\n        <input type="radio" class="btn-check" name="{name}" id="{id}" value="{value}"'
    '{checked} autocomplete="off">\n'
    '        <label class="btn btn-outline-primary" for="{id}">{label}</label>\n        '
)


QUESTION = (
    '\n    <fieldset class="question mb-4" id="q-{name}"{described}>\n'
    '      <legend class="mb-2">{label}{optional}</legend>\n'
    "      {hint}\n"
    "      {error}\n"
    '      <div class="answer-{layout}">\n'
    "        {answers}\n"
    "      </div>\n"
    "    </fieldset>\n    "
)


@register.simple_tag(takes_context=True)
def survey_questions(context, fields):
    """Each question (a bound radio field) of a survey part: its legend, hint, error and
    answers, in a fieldset that names the hint and error for screen readers."""
    write = writer(context)
    questions = []
    for field in fields:
        name = write(field.html_name)
        hint, errors = field.help_text, field.errors
        described = ""
        if hint or errors:
            described = (
                f' aria-describedby="{f"hint-{name}" if hint else ""}'
                f'{f" error-{name}" if errors else ""}"'
            )
        optional = ""
        if not field.field.required and not getattr(field.field, "in_score", None):
            optional = f' <span class="fw-normal">({write(gettext("optional"))})</span>'
        questions.append(
            QUESTION.format(
                name=name,
                described=described,
                label=write(field.label),
                optional=optional,
                hint=(
                    f'<p class="form-text mt-0" id="hint-{name}">{write(hint)}</p>' if hint else ""
                ),
                error=(
                    f'<p class="question-error" id="error-{name}">{write(gettext("Error:"))} '
                    f"{' '.join(escaped(error) for error in errors)}</p>"
                    if errors
                    else ""
                ),
                layout=write(getattr(field.field, "layout", "")),
                answers=answer_choices(context, field),
            )
        )
    return mark_safe("".join(questions))


@register.simple_tag(takes_context=True)
def answer_choices(context, field):
    """Each choice of the radio `field`: its input and its label."""
    write = writer(context)
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
