"""`{% followup_rows rows scores=... patient=... %}`: the follow-up table's rows, in Python.

A template's lookups and filters cost about forty function calls a cell; a row of this
table cost more than its share of the whole page, so its cells are formatted here.
"""

from django import template
from django.template.defaultfilters import floatformat, urlencode
from django.urls import reverse
from django.utils.html import format_html, format_html_join

register = template.Library()

DASH = "—"


def _plural(count: int) -> str:
    return "" if count == 1 else "s"


def _or_dash(value):
    return DASH if value is None else value


@register.simple_tag
def followup_rows(rows, *, scores, patient):
    """The `<tr>` of each FollowupRow (followup.selectors_patient); with `scores`, the
    response's scores and alerts too."""
    alerts = f"{reverse('alert_list')}?q={urlencode(patient.mrn)}&state="
    return format_html_join("", "{}", ((_row(row, scores, alerts),) for row in rows))


def _row(row, scores: bool, alerts: str):
    reminders = (
        format_html(
            " <small>({} reminder{})</small>", row.reminders_sent, _plural(row.reminders_sent)
        )
        if row.reminders_sent
        else ""
    )
    cells = format_html(
        "<td>{}<br><small>{}</small></td><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td>",
        row.survey,
        row.procedure,
        row.due,
        row.status,
        reminders,
        row.sent or DASH,
        row.opened or DASH,
        row.answered or DASH,
    )
    if scores:
        cells += _scores(row, alerts)
    return format_html("<tr>{}</tr>\n", cells)


def _scores(row, alerts: str):
    if not row.response_id:
        return format_html('<td colspan="5">{}</td>', DASH)
    if row.odi_percent is not None:
        disability = f"ODI {floatformat(row.odi_percent, 1)}"
    elif row.ndi_percent is not None:
        disability = f"NDI {floatformat(row.ndi_percent, 1)}"
    else:
        disability = DASH
    alert = (
        format_html(
            '<a class="badge text-bg-warning" href="{}">{} alert{}</a>',
            alerts,
            row.alert_count,
            _plural(row.alert_count),
        )
        if row.alert_count
        else DASH
    )
    return format_html(
        '<td><a href="{}">{}</a></td><td>{} / {}</td><td>{}</td><td>{}</td><td>{}</td>',
        reverse("response_detail", args=[row.response_id]),
        _or_dash(row.nrs_current),
        floatformat(row.percent_relief, 1) or DASH,
        _or_dash(row.patient_rated_relief),
        _or_dash(row.pgic),
        disability,
        alert,
    )


@register.simple_tag
def score_rows(points):
    """The `<tr>` of each scored survey (followup.selectors_story.Point)."""
    return format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
        (
            (
                point.day,
                point.survey,
                _or_dash(point.nrs_current),
                _or_dash(point.nrs_average),
                floatformat(point.odi, 1) or DASH,
                floatformat(point.ndi, 1) or DASH,
            )
            for point in points
        ),
    )


@register.simple_tag
def procedure_rows(procedures):
    """The `<tr>` of each procedure of the story (followup.selectors_story.Procedure)."""
    return format_html_join(
        "",
        '<tr><td>{}</td><td><a href="{}">{}</a></td><td>{}</td><td>{}</td></tr>\n',
        (
            (
                procedure.day,
                reverse("appointment_detail", args=[procedure.appointment_id]),
                procedure.name,
                procedure.side_and_level or DASH,
                _block(procedure.block),
            )
            for procedure in procedures
        ),
    )


def _block(block) -> str:
    if block is None:
        return DASH
    if block.peak_relief is None:
        return block.label
    return f"{block.label} ({floatformat(block.peak_relief, 0)}%)"
